#pragma once
// DaViT's dual attention (Ding et al., ECCV 2022, arXiv 2204.03645), official code dingmyu/davit
// (timm/models/davit.py of its vendored timm). Blocks work on tokens [B, N, C] with the map size (H, W).
#include <attnzoo/modules/pretty_print.h>
#include <attnzoo/modules/options/davit.h>
#include <attnzoo/modules/attention.h>
#include <attnzoo/modules/drop_path.h>
#include <attnzoo/modules/mlp.h>

#include <torch/arg.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/normalization.h>

#include <array>

namespace attnzoo::modules {

using Size2 = std::array<int64_t, 2>;  // (H, W)

class ConvPosEncImpl : public torch::nn::Cloneable<ConvPosEncImpl> {
 public:
  explicit ConvPosEncImpl(const ConvPosEncOptions& options) : options(options) { reset(); }
  explicit ConvPosEncImpl(int64_t dim) : ConvPosEncImpl(ConvPosEncOptions(dim)) {}
  void reset() override;
  void pretty_print(std::ostream& os) const override;
  at::Tensor forward(const at::Tensor& x, Size2 size);
  ConvPosEncOptions options;
  torch::nn::Conv2d proj{nullptr};
};
TORCH_MODULE(ConvPosEnc);

class ChannelAttentionImpl : public torch::nn::Cloneable<ChannelAttentionImpl> {
 public:
  explicit ChannelAttentionImpl(const ChannelAttentionOptions& options) : options(options) { reset(); }
  ChannelAttentionImpl(int64_t dim, int64_t num_heads)
      : ChannelAttentionImpl(ChannelAttentionOptions(dim, num_heads)) {}
  void reset() override;
  void pretty_print(std::ostream& os) const override;
  at::Tensor forward(const at::Tensor& x);

  ChannelAttentionOptions options;
  torch::nn::Linear qkv{nullptr};
  torch::nn::Linear proj{nullptr};
};
TORCH_MODULE(ChannelAttention);

/// Spatial block: cpe.0 -> norm1 -> zero-pad to window multiples -> window attention (no mask, no
/// shift, no relative bias) -> crop -> residual; cpe.1 -> MLP. Keys: cpe.{0,1}, norm1, attn, norm2, mlp.
class DaViTSpatialBlockImpl : public torch::nn::Cloneable<DaViTSpatialBlockImpl> {
 public:
  explicit DaViTSpatialBlockImpl(const DaViTBlockOptions& options);
  DaViTSpatialBlockImpl(int64_t dim, int64_t num_heads) : DaViTSpatialBlockImpl(DaViTBlockOptions(dim, num_heads)) {}
  void reset() override;
  void pretty_print(std::ostream& os) const override { print_options(os, "attnzoo::DaViTSpatialBlock", options); }
  at::Tensor forward(const at::Tensor& x, Size2 size);

  DaViTBlockOptions options;
  torch::nn::ModuleList cpe;
  torch::nn::LayerNorm norm1{nullptr};
  MultiHeadSelfAttention attn{nullptr};
  DropPath drop_path{nullptr};
  torch::nn::LayerNorm norm2{nullptr};
  Mlp mlp{nullptr};
};
TORCH_MODULE(DaViTSpatialBlock);

/// Channel block: cpe.0 -> x + attn(norm1(x)); cpe.1 -> x + mlp(norm2(x)).
class DaViTChannelBlockImpl : public torch::nn::Cloneable<DaViTChannelBlockImpl> {
 public:
  explicit DaViTChannelBlockImpl(const DaViTBlockOptions& options);
  DaViTChannelBlockImpl(int64_t dim, int64_t num_heads) : DaViTChannelBlockImpl(DaViTBlockOptions(dim, num_heads)) {}
  void reset() override;
  void pretty_print(std::ostream& os) const override { print_options(os, "attnzoo::DaViTChannelBlock", options); }
  at::Tensor forward(const at::Tensor& x, Size2 size);

  DaViTBlockOptions options;
  torch::nn::ModuleList cpe;
  torch::nn::LayerNorm norm1{nullptr};
  ChannelAttention attn{nullptr};
  DropPath drop_path{nullptr};
  torch::nn::LayerNorm norm2{nullptr};
  Mlp mlp{nullptr};
};
TORCH_MODULE(DaViTChannelBlock);

class DaViTPatchEmbedImpl : public torch::nn::Cloneable<DaViTPatchEmbedImpl> {
 public:
  explicit DaViTPatchEmbedImpl(const DaViTPatchEmbedOptions& options) : options(options) { reset(); }
  DaViTPatchEmbedImpl(int64_t patch_size, int64_t in_chans, int64_t embed_dim)
      : DaViTPatchEmbedImpl(DaViTPatchEmbedOptions(patch_size, in_chans, embed_dim)) {}
  void reset() override;
  void pretty_print(std::ostream& os) const override;
  std::pair<at::Tensor, Size2> forward(const at::Tensor& x, Size2 size);
  DaViTPatchEmbedOptions options;
  torch::nn::Conv2d proj{nullptr};
  torch::nn::LayerNorm norm{nullptr};
};
TORCH_MODULE(DaViTPatchEmbed);

/// The 1-D (sequence) form, x [B, L, C] with an optional key padding mask [B, L] (see sequence.h).
class ChannelGroupAttention1DImpl : public torch::nn::Cloneable<ChannelGroupAttention1DImpl> {
 public:
  explicit ChannelGroupAttention1DImpl(const ChannelGroupAttention1DOptions& options);
  ChannelGroupAttention1DImpl(int64_t dim, int64_t num_heads)
      : ChannelGroupAttention1DImpl(ChannelGroupAttention1DOptions(dim, num_heads)) {}
  void reset() override;
  void pretty_print(std::ostream& os) const override { print_options(os, "attnzoo::ChannelGroupAttention1D", options); }
  at::Tensor forward(const at::Tensor& x, const at::Tensor& mask = {});
  ChannelGroupAttention1DOptions options;
  torch::nn::Linear qkv{nullptr}, proj{nullptr};
};
TORCH_MODULE(ChannelGroupAttention1D);

}  // namespace attnzoo::modules
