#pragma once
// ConViT's Gated Positional Self-Attention (d'Ascoli et al., ICML 2021, arXiv 2103.10697),
// official code facebookresearch/convit convit.py. Input [B, N, C] with N = s*s patch tokens in
// row-major order and no class token.
#include <attnzoo/modules/options/attention.h>

#include <torch/nn/cloneable.h>
#include <torch/nn/modules/dropout.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

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

}  // namespace attnzoo::modules
