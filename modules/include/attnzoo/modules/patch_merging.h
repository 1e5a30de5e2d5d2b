#pragma once
// Swin's patch merging (also DiNAT_s and Agent-Swin): the 2x2 neighbours of a channels-last map are
// concatenated as [x(0::2, 0::2), x(1::2, 0::2), x(0::2, 1::2), x(1::2, 1::2)], LayerNorm(4C), then
// Linear(4C, 2C) without bias. Odd maps are zero-padded at the bottom/right first (dinats.py; Swin asserts
// even sizes). Keys reduction, norm.
#include <attnzoo/modules/options/layers.h>
#include <torch/arg.h>
#include <torch/nn/cloneable.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>
#include <torch/nn/pimpl.h>

namespace attnzoo::modules {

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
