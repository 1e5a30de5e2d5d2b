#pragma once
// BiFormer's Bi-Level Routing Attention (official ops/bra_legacy.py) and AttentionLePE. Both take and
// return NHWC tensors, as the official modules do.
#include <attnzoo/modules/options/bra.h>

#include <torch/nn/cloneable.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/dropout.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

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

}  // namespace attnzoo::modules
