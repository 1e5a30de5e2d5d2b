#pragma once
// DaViT's dual attention (Ding et al., ECCV 2022, arXiv 2204.03645), official code dingmyu/davit
// (timm/models/davit.py of its vendored timm). Blocks work on tokens [B, N, C] with the map size (H, W).
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

/// x + depthwise 3x3 conv of the (B, C, H, W) view of the tokens. Key: proj.
class ConvPosEncImpl : public torch::nn::Cloneable<ConvPosEncImpl> {
 public:
  explicit ConvPosEncImpl(int64_t dim, int64_t k = 3) : dim_(dim), k_(k) { reset(); }
  void reset() override;
  at::Tensor forward(const at::Tensor& x, Size2 size);
  torch::nn::Conv2d proj{nullptr};

 private:
  int64_t dim_, k_;
};
TORCH_MODULE(ConvPosEnc);

/// Channel group attention: per group of d = C / num_heads channels, A = softmax((k * d^-0.5)^T v) over
/// channels, out = q A^T. Keys: qkv, proj.
struct ChannelAttentionOptions {
  ChannelAttentionOptions(int64_t dim, int64_t num_heads) : dim_(dim), num_heads_(num_heads) {}
  TORCH_ARG(int64_t, dim);
  TORCH_ARG(int64_t, num_heads);
  TORCH_ARG(bool, qkv_bias) = false;
};

/// The official constructor arguments of ChannelAttention (see attnzoo/core/arg_table.h).
template <class V>
void visit_args(ChannelAttentionOptions& o, V& v) {
  v.required("dim", o.dim());
  v.arg("num_heads", o.num_heads());
  v.arg("qkv_bias", o.qkv_bias());
}

class ChannelAttentionImpl : public torch::nn::Cloneable<ChannelAttentionImpl> {
 public:
  explicit ChannelAttentionImpl(const ChannelAttentionOptions& options) : options(options) { reset(); }
  ChannelAttentionImpl(int64_t dim, int64_t num_heads) : ChannelAttentionImpl(ChannelAttentionOptions(dim, num_heads)) {}
  void reset() override;
  void pretty_print(std::ostream& os) const override;
  at::Tensor forward(const at::Tensor& x);

  ChannelAttentionOptions options;
  torch::nn::Linear qkv{nullptr};
  torch::nn::Linear proj{nullptr};
};
TORCH_MODULE(ChannelAttention);

struct DaViTBlockOptions {
  DaViTBlockOptions(int64_t dim, int64_t num_heads) : dim_(dim), num_heads_(num_heads) {}
  TORCH_ARG(int64_t, dim);
  TORCH_ARG(int64_t, num_heads);
  TORCH_ARG(int64_t, window_size) = 7;  // spatial blocks
  TORCH_ARG(double, mlp_ratio) = 4.0;
  TORCH_ARG(bool, qkv_bias) = true;
  TORCH_ARG(double, drop_path) = 0.0;
  TORCH_ARG(bool, ffn) = true;
};

/// The official constructor arguments of DaViTBlock (see attnzoo/core/arg_table.h).
template <class V>
void visit_args(DaViTBlockOptions& o, V& v) {
  v.required("dim", o.dim());
  v.required("num_heads", o.num_heads());
  v.arg("window_size", o.window_size());
  v.arg("mlp_ratio", o.mlp_ratio());
  v.arg("qkv_bias", o.qkv_bias());
  v.arg("drop_path", o.drop_path());
  v.ignored("act_layer", "nn.GELU");
  v.ignored("norm_layer", "nn.LayerNorm");
  v.arg("ffn", o.ffn());
}

/// Spatial block: cpe.0 -> norm1 -> zero-pad to window multiples -> window attention (no mask, no
/// shift, no relative bias) -> crop -> residual; cpe.1 -> MLP. Keys: cpe.{0,1}, norm1, attn, norm2, mlp.
class DaViTSpatialBlockImpl : public torch::nn::Cloneable<DaViTSpatialBlockImpl> {
 public:
  explicit DaViTSpatialBlockImpl(const DaViTBlockOptions& options);
  void reset() override;
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
  void reset() override;
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

/// DaViT patch embedding. patch_size 4 (stem): image -> pad to x4 -> conv 7x7/4 pad 3 -> LayerNorm on
/// tokens. patch_size 2 (merging): tokens -> LayerNorm(in) -> pad to x2 -> conv 2x2/2 (3x3/2 pad 1 when
/// overlapped). Keys: proj, norm. Returns tokens and the new size.
class DaViTPatchEmbedImpl : public torch::nn::Cloneable<DaViTPatchEmbedImpl> {
 public:
  DaViTPatchEmbedImpl(int64_t patch_size, int64_t in_chans, int64_t embed_dim, bool overlapped)
      : patch_(patch_size), in_(in_chans), out_(embed_dim), overlapped_(overlapped) {
    reset();
  }
  void reset() override;
  std::pair<at::Tensor, Size2> forward(const at::Tensor& x, Size2 size);
  torch::nn::Conv2d proj{nullptr};
  torch::nn::LayerNorm norm{nullptr};

 private:
  int64_t patch_, in_, out_;
  bool overlapped_;
};
TORCH_MODULE(DaViTPatchEmbed);

}  // namespace attnzoo::modules
