#pragma once
// ConViT's transformer block: pre-norm, GPSA (local layers) or plain MHSA (later layers), timm Mlp.
#include <attnzoo/modules/attention.h>
#include <attnzoo/modules/drop_path.h>
#include <attnzoo/modules/gpsa.h>
#include <attnzoo/modules/mlp.h>

#include <torch/nn/modules/normalization.h>

namespace attnzoo::modules {

struct ConViTBlockOptions {
  ConViTBlockOptions(int64_t dim, int64_t num_heads) : dim_(dim), num_heads_(num_heads) {}
  TORCH_ARG(int64_t, dim);
  TORCH_ARG(int64_t, num_heads);
  TORCH_ARG(double, mlp_ratio) = 4.0;
  TORCH_ARG(bool, qkv_bias) = false;
  TORCH_ARG(double, qk_scale) = 0.0;
  TORCH_ARG(double, drop) = 0.0;
  TORCH_ARG(double, attn_drop) = 0.0;
  TORCH_ARG(double, drop_path) = 0.0;
  TORCH_ARG(double, norm_eps) = 1e-5;
  TORCH_ARG(bool, use_gpsa) = true;
  TORCH_ARG(double, locality_strength) = 1.0;
};

/// x + attn(norm1(x)); x + mlp(norm2(x)). Keys: norm1, attn (GPSA or MHSA keys), norm2, mlp.
class ConViTBlockImpl : public torch::nn::Cloneable<ConViTBlockImpl> {
 public:
  explicit ConViTBlockImpl(const ConViTBlockOptions& options);
  void reset() override;
  at::Tensor forward(const at::Tensor& x);

  ConViTBlockOptions options;
  torch::nn::LayerNorm norm1{nullptr};
  GPSA gpsa{nullptr};                    // registered as "attn" when use_gpsa
  MultiHeadSelfAttention mhsa{nullptr};  // registered as "attn" otherwise
  DropPath drop_path{nullptr};
  torch::nn::LayerNorm norm2{nullptr};
  Mlp mlp{nullptr};
};
TORCH_MODULE(ConViTBlock);

}  // namespace attnzoo::modules
