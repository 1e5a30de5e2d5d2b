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

/// The official constructor arguments of ConViTBlock (see attnzoo/core/arg_table.h).
template <class V>
void visit_args(ConViTBlockOptions& o, V& v) {
  v.required("dim", o.dim());
  v.required("num_heads", o.num_heads());
  v.arg("mlp_ratio", o.mlp_ratio());
  v.arg("qkv_bias", o.qkv_bias());
  v.nullable("qk_scale", o.qk_scale(), 0.0);
  v.arg("drop", o.drop());
  v.arg("attn_drop", o.attn_drop());
  v.arg("drop_path", o.drop_path());
  v.ignored("act_layer", "nn.GELU");
  v.norm_layer("norm_layer", o.norm_eps());
  v.arg("use_gpsa", o.use_gpsa());
  v.arg("locality_strength", o.locality_strength());
}

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
