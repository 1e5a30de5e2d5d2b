#pragma once
// Patch embeddings (stems and stage down-sampling layers).
#include <attnzoo/modules/batch_norm.h>
#include <attnzoo/modules/pretty_print.h>
#include <attnzoo/modules/options/layers.h>

#include <torch/nn/cloneable.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/normalization.h>
#include <torch/nn/pimpl.h>

namespace attnzoo::modules {

/// conv(k = patch_size, stride, padding = k/2, bias) -> BatchNorm2d. Registered as `proj`, `norm`.
class OverlapPatchEmbedImpl : public torch::nn::Cloneable<OverlapPatchEmbedImpl> {
 public:
  explicit OverlapPatchEmbedImpl(const OverlapPatchEmbedOptions& options);
  OverlapPatchEmbedImpl(int64_t in_chans, int64_t embed_dim)
      : OverlapPatchEmbedImpl(OverlapPatchEmbedOptions(in_chans, embed_dim)) {}
  void reset() override;
  void pretty_print(std::ostream& os) const override { print_options(os, "attnzoo::OverlapPatchEmbed", options); }
  /// NCHW -> NCHW (H' = floor((H + 2p - k)/s) + 1).
  at::Tensor forward(const at::Tensor& x);

  OverlapPatchEmbedOptions options;
  torch::nn::Conv2d proj{nullptr};
  BatchNorm2d norm{nullptr};
};
TORCH_MODULE(OverlapPatchEmbed);

/// ViT patch embedding: conv(k = stride = patch_size, bias) -> [B, N, C], N = (H / p) * (W / p).
/// Registered as `proj`.
class PatchEmbedImpl : public torch::nn::Cloneable<PatchEmbedImpl> {
 public:
  explicit PatchEmbedImpl(const PatchEmbedOptions& options);
  PatchEmbedImpl(int64_t img_size, int64_t patch_size, int64_t in_chans, int64_t embed_dim)
      : PatchEmbedImpl(PatchEmbedOptions(img_size, patch_size, in_chans, embed_dim)) {}
  void reset() override;
  void pretty_print(std::ostream& os) const override { print_options(os, "attnzoo::PatchEmbed", options); }
  at::Tensor forward(const at::Tensor& x);
  int64_t num_patches() const;

  PatchEmbedOptions options;
  torch::nn::Conv2d proj{nullptr};
  torch::nn::LayerNorm norm{nullptr};  // with options.norm()
};
TORCH_MODULE(PatchEmbed);

}  // namespace attnzoo::modules
