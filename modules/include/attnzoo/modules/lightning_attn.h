#pragma once
// Lightning attention (OpenNLPLab/lightning-attention; Lightning Attention-2, arXiv 2401.04658): linear attention
// without softmax, o_i = sum_j exp(-s (i - j)) (q_i . k_j) v_j over j <= i, per head slope s.
//  - lightning_attention            the blockwise op (Lightning Attention-2's intra/inter split) on q, k, v
//                                   [B, h, n, d], causal or bidirectional, with or without decay
//  - linear_attention_reference     the naive O(n^2) masked form it equals (the repository's linear_attn)
//  - TnlAttention                   tnl_attn.py's module (its 1-D form for sequence backbones: forward(x, mask))
//  - SimpleRMSNorm                  srmsnorm.py
// The official op is a Triton kernel (CUDA); here both forms are plain ATen on any device.
#include <attnzoo/modules/options/lightning_attn.h>
#include <attnzoo/modules/pretty_print.h>

#include <torch/nn/cloneable.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>
#include <torch/nn/pimpl.h>

#include <vector>

namespace attnzoo::modules {

/// q, k [B, h, n, d], v [B, h, n, e], slopes [h] (undefined: no decay) -> [B, h, n, e].
at::Tensor lightning_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& slopes,
                               const LightningAttentionOptions& options = {});
/// The same through the full [n, n] decay mask (O(n^2) time and memory).
at::Tensor linear_attention_reference(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                                      const at::Tensor& slopes, bool causal = true);

class TnlAttentionImpl : public torch::nn::Cloneable<TnlAttentionImpl> {
 public:
  explicit TnlAttentionImpl(const TnlAttentionOptions& options);
  TnlAttentionImpl(int64_t embed_dim, int64_t num_heads) : TnlAttentionImpl(TnlAttentionOptions(embed_dim, num_heads)) {}
  void reset() override;
  void pretty_print(std::ostream& os) const override { print_options(os, "attnzoo::TnlAttention", options); }
  /// x [B, n, C]; key padding mask [B, n] (true = padding; attnzoo's): padded tokens' k and v are zero and their
  /// outputs are zero.
  at::Tensor forward(const at::Tensor& x, const at::Tensor& mask = {});
  /// The per-head decay rates this layer uses, [h], in `options`' dtype and device.
  at::Tensor slope_rate(const at::TensorOptions& options) const;

  TnlAttentionOptions options;
  torch::nn::Linear q_proj{nullptr}, k_proj{nullptr}, v_proj{nullptr}, o_proj{nullptr};
  torch::nn::LayerNorm norm{nullptr};
  torch::nn::Sequential output_gate{nullptr};

 private:
  std::vector<double> slopes_;
};
TORCH_MODULE(TnlAttention);

class SimpleRMSNormImpl : public torch::nn::Cloneable<SimpleRMSNormImpl> {
 public:
  explicit SimpleRMSNormImpl(const SimpleRMSNormOptions& options) : options(options) {}
  explicit SimpleRMSNormImpl(int64_t dim) : SimpleRMSNormImpl(SimpleRMSNormOptions(dim)) {}
  void reset() override {}
  void pretty_print(std::ostream& os) const override { print_options(os, "attnzoo::SimpleRMSNorm", options); }
  /// In float32 for half / bfloat16 / float32 inputs as the official one, in float64 for float64 inputs (the
  /// official .float() would round those to float32).
  at::Tensor forward(const at::Tensor& x);

  SimpleRMSNormOptions options;
};
TORCH_MODULE(SimpleRMSNorm);

}  // namespace attnzoo::modules
