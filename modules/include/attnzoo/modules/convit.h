#pragma once
// ConViT's Gated Positional Self-Attention (d'Ascoli et al., ICML 2021, arXiv 2103.10697),
// official code facebookresearch/convit convit.py. Input [B, N, C] with N = s*s patch tokens in
// row-major order and no class token.
//
// ConViT's transformer block: pre-norm, GPSA (local layers) or plain MHSA (later layers), timm Mlp.
#include <attnzoo/modules/pretty_print.h>
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
  GPSAImpl(int64_t dim, int64_t num_heads) : GPSAImpl(GPSAOptions(dim, num_heads)) {}
  void reset() override;
  void pretty_print(std::ostream& os) const override { print_options(os, "attnzoo::GPSA", options); }
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

/// x + attn(norm1(x)); x + mlp(norm2(x)). Keys: norm1, attn (GPSA or MHSA keys), norm2, mlp.
class ConViTBlockImpl : public torch::nn::Cloneable<ConViTBlockImpl> {
 public:
  explicit ConViTBlockImpl(const ConViTBlockOptions& options);
  ConViTBlockImpl(int64_t dim, int64_t num_heads) : ConViTBlockImpl(ConViTBlockOptions(dim, num_heads)) {}
  void reset() override;
  void pretty_print(std::ostream& os) const override { print_options(os, "attnzoo::ConViTBlock", options); }
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

/// The 1-D (sequence) form, x [B, L, C] with an optional key padding mask [B, L] (see sequence.h).
class GPSA1DImpl : public torch::nn::Cloneable<GPSA1DImpl> {
 public:
  explicit GPSA1DImpl(const GPSA1DOptions& options);
  GPSA1DImpl(int64_t dim, int64_t num_heads) : GPSA1DImpl(GPSA1DOptions(dim, num_heads)) {}
  void reset() override;
  void pretty_print(std::ostream& os) const override { print_options(os, "attnzoo::GPSA1D", options); }
  at::Tensor forward(const at::Tensor& x, const at::Tensor& mask = {});
  GPSA1DOptions options;
  at::Tensor gating_param;
  torch::nn::Linear qk{nullptr}, v{nullptr}, pos_proj{nullptr}, proj{nullptr};
};
TORCH_MODULE(GPSA1D);

}  // namespace attnzoo::modules
