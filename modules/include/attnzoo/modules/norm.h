#pragma once
// Normalisation layers that LibTorch lacks.
#include <attnzoo/modules/options/layers.h>
#include <torch/arg.h>
#include <torch/nn/cloneable.h>
#include <torch/nn/pimpl.h>

namespace attnzoo::modules {

/// timm LayerNorm2d: LayerNorm over the channels of an NCHW tensor (keys weight, bias; eps 1e-6).
class LayerNorm2dImpl : public torch::nn::Cloneable<LayerNorm2dImpl> {
 public:
  explicit LayerNorm2dImpl(const LayerNorm2dOptions& options) : options(options) { reset(); }
  explicit LayerNorm2dImpl(int64_t channels) : LayerNorm2dImpl(LayerNorm2dOptions(channels)) {}
  void reset() override;
  void pretty_print(std::ostream& os) const override;
  at::Tensor forward(const at::Tensor& x);

  LayerNorm2dOptions options;
  at::Tensor weight, bias;
};
TORCH_MODULE(LayerNorm2d);

}  // namespace attnzoo::modules
