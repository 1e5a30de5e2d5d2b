#pragma once
// The transformer layer of NAT / DiNAT / DiNAT_s / the isotropic models (classification/nat.py NATLayer,
// dinats.py NATransformerLayer, isotropic.py VisionTransformerLayer), channels-last [B, H, W, C]:
//   x = x + DropPath(gamma1 * attn(norm1(x)));  x = x + DropPath(gamma2 * mlp(norm2(x)))
// attn = NeighborhoodAttention2D, or (global_size > 0) MHSARPB: global attention over a fixed
// global_size x global_size map with a relative position bias (the ViT-RPB baseline).
// Keys: gamma1, gamma2 (layer scale only), norm1, attn, norm2, mlp.fc1, mlp.fc2.
#include <attnzoo/modules/mlp.h>
#include <attnzoo/modules/neighborhood.h>

#include <torch/nn/cloneable.h>
#include <torch/nn/modules/container/any.h>
#include <torch/nn/modules/normalization.h>
#include <torch/nn/pimpl.h>

namespace attnzoo::modules {

/// Global self-attention with a relative position bias over a fixed square map (isotropic.py MHSARPB).
/// Keys rpb [heads, 2L-1, 2L-1], relative_position_index [L^2, L^2] (persistent buffer), qkv, proj.
class MHSARPBImpl : public torch::nn::Cloneable<MHSARPBImpl> {
 public:
  MHSARPBImpl(int64_t dim, int64_t input_size, int64_t num_heads, bool qkv_bias = true, double qk_scale = 0.0);
  void reset() override;
  at::Tensor forward(const at::Tensor& x);  // [B, L, L, C]

  int64_t dim, input_size, num_heads;
  bool qkv_bias;
  double qk_scale;
  at::Tensor rpb, relative_position_index;
  torch::nn::Linear qkv{nullptr}, proj{nullptr};
};
TORCH_MODULE(MHSARPB);

struct NATLayerOptions {
  NATLayerOptions(int64_t dim, int64_t num_heads) : dim_(dim), num_heads_(num_heads) {}
  TORCH_ARG(int64_t, dim);
  TORCH_ARG(int64_t, num_heads);
  TORCH_ARG(int64_t, kernel_size) = 7;
  TORCH_ARG(int64_t, dilation) = 1;
  TORCH_ARG(double, mlp_ratio) = 4.0;
  TORCH_ARG(bool, qkv_bias) = true;
  TORCH_ARG(double, qk_scale) = 0.0;
  TORCH_ARG(double, drop) = 0.0;
  TORCH_ARG(double, attn_drop) = 0.0;
  TORCH_ARG(double, drop_path) = 0.0;
  TORCH_ARG(double, layer_scale) = 0.0;  // > 0: gamma1 / gamma2 initialised to it (Python: a number, not None)
  TORCH_ARG(double, norm_eps) = 1e-5;
  TORCH_ARG(int64_t, global_size) = 0;  // > 0: MHSARPB instead of neighborhood attention
};

class NATLayerImpl : public torch::nn::Cloneable<NATLayerImpl> {
 public:
  explicit NATLayerImpl(const NATLayerOptions& options);
  void reset() override;
  at::Tensor forward(const at::Tensor& x);  // [B, H, W, C]

  NATLayerOptions options;
  at::Tensor gamma1, gamma2;
  torch::nn::LayerNorm norm1{nullptr}, norm2{nullptr};
  torch::nn::AnyModule attn;
  Mlp mlp{nullptr};
};
TORCH_MODULE(NATLayer);

}  // namespace attnzoo::modules
