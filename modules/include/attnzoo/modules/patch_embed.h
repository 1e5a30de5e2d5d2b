#pragma once
// Patch embeddings (stems and stage down-sampling layers).
#include <attnzoo/modules/options/layers.h>

#include <torch/nn/cloneable.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/normalization.h>
#include <torch/nn/pimpl.h>

namespace attnzoo::modules {

/// conv(k = patch_size, stride, padding = k/2, bias) -> BatchNorm2d. Registered as `proj`, `norm`.
class OverlapPatchEmbedImpl : public torch::nn::Cloneable<OverlapPatchEmbedImpl> {
 public:
  explicit OverlapPatchEmbedImpl(const OverlapPatchEmbedOptions& options);
  void reset() override;
  /// NCHW -> NCHW (H' = floor((H + 2p - k)/s) + 1).
  at::Tensor forward(const at::Tensor& x);

  OverlapPatchEmbedOptions options;
  torch::nn::Conv2d proj{nullptr};
  torch::nn::BatchNorm2d norm{nullptr};
};
TORCH_MODULE(OverlapPatchEmbed);

/// ViT patch embedding: conv(k = stride = patch_size, bias) -> [B, N, C], N = (H / p) * (W / p).
/// Registered as `proj`.
class PatchEmbedImpl : public torch::nn::Cloneable<PatchEmbedImpl> {
 public:
  explicit PatchEmbedImpl(const PatchEmbedOptions& options);
  void reset() override;
  at::Tensor forward(const at::Tensor& x);
  int64_t num_patches() const;

  PatchEmbedOptions options;
  torch::nn::Conv2d proj{nullptr};
  torch::nn::LayerNorm norm{nullptr};  // with options.norm()
};
TORCH_MODULE(PatchEmbed);

}  // namespace attnzoo::modules
