#pragma once
// Agent Attention (Han et al., "Agent Attention: On the Integration of Softmax and Linear Attention",
// arXiv 2312.08874; LeapLabTHU/Agent-Attention agent_transformer/models). A small set of agent tokens
// (the projected queries average-pooled to sqrt(agent_num)^2) first aggregates the keys/values
// (softmax(A K^T + position bias) V), then broadcasts them back to every query (softmax(Q A^T + agent
// bias)), plus a depthwise-conv branch on V. The position / agent biases are 7x7 grids resized
// bilinearly (align_corners false) to the key / query map, plus per-row and per-column biases.
//
// Flavours (the official files), same keys as the official code:
//  - "deit": tokens with a class token first: extra ac_bias / ca_bias for it, DWC on patches only;
//            qkv (one Linear), proj, dwc. Map size fixed by `window` (img_size / patch_size).
//  - "swin": windows [num_windows * B, ws * ws, C]; qkv, proj, dwc; bias grids of `window`.
//  - "pvt":  forward(x, H, W) on a square map of `window`^2 tokens; q, kv Linears; with sr_ratio > 1 the
//            keys/values come from a strided conv `sr` + LayerNorm `norm` and V is upsampled for the DWC.
// Keys: an_bias, na_bias, ah_bias, aw_bias, ha_bias, wa_bias, [ac_bias, ca_bias], then the layers.
#include <torch/arg.h>
#include <torch/nn/cloneable.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>
#include <torch/nn/pimpl.h>

#include <string>

namespace attnzoo::modules {

struct AgentAttentionOptions {
  AgentAttentionOptions(int64_t dim, int64_t num_heads) : dim_(dim), num_heads_(num_heads) {}
  TORCH_ARG(int64_t, dim);
  TORCH_ARG(int64_t, num_heads);
  TORCH_ARG(std::string, flavour) = "deit";  // "deit", "swin", "pvt"
  TORCH_ARG(bool, qkv_bias) = false;
  TORCH_ARG(int64_t, agent_num) = 49;  // a square number (pooled to sqrt x sqrt)
  TORCH_ARG(int64_t, window) = 14;     // side of the (query) token map the biases are built for
  TORCH_ARG(int64_t, sr_ratio) = 1;    // pvt only
  TORCH_ARG(double, attn_drop) = 0.0;
  TORCH_ARG(double, proj_drop) = 0.0;
};

class AgentAttentionImpl : public torch::nn::Cloneable<AgentAttentionImpl> {
 public:
  explicit AgentAttentionImpl(const AgentAttentionOptions& options);
  void reset() override;
  /// deit: x [B, 1 + window^2, C]; swin: [B', window^2, C]; pvt: [B, H*W, C] with H == W == window.
  /// H, W are only read by the pvt flavour (0: window).
  at::Tensor forward(const at::Tensor& x, int64_t H = 0, int64_t W = 0);

  AgentAttentionOptions options;
  at::Tensor an_bias, na_bias, ah_bias, aw_bias, ha_bias, wa_bias, ac_bias, ca_bias;
  torch::nn::Linear qkv{nullptr}, q{nullptr}, kv{nullptr}, proj{nullptr};
  torch::nn::Conv2d sr{nullptr}, dwc{nullptr};
  torch::nn::LayerNorm norm{nullptr};
};
TORCH_MODULE(AgentAttention);

/// PVT's spatial-reduction attention (agent_pvt.py Attention, attn_type 'B'): keys/values from a strided
/// conv `sr` + LayerNorm `norm` when sr_ratio > 1. Keys q, kv, proj, [sr, norm]. forward(x, H, W).
struct SRAttentionOptions {
  SRAttentionOptions(int64_t dim, int64_t num_heads) : dim_(dim), num_heads_(num_heads) {}
  TORCH_ARG(int64_t, dim);
  TORCH_ARG(int64_t, num_heads);
  TORCH_ARG(bool, qkv_bias) = false;
  TORCH_ARG(int64_t, sr_ratio) = 1;
};

class SRAttentionImpl : public torch::nn::Cloneable<SRAttentionImpl> {
 public:
  explicit SRAttentionImpl(const SRAttentionOptions& options) : options(options) { reset(); }
  SRAttentionImpl(int64_t dim, int64_t num_heads) : SRAttentionImpl(SRAttentionOptions(dim, num_heads)) {}
  void reset() override;
  void pretty_print(std::ostream& os) const override;
  at::Tensor forward(const at::Tensor& x, int64_t H, int64_t W);

  SRAttentionOptions options;
  torch::nn::Linear q{nullptr}, kv{nullptr}, proj{nullptr};
  torch::nn::Conv2d sr{nullptr};
  torch::nn::LayerNorm norm{nullptr};
};
TORCH_MODULE(SRAttention);

/// Swin's window attention with a relative position bias (agent_swin.py WindowAttention, attn_type 'B'):
/// x [num_windows * B, ws*ws, C], optional additive mask [num_windows, N, N]. Keys
/// relative_position_bias_table, relative_position_index (buffer), qkv, proj.
struct SwinWindowAttentionOptions {
  SwinWindowAttentionOptions(int64_t dim, int64_t window_size, int64_t num_heads)
      : dim_(dim), window_size_(window_size), num_heads_(num_heads) {}
  TORCH_ARG(int64_t, dim);
  TORCH_ARG(int64_t, window_size);
  TORCH_ARG(int64_t, num_heads);
  TORCH_ARG(bool, qkv_bias) = true;
};

class SwinWindowAttentionImpl : public torch::nn::Cloneable<SwinWindowAttentionImpl> {
 public:
  explicit SwinWindowAttentionImpl(const SwinWindowAttentionOptions& options) : options(options) { reset(); }
  SwinWindowAttentionImpl(int64_t dim, int64_t window_size, int64_t num_heads)
      : SwinWindowAttentionImpl(SwinWindowAttentionOptions(dim, window_size, num_heads)) {}
  void reset() override;
  void pretty_print(std::ostream& os) const override;
  at::Tensor forward(const at::Tensor& x, const at::Tensor& mask = {});

  SwinWindowAttentionOptions options;
  at::Tensor relative_position_bias_table, relative_position_index;
  torch::nn::Linear qkv{nullptr}, proj{nullptr};
};
TORCH_MODULE(SwinWindowAttention);

}  // namespace attnzoo::modules
