#pragma once
// Neighborhood attention (NAT / DiNAT) with NATTEN's exact semantics, on our own CPU kernels (and CUDA kernels,
// modules/src/na_kernel.cu, in builds against a CUDA LibTorch).
//
// Per axis of length L, odd kernel k (r = k / 2) and dilation d, query i belongs to the dilation group
// g = i % d at in-group position p = i / d (the group has Lg = ceil((L - g) / d) members). Its window
// starts at s = max(p - r, 0) + [p + r >= Lg] * (Lg - p - r - 1): shifted to stay inside the group, so
// every query sees exactly k keys (s + t) * d + g, t < k. The relative position bias index is
// (k - 1) + (s + t - p). 2-D is separable; neighbour n = ki * kw + kj.
//
// The ops never copy K/V per query: na_qk computes the [.., k*k] logits (+ bias) directly from q and k,
// na_av the weighted sums from the attention weights and v; both have hand-written backward kernels
// (autograd functions). Memory is O(tokens * k^2) for the weights, not O(tokens * k^2 * head_dim).
//
// The transformer layer of NAT / DiNAT / DiNAT_s / the isotropic models (classification/nat.py NATLayer,
// dinats.py NATransformerLayer, isotropic.py VisionTransformerLayer), channels-last [B, H, W, C]:
//   x = x + DropPath(gamma1 * attn(norm1(x)));  x = x + DropPath(gamma2 * mlp(norm2(x)))
// attn = NeighborhoodAttention2D, or (global_size > 0) MHSARPB: global attention over a fixed
// global_size x global_size map with a relative position bias (the ViT-RPB baseline).
// Keys: gamma1, gamma2 (layer scale only), norm1, attn, norm2, mlp.fc1, mlp.fc2.
#include <attnzoo/modules/pretty_print.h>
#include <attnzoo/modules/options/nat.h>
#include <attnzoo/modules/mlp.h>

#include <torch/nn/cloneable.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>
#include <torch/nn/modules/container/any.h>
#include <torch/nn/modules/normalization.h>

#include <array>

namespace attnzoo::modules {

/// Logits of neighborhood attention. q, k: [B, heads, H, W, d] (float32 / float64, CPU or CUDA); rpb: [heads,
/// 2kh-1, 2kw-1] or undefined. Returns [B, heads, H, W, kh * kw]. Differentiable in q, k and rpb.
/// `causal` (per axis) restricts the window to the query and the k - 1 group members before it (no rpb).
at::Tensor na_qk(const at::Tensor& q, const at::Tensor& k, const at::Tensor& rpb, std::array<int64_t, 2> kernel,
                 std::array<int64_t, 2> dilation, std::array<bool, 2> causal = {false, false});
/// Weighted sum over the neighbourhood: attn [B, heads, H, W, kh * kw], v [B, heads, H, W, d] -> [B, heads, H, W, d].
at::Tensor na_av(const at::Tensor& attn, const at::Tensor& v, std::array<int64_t, 2> kernel,
                 std::array<int64_t, 2> dilation, std::array<bool, 2> causal = {false, false});
/// Whether this build has the CUDA kernels (built against a CUDA LibTorch): na_qk / na_av run them on CUDA
/// tensors (float32 / float64) when attnzoo's kernels are on, the ATen path below otherwise.
bool na_has_cuda_kernels();
/// The same two ops from ATen primitives (gathered neighbours): any device, autograd through ATen. na_qk /
/// na_av use them for devices without attnzoo kernels; the reference the CUDA kernels are tested against.
at::Tensor na_qk_aten(const at::Tensor& q, const at::Tensor& k, const at::Tensor& rpb, std::array<int64_t, 2> kernel,
                      std::array<int64_t, 2> dilation, std::array<bool, 2> causal = {false, false});
at::Tensor na_av_aten(const at::Tensor& attn, const at::Tensor& v, std::array<int64_t, 2> kernel,
                      std::array<int64_t, 2> dilation, std::array<bool, 2> causal = {false, false});
/// The naive reference: gathers K and V per query (k^2 * d memory per token) and uses plain tensor ops.
/// softmax(q . k_nbr + rpb) . v_nbr; q already scaled. Used by the tests and the benchmark.
at::Tensor na_reference(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& rpb,
                        std::array<int64_t, 2> kernel, std::array<int64_t, 2> dilation,
                        std::array<bool, 2> causal = {false, false});
/// Per-axis neighbour indices [L, k] and bias indices [L, k] (long), for tests and the reference.
std::array<at::Tensor, 2> na_axis_indices(int64_t length, int64_t kernel, int64_t dilation, bool causal = false);

/// 2-D neighborhood attention module (natten 0.14 NeighborhoodAttention2D): x [B, H, W, C] (channels-last)
/// -> same. Keys rpb [heads, 2k-1, 2k-1] (with bias), qkv, proj. Maps smaller than kernel * dilation are
/// zero-padded at the bottom/right before qkv and cropped after (natten 0.14 behaviour).
class NeighborhoodAttention2DImpl : public torch::nn::Cloneable<NeighborhoodAttention2DImpl> {
 public:
  explicit NeighborhoodAttention2DImpl(const NeighborhoodAttentionOptions& options);
  NeighborhoodAttention2DImpl(int64_t dim, int64_t num_heads, int64_t kernel_size)
      : NeighborhoodAttention2DImpl(NeighborhoodAttentionOptions(dim, num_heads, kernel_size)) {}
  void reset() override;
  void pretty_print(std::ostream& os) const override { print_options(os, "attnzoo::NeighborhoodAttention2D", options); }
  at::Tensor forward(const at::Tensor& x);

