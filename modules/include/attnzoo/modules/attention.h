#pragma once
// Plain multi-head self-attention on [B, N, C] tokens (the baseline every family is compared with).
#include <attnzoo/modules/pretty_print.h>
#include <attnzoo/modules/options/attention.h>

#include <torch/nn/cloneable.h>
#include <torch/nn/modules/dropout.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

namespace attnzoo::modules {

/// Keys: qkv.{weight[,bias]}, proj.{weight,bias} (timm / ConViT MHSA names).
class MultiHeadSelfAttentionImpl : public torch::nn::Cloneable<MultiHeadSelfAttentionImpl> {
 public:
  explicit MultiHeadSelfAttentionImpl(const MultiHeadSelfAttentionOptions& options);
  MultiHeadSelfAttentionImpl(int64_t dim, int64_t num_heads)
      : MultiHeadSelfAttentionImpl(MultiHeadSelfAttentionOptions(dim, num_heads)) {}
  void reset() override;
  void pretty_print(std::ostream& os) const override { print_options(os, "attnzoo::MultiHeadSelfAttention", options); }
  at::Tensor forward(const at::Tensor& x);

  MultiHeadSelfAttentionOptions options;
  torch::nn::Linear qkv{nullptr};
  torch::nn::Dropout attn_drop{nullptr};
  torch::nn::Linear proj{nullptr};
  torch::nn::Dropout proj_drop{nullptr};
};
TORCH_MODULE(MultiHeadSelfAttention);

/// softmax(q k^T * scale) v over [B, heads, N, d] tensors, with optional attention dropout.
at::Tensor scaled_dot_product(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, double scale,
                              torch::nn::Dropout& attn_drop);

}  // namespace attnzoo::modules
