#pragma once
// Agent Attention (Han et al., "Agent Attention: On the Integration of Softmax and Linear Attention",
// arXiv 2312.08874; LeapLabTHU/Agent-Attention agent_transformer/models). A small set of agent tokens
// (the projected queries average-pooled to sqrt(agent_num)^2) first aggregates the keys/values
// (softmax(A K^T + position bias) V), then broadcasts them back to every query (softmax(Q A^T + agent
// bias)), plus a depthwise-conv branch on V. The position / agent biases are 7x7 grids resized
// bilinearly (align_corners false) to the key / query map, plus per-row and per-column biases.
//
// One module per official class, same keys as the official code:
//  - AgentDeiTAttention (agent_deit.py): a class token first, with extra ac_bias / ca_bias; DWC on the
//    patch tokens only; qkv (one Linear), proj, dwc.
//  - AgentPVTAttention (agent_pvt.py): forward(x, H, W); q, kv Linears; with sr_ratio > 1 the keys/values
//    come from a strided conv `sr` + LayerNorm `norm` and V is upsampled for the DWC.
//  - AgentSwinAttention (agent_swin.py): windows [num_windows * B, ws * ws, C]; qkv, proj, dwc.
// Keys: an_bias, na_bias, ah_bias, aw_bias, ha_bias, wa_bias, [ac_bias, ca_bias], then the layers.
// The blocks: AgentDeiTBlock, AgentPVTBlock, AgentSwinBlock (the official block of each file).
#include <attnzoo/modules/pretty_print.h>
#include <attnzoo/modules/mlp.h>
#include <attnzoo/modules/options/agent.h>

#include <torch/nn/cloneable.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>
#include <torch/nn/pimpl.h>


namespace attnzoo::modules {

class AgentDeiTAttentionImpl : public torch::nn::Cloneable<AgentDeiTAttentionImpl> {
 public:
  explicit AgentDeiTAttentionImpl(const AgentDeiTAttentionOptions& options);
  AgentDeiTAttentionImpl(int64_t dim, int64_t num_heads)
      : AgentDeiTAttentionImpl(AgentDeiTAttentionOptions(dim, num_heads)) {}
  void reset() override;
  void pretty_print(std::ostream& os) const override;
  /// x [B, 1 + window^2, C].
  at::Tensor forward(const at::Tensor& x);

  AgentDeiTAttentionOptions options;
  at::Tensor an_bias, na_bias, ah_bias, aw_bias, ha_bias, wa_bias, ac_bias, ca_bias;
  torch::nn::Linear qkv{nullptr}, proj{nullptr};
  torch::nn::Conv2d dwc{nullptr};
};
TORCH_MODULE(AgentDeiTAttention);

class AgentPVTAttentionImpl : public torch::nn::Cloneable<AgentPVTAttentionImpl> {
 public:
  explicit AgentPVTAttentionImpl(const AgentPVTAttentionOptions& options);
  AgentPVTAttentionImpl(int64_t dim, int64_t num_patches, int64_t num_heads)
      : AgentPVTAttentionImpl(AgentPVTAttentionOptions(dim, num_patches, num_heads)) {}
  void reset() override;
  void pretty_print(std::ostream& os) const override;
  /// x [B, H*W, C] with H == W == sqrt(num_patches).
  at::Tensor forward(const at::Tensor& x, int64_t H, int64_t W);

  AgentPVTAttentionOptions options;
  int64_t window = 0;  // sqrt(num_patches)
  at::Tensor an_bias, na_bias, ah_bias, aw_bias, ha_bias, wa_bias;
  torch::nn::Linear q{nullptr}, kv{nullptr}, proj{nullptr};
  torch::nn::Conv2d sr{nullptr}, dwc{nullptr};
  torch::nn::LayerNorm norm{nullptr};
};
TORCH_MODULE(AgentPVTAttention);

class AgentSwinAttentionImpl : public torch::nn::Cloneable<AgentSwinAttentionImpl> {
 public:
  explicit AgentSwinAttentionImpl(const AgentSwinAttentionOptions& options);
  AgentSwinAttentionImpl(int64_t dim, int64_t window, int64_t num_heads)
      : AgentSwinAttentionImpl(AgentSwinAttentionOptions(dim, window, num_heads)) {}
  void reset() override;
  void pretty_print(std::ostream& os) const override;
  /// x [num_windows * B, ws * ws, C].
  at::Tensor forward(const at::Tensor& x);