  NeighborhoodAttentionOptions options;
  at::Tensor rpb;
  torch::nn::Linear qkv{nullptr};
  torch::nn::Linear proj{nullptr};
};
TORCH_MODULE(NeighborhoodAttention2D);

/// 1-D neighborhood attention (natten 0.14 NeighborhoodAttention1D): x [B, L, C] -> same; rpb [heads, 2k-1].
class NeighborhoodAttention1DImpl : public torch::nn::Cloneable<NeighborhoodAttention1DImpl> {
 public:
  explicit NeighborhoodAttention1DImpl(const NeighborhoodAttentionOptions& options);
  NeighborhoodAttention1DImpl(int64_t dim, int64_t num_heads, int64_t kernel_size)
      : NeighborhoodAttention1DImpl(NeighborhoodAttentionOptions(dim, num_heads, kernel_size)) {}
  void reset() override;
  void pretty_print(std::ostream& os) const override { print_options(os, "attnzoo::NeighborhoodAttention1D", options); }
  /// key_padding_mask [B, L] bool (true = padding): padded neighbours are masked, padded outputs are zero.
  at::Tensor forward(const at::Tensor& x, const at::Tensor& key_padding_mask = {});

  NeighborhoodAttentionOptions options;
  at::Tensor rpb;
  torch::nn::Linear qkv{nullptr};
  torch::nn::Linear proj{nullptr};
};
TORCH_MODULE(NeighborhoodAttention1D);

class MHSARPBImpl : public torch::nn::Cloneable<MHSARPBImpl> {
 public:
  explicit MHSARPBImpl(const MHSARPBOptions& options) : options(options) { reset(); }
  MHSARPBImpl(int64_t dim, int64_t input_size, int64_t num_heads)
      : MHSARPBImpl(MHSARPBOptions(dim, input_size, num_heads)) {}
  void reset() override;
  void pretty_print(std::ostream& os) const override;
  at::Tensor forward(const at::Tensor& x);  // [B, L, L, C]

  MHSARPBOptions options;
  at::Tensor rpb, relative_position_index;
  torch::nn::Linear qkv{nullptr}, proj{nullptr};
};
TORCH_MODULE(MHSARPB);

class NATLayerImpl : public torch::nn::Cloneable<NATLayerImpl> {
 public:
  explicit NATLayerImpl(const NATLayerOptions& options);
  NATLayerImpl(int64_t dim, int64_t num_heads) : NATLayerImpl(NATLayerOptions(dim, num_heads)) {}
  void reset() override;
  void pretty_print(std::ostream& os) const override { print_options(os, "attnzoo::NATLayer", options); }
  at::Tensor forward(const at::Tensor& x);  // [B, H, W, C]

  NATLayerOptions options;
  at::Tensor gamma1, gamma2;
  torch::nn::LayerNorm norm1{nullptr}, norm2{nullptr};
  torch::nn::AnyModule attn;
  Mlp mlp{nullptr};
};
TORCH_MODULE(NATLayer);

}  // namespace attnzoo::modules
