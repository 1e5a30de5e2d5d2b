#pragma once
// Normalisation layers that LibTorch lacks.
#include <torch/nn/cloneable.h>
#include <torch/nn/pimpl.h>

namespace attnzoo::modules {

/// timm LayerNorm2d: LayerNorm over the channels of an NCHW tensor (keys weight, bias; eps 1e-6).
class LayerNorm2dImpl : public torch::nn::Cloneable<LayerNorm2dImpl> {
 public:
  explicit LayerNorm2dImpl(int64_t channels, double eps = 1e-6) : channels_(channels), eps_(eps) { reset(); }
  void reset() override;
  at::Tensor forward(const at::Tensor& x);
  at::Tensor weight, bias;

 private:
  int64_t channels_;
  double eps_;
};
TORCH_MODULE(LayerNorm2d);

}  // namespace attnzoo::modules
