#pragma once
// Swin's patch merging (also DiNAT_s and Agent-Swin): the 2x2 neighbours of a channels-last map are
// concatenated as [x(0::2, 0::2), x(1::2, 0::2), x(0::2, 1::2), x(1::2, 1::2)], LayerNorm(4C), then
// Linear(4C, 2C) without bias. Odd maps are zero-padded at the bottom/right first (dinats.py; Swin asserts
// even sizes). Keys reduction, norm.
#include <torch/arg.h>
#include <torch/nn/cloneable.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>
#include <torch/nn/pimpl.h>

namespace attnzoo::modules {

struct PatchMergingOptions {
  explicit PatchMergingOptions(int64_t dim) : dim_(dim) {}
  TORCH_ARG(int64_t, dim);
  TORCH_ARG(double, eps) = 1e-5;  // of the LayerNorm(4C)
};

class PatchMergingImpl : public torch::nn::Cloneable<PatchMergingImpl> {
 public:
  explicit PatchMergingImpl(const PatchMergingOptions& options) : options(options) { reset(); }
  explicit PatchMergingImpl(int64_t dim) : PatchMergingImpl(PatchMergingOptions(dim)) {}
  void reset() override;
  void pretty_print(std::ostream& os) const override;
  /// [B, H, W, C] -> [B, ceil(H/2), ceil(W/2), 2C]
  at::Tensor forward(const at::Tensor& x);

  PatchMergingOptions options;
  torch::nn::Linear reduction{nullptr};
  torch::nn::LayerNorm norm{nullptr};
};
TORCH_MODULE(PatchMerging);

}  // namespace attnzoo::modules
