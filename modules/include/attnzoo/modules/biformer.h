#pragma once
// BiFormer's Bi-Level Routing Attention (official ops/bra_legacy.py) and AttentionLePE. Both take and
// return NHWC tensors, as the official modules do.
//
// BiFormer's block (official models/biformer.py Block): depthwise-conv position embedding, then a
// pre-norm (or post-norm) transformer block whose attention is chosen by topk:
//   topk > 0  -> BiLevelRoutingAttention;  -1 -> plain attention (8 heads);
//   -2 -> AttentionLePE (8 heads, the Block does not pass num_heads);  0 -> a conv stand-in.
// Input and output NCHW; attention and MLP run in NHWC.
#include <attnzoo/modules/pretty_print.h>
#include <attnzoo/modules/options/biformer.h>
#include <attnzoo/modules/attention.h>
#include <attnzoo/modules/drop_path.h>

#include <torch/nn/cloneable.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/dropout.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/normalization.h>

namespace attnzoo::modules {

/// The router: (optional Linear `emb`) then top-k of (q_win * scale) k_win^T per query window.
class TopkRoutingImpl : public torch::nn::Cloneable<TopkRoutingImpl> {
 public:
  explicit TopkRoutingImpl(const TopkRoutingOptions& options) : options(options) { reset(); }
  TopkRoutingImpl(int64_t qk_dim, int64_t topk) : TopkRoutingImpl(TopkRoutingOptions(qk_dim).topk(topk)) {}
  void reset() override;
  void pretty_print(std::ostream& os) const override;
  /// query, key: [n, p2, c] -> (routing weights, indices), both [n, p2, topk], indices in descending
  /// logit order (torch.topk).
  std::pair<at::Tensor, at::Tensor> forward(const at::Tensor& query, const at::Tensor& key);

  TopkRoutingOptions options;
  double scale = 0.0;  // qk_scale, or qk_dim ** -0.5
  torch::nn::Linear emb{nullptr};
};
TORCH_MODULE(TopkRouting);

/// Wraps the fused projection so its Linear is keyed `qkv.qkv` as officially; q | kv split.
class QKVLinearImpl : public torch::nn::Cloneable<QKVLinearImpl> {
 public:
  explicit QKVLinearImpl(const QKVLinearOptions& options) : options(options) { reset(); }
  QKVLinearImpl(int64_t dim, int64_t qk_dim) : QKVLinearImpl(QKVLinearOptions(dim, qk_dim)) {}
  void reset() override;
  void pretty_print(std::ostream& os) const override;
  std::pair<at::Tensor, at::Tensor> forward(const at::Tensor& x);

  QKVLinearOptions options;
  torch::nn::Linear qkv{nullptr};
};
TORCH_MODULE(QKVLinear);

/// Keys: lepe (depthwise conv), [router.emb], qkv.qkv, [wo].
class BiLevelRoutingAttentionImpl : public torch::nn::Cloneable<BiLevelRoutingAttentionImpl> {
 public:
  explicit BiLevelRoutingAttentionImpl(const BiLevelRoutingAttentionOptions& options);
  explicit BiLevelRoutingAttentionImpl(int64_t dim)
      : BiLevelRoutingAttentionImpl(BiLevelRoutingAttentionOptions(dim)) {}
  void reset() override;
  void pretty_print(std::ostream& os) const override { print_options(os, "attnzoo::BiLevelRoutingAttention", options); }
  /// x: [N, H, W, C] with H, W multiples of n_win (unless auto_pad) -> [N, H, W, C].
  at::Tensor forward(const at::Tensor& x);
  /// The routing indices [N, n_win^2, topk] of the last forward (for inspection).
  at::Tensor last_routing;

  BiLevelRoutingAttentionOptions options;
  torch::nn::Conv2d lepe{nullptr};
  TopkRouting router{nullptr};
  QKVLinear qkv{nullptr};
  torch::nn::Linear wo{nullptr};

