#pragma once
// ConViT's Gated Positional Self-Attention (d'Ascoli et al., ICML 2021, arXiv 2103.10697),
// official code facebookresearch/convit convit.py. Input [B, N, C] with N = s*s patch tokens in
// row-major order and no class token.
//
// ConViT's transformer block: pre-norm, GPSA (local layers) or plain MHSA (later layers), timm Mlp.
#include <attnzoo/modules/options/convit.h>
#include <attnzoo/modules/attention.h>
#include <attnzoo/modules/drop_path.h>
#include <attnzoo/modules/mlp.h>

#include <torch/nn/cloneable.h>
#include <torch/nn/modules/dropout.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>
#include <torch/nn/modules/normalization.h>

namespace attnzoo::modules {

/// Keys: gating_param [heads], qk (Linear C->2C), v (Linear C->C), proj, pos_proj (Linear 3->heads).
/// attn = (1 - g) softmax(q k^T scale) + g softmax(pos_proj(rel)), g = sigmoid(gating_param), then
/// renormalised over keys as the official code does.
class GPSAImpl : public torch::nn::Cloneable<GPSAImpl> {
 public:
  explicit GPSAImpl(const GPSAOptions& options);
  void reset() override;
  at::Tensor forward(const at::Tensor& x);
  /// The attention map [B, heads, N, N] (for inspection, e.g. locality of heads).
  at::Tensor attention(const at::Tensor& x);
  /// ConViT local_init: v = I; head h1 + k*h2 looks at offset (h1 - c, h2 - c) * locality_strength.
  void local_init();

  GPSAOptions options;
  at::Tensor gating_param;
  torch::nn::Linear qk{nullptr};
  torch::nn::Linear v{nullptr};
  torch::nn::Dropout attn_drop{nullptr};
  torch::nn::Linear proj{nullptr};
  torch::nn::Linear pos_proj{nullptr};
  torch::nn::Dropout proj_drop{nullptr};
};
TORCH_MODULE(GPSA);

/// rel_indices of the official code: [1, N, N, 3] with (dx, dy, dx^2 + dy^2) from query i to key j,
/// dx = col_j - col_i, dy = row_j - row_i on the sqrt(N) x sqrt(N) grid. Throws if N is not a square.
at::Tensor gpsa_relative_indices(int64_t num_patches, const at::TensorOptions& options);

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