  AgentSwinAttentionOptions options;
  at::Tensor an_bias, na_bias, ah_bias, aw_bias, ha_bias, wa_bias;
  torch::nn::Linear qkv{nullptr}, proj{nullptr};
  torch::nn::Conv2d dwc{nullptr};
};
TORCH_MODULE(AgentSwinAttention);

/// PVT's spatial-reduction attention (agent_pvt.py Attention). Keys q, kv, proj, [sr, norm]. forward(x, H, W).
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

/// Swin's window attention (agent_swin.py WindowAttention): x [num_windows * B, ws*ws, C], optional additive
/// mask [num_windows, N, N]. Keys relative_position_bias_table, relative_position_index (buffer), qkv, proj.
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

/// agent_deit.py AgentBlock / DeiT's Block. Keys norm1, attn, norm2, mlp.
class AgentDeiTBlockImpl : public torch::nn::Cloneable<AgentDeiTBlockImpl> {
 public:
  explicit AgentDeiTBlockImpl(const AgentDeiTBlockOptions& options);
  AgentDeiTBlockImpl(int64_t dim, int64_t num_heads) : AgentDeiTBlockImpl(AgentDeiTBlockOptions(dim, num_heads)) {}
  void reset() override;
  void pretty_print(std::ostream& os) const override;
  /// x [B, 1 + window^2, C].
  at::Tensor forward(const at::Tensor& x);

  AgentDeiTBlockOptions options;
  torch::nn::LayerNorm norm1{nullptr}, norm2{nullptr};
  std::shared_ptr<torch::nn::Module> attn;  // AgentDeiTAttention or MultiHeadSelfAttention
  Mlp mlp{nullptr};
};
TORCH_MODULE(AgentDeiTBlock);

/// agent_pvt.py Block. Keys norm1, attn, norm2, mlp.
class AgentPVTBlockImpl : public torch::nn::Cloneable<AgentPVTBlockImpl> {
 public:
  explicit AgentPVTBlockImpl(const AgentPVTBlockOptions& options);
  AgentPVTBlockImpl(int64_t dim, int64_t num_patches, int64_t num_heads)
      : AgentPVTBlockImpl(AgentPVTBlockOptions(dim, num_patches, num_heads)) {}
  void reset() override;
  void pretty_print(std::ostream& os) const override;
  at::Tensor forward(const at::Tensor& x, int64_t H, int64_t W);

  AgentPVTBlockOptions options;
  torch::nn::LayerNorm norm1{nullptr}, norm2{nullptr};
  std::shared_ptr<torch::nn::Module> attn;  // AgentPVTAttention or SRAttention
  Mlp mlp{nullptr};
};
TORCH_MODULE(AgentPVTBlock);

/// agent_swin.py SwinTransformerBlock. Keys norm1, attn, norm2, mlp, [attn_mask].
class AgentSwinBlockImpl : public torch::nn::Cloneable<AgentSwinBlockImpl> {
 public:
  explicit AgentSwinBlockImpl(const AgentSwinBlockOptions& options);
  AgentSwinBlockImpl(int64_t dim, std::vector<int64_t> input_resolution, int64_t num_heads)
      : AgentSwinBlockImpl(AgentSwinBlockOptions(dim, input_resolution, num_heads)) {}
  void reset() override;
  void pretty_print(std::ostream& os) const override;
  /// x [B, H*W, C].
  at::Tensor forward(const at::Tensor& x);

  AgentSwinBlockOptions options;
  int64_t window = 0, shift = 0;  // after the official clamp (a window covering the map is not shifted)
  torch::nn::LayerNorm norm1{nullptr}, norm2{nullptr};
  std::shared_ptr<torch::nn::Module> attn;
  Mlp mlp{nullptr};
  at::Tensor attn_mask;

 private:
  at::Tensor partition(const at::Tensor& x) const;  // [B, H, W, C] -> [B * nW, ws, ws, C]
};
TORCH_MODULE(AgentSwinBlock);

/// The 1-D (sequence) form, x [B, L, C] with an optional key padding mask [B, L] (see sequence.h).
class AgentAttention1DImpl : public torch::nn::Cloneable<AgentAttention1DImpl> {
 public:
  explicit AgentAttention1DImpl(const AgentAttention1DOptions& options);
  AgentAttention1DImpl(int64_t dim, int64_t num_heads)
      : AgentAttention1DImpl(AgentAttention1DOptions(dim, num_heads)) {}
  void reset() override;
  void pretty_print(std::ostream& os) const override { print_options(os, "attnzoo::AgentAttention1D", options); }
  at::Tensor forward(const at::Tensor& x, const at::Tensor& mask = {});
  AgentAttention1DOptions options;
  torch::nn::Linear qkv{nullptr}, proj{nullptr};
  torch::nn::Conv1d dwc{nullptr};
};
TORCH_MODULE(AgentAttention1D);

}  // namespace attnzoo::modules