 private:
  at::Tensor kv_down(const at::Tensor& kv_nchw) const;
};
TORCH_MODULE(BiLevelRoutingAttention);

/// Keys: qkv, proj, lepe. Global softmax attention over all H*W tokens plus a depthwise-conv LePE of
/// the attention input, added before `proj`.
class AttentionLePEImpl : public torch::nn::Cloneable<AttentionLePEImpl> {
 public:
  explicit AttentionLePEImpl(const AttentionLePEOptions& options);
  explicit AttentionLePEImpl(int64_t dim) : AttentionLePEImpl(AttentionLePEOptions(dim)) {}
  void reset() override;
  void pretty_print(std::ostream& os) const override { print_options(os, "attnzoo::AttentionLePE", options); }
  at::Tensor forward(const at::Tensor& x);  // NHWC

  AttentionLePEOptions options;
  torch::nn::Linear qkv{nullptr};
  torch::nn::Dropout attn_drop{nullptr};
  torch::nn::Linear proj{nullptr};
  torch::nn::Dropout proj_drop{nullptr};
  torch::nn::Conv2d lepe{nullptr};
};
TORCH_MODULE(AttentionLePE);

/// Depthwise 3x3 conv on NHWC tensors (BiFormer's DWConv); key `dwconv`.
class DWConvNHWCImpl : public torch::nn::Cloneable<DWConvNHWCImpl> {
 public:
  explicit DWConvNHWCImpl(const DWConvNHWCOptions& options) : options(options) { reset(); }
  explicit DWConvNHWCImpl(int64_t dim) : DWConvNHWCImpl(DWConvNHWCOptions(dim)) {}
  void reset() override;
  void pretty_print(std::ostream& os) const override;
  at::Tensor forward(const at::Tensor& x);
  DWConvNHWCOptions options;
  torch::nn::Conv2d dwconv{nullptr};
};
TORCH_MODULE(DWConvNHWC);

/// Keys: [gamma1, gamma2], pos_embed, norm1, attn (per topk), norm2, mlp.0 / mlp.3 (Sequential
/// Linear, Identity|DWConv, GELU, Linear).
class BiFormerBlockImpl : public torch::nn::Cloneable<BiFormerBlockImpl> {
 public:
  explicit BiFormerBlockImpl(const BiFormerBlockOptions& options);
  explicit BiFormerBlockImpl(int64_t dim) : BiFormerBlockImpl(BiFormerBlockOptions(dim)) {}
  void reset() override;
  void pretty_print(std::ostream& os) const override { print_options(os, "attnzoo::BiFormerBlock", options); }
  at::Tensor forward(const at::Tensor& x);  // NCHW

  BiFormerBlockOptions options;
  at::Tensor gamma1, gamma2;
  torch::nn::Conv2d pos_embed{nullptr};
  torch::nn::LayerNorm norm1{nullptr};
  BiLevelRoutingAttention bra{nullptr};       // topk > 0
  MultiHeadSelfAttention plain{nullptr};      // topk == -1
  AttentionLePE attn_lepe{nullptr};           // topk == -2
  torch::nn::Sequential conv_stand_in{nullptr};  // topk == 0
  torch::nn::LayerNorm norm2{nullptr};
  torch::nn::Sequential mlp{nullptr};
  DropPath drop_path{nullptr};

 private:
  at::Tensor attend(const at::Tensor& x);  // NHWC
};
TORCH_MODULE(BiFormerBlock);

/// The 1-D (sequence) form, x [B, L, C] with an optional key padding mask [B, L] (see sequence.h).
class BiLevelRoutingAttention1DImpl : public torch::nn::Cloneable<BiLevelRoutingAttention1DImpl> {
 public:
  explicit BiLevelRoutingAttention1DImpl(const BiLevelRoutingAttention1DOptions& options);
  BiLevelRoutingAttention1DImpl(int64_t dim, int64_t num_heads)
      : BiLevelRoutingAttention1DImpl(BiLevelRoutingAttention1DOptions(dim, num_heads)) {}
  void reset() override;
  void pretty_print(std::ostream& os) const override {
    print_options(os, "attnzoo::BiLevelRoutingAttention1D", options);
  }
  at::Tensor forward(const at::Tensor& x, const at::Tensor& mask = {});
  BiLevelRoutingAttention1DOptions options;
  torch::nn::Linear qkv{nullptr}, proj{nullptr};
  torch::nn::Conv1d lepe{nullptr};
};
TORCH_MODULE(BiLevelRoutingAttention1D);

}  // namespace attnzoo::modules
