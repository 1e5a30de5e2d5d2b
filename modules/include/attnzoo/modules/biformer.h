#pragma once
// BiFormer's Bi-Level Routing Attention (official ops/bra_legacy.py) and AttentionLePE. Both take and
// return NHWC tensors, as the official modules do.
//
// BiFormer's block (official models/biformer.py Block): depthwise-conv position embedding, then a
// pre-norm (or post-norm) transformer block whose attention is chosen by topk:
//   topk > 0  -> BiLevelRoutingAttention;  -1 -> plain attention (8 heads);
//   -2 -> AttentionLePE (8 heads, the Block does not pass num_heads);  0 -> a conv stand-in.
// Input and output NCHW; attention and MLP run in NHWC.
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
  TopkRoutingImpl(int64_t qk_dim, int64_t topk, double scale, bool param_routing, bool diff_routing);
  void reset() override;
  /// query, key: [n, p2, c] -> (routing weights, indices), both [n, p2, topk], indices in descending
  /// logit order (torch.topk).
  std::pair<at::Tensor, at::Tensor> forward(const at::Tensor& query, const at::Tensor& key);

  int64_t qk_dim, topk;
  double scale;
  bool param_routing, diff_routing;
  torch::nn::Linear emb{nullptr};
};
TORCH_MODULE(TopkRouting);

/// Wraps the fused projection so its Linear is keyed `qkv.qkv` as officially; q | kv split.
class QKVLinearImpl : public torch::nn::Cloneable<QKVLinearImpl> {
 public:
  QKVLinearImpl(int64_t dim, int64_t qk_dim, bool bias = true);
  void reset() override;
  std::pair<at::Tensor, at::Tensor> forward(const at::Tensor& x);

  int64_t dim, qk_dim;
  bool bias;
  torch::nn::Linear qkv{nullptr};
};
TORCH_MODULE(QKVLinear);

/// Keys: lepe (depthwise conv), [router.emb], qkv.qkv, [wo].
class BiLevelRoutingAttentionImpl : public torch::nn::Cloneable<BiLevelRoutingAttentionImpl> {
 public:
  explicit BiLevelRoutingAttentionImpl(const BiLevelRoutingAttentionOptions& options);
  void reset() override;
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
  void reset() override;
  at::Tensor forward(const at::Tensor& x);  // NHWC

  AttentionLePEOptions options;
  torch::nn::Linear qkv{nullptr};
  torch::nn::Dropout attn_drop{nullptr};
  torch::nn::Linear proj{nullptr};
  torch::nn::Dropout proj_drop{nullptr};
  torch::nn::Conv2d lepe{nullptr};
};
TORCH_MODULE(AttentionLePE);

struct BiFormerBlockOptions {
  explicit BiFormerBlockOptions(int64_t dim) : dim_(dim) {}
  TORCH_ARG(int64_t, dim);
  TORCH_ARG(double, drop_path) = 0.0;
  TORCH_ARG(double, layer_scale_init_value) = -1;  // > 0 enables gamma1/gamma2
  TORCH_ARG(int64_t, num_heads) = 8;
  TORCH_ARG(int64_t, n_win) = 7;
  TORCH_ARG(int64_t, qk_dim) = 0;
  TORCH_ARG(double, qk_scale) = 0.0;
  TORCH_ARG(int64_t, kv_per_win) = 4;
  TORCH_ARG(int64_t, kv_downsample_ratio) = 4;
  TORCH_ARG(std::string, kv_downsample_mode) = "ada_avgpool";  // the Block's default (variants pass identity)
  TORCH_ARG(int64_t, topk) = 4;
  TORCH_ARG(std::string, param_attention) = "qkvo";
  TORCH_ARG(bool, param_routing) = false;
  TORCH_ARG(bool, diff_routing) = false;
  TORCH_ARG(bool, soft_routing) = false;
  TORCH_ARG(double, mlp_ratio) = 4.0;
  TORCH_ARG(bool, mlp_dwconv) = false;
  /// The Block of models/biformer.py keeps an Identity in the MLP where the optional DWConv goes
  /// (keys mlp.0 / mlp.3); the STL model's block has none (keys mlp.0 / mlp.2).
  TORCH_ARG(bool, mlp_dwconv_slot) = true;
  TORCH_ARG(int64_t, side_dwconv) = 5;
  TORCH_ARG(int64_t, before_attn_dwconv) = 3;
  TORCH_ARG(bool, pre_norm) = true;
  TORCH_ARG(bool, auto_pad) = false;
};

/// The official constructor arguments of BiFormerBlock (see attnzoo/core/arg_table.h).
template <class V>
void visit_args(BiFormerBlockOptions& o, V& v) {
  visit_routing_args(o, v);
  v.arg("drop_path", o.drop_path());
  v.arg("layer_scale_init_value", o.layer_scale_init_value());
  v.arg("mlp_ratio", o.mlp_ratio());
  v.arg("mlp_dwconv", o.mlp_dwconv());
  v.arg("before_attn_dwconv", o.before_attn_dwconv());
  v.arg("pre_norm", o.pre_norm());
}

/// Depthwise 3x3 conv on NHWC tensors (BiFormer's DWConv); key `dwconv`.
class DWConvNHWCImpl : public torch::nn::Cloneable<DWConvNHWCImpl> {
 public:
  explicit DWConvNHWCImpl(int64_t dim) : dim_(dim) { reset(); }
  void reset() override;
  at::Tensor forward(const at::Tensor& x);
  torch::nn::Conv2d dwconv{nullptr};

 private:
  int64_t dim_;
};
TORCH_MODULE(DWConvNHWC);

/// Keys: [gamma1, gamma2], pos_embed, norm1, attn (per topk), norm2, mlp.0 / mlp.3 (Sequential
/// Linear, Identity|DWConv, GELU, Linear).
class BiFormerBlockImpl : public torch::nn::Cloneable<BiFormerBlockImpl> {
 public:
  explicit BiFormerBlockImpl(const BiFormerBlockOptions& options);
  void reset() override;
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

}  // namespace attnzoo::modules
