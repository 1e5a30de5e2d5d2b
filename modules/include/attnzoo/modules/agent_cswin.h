#pragma once
// CSWin's cross-shaped window attention (Dong et al., arXiv 2107.00652) as Agent-CSWin uses it
// (LeapLabTHU/Agent-Attention agent_transformer/models/agent_cswin.py): the token map is cut into stripes
// of split_size rows (idx 0: full-height columns W_sp = split_size) or columns (idx 1: full-width rows
// H_sp = split_size), or taken whole (idx -1); attention runs inside each stripe and a LePE (a depthwise 3x3
// conv `get_v` over V, zero-padded at the stripe's border) is added. Both take the block's projected
// q, k, v [B, H*W, dim] (the block owns qkv / proj) and return [B, H*W, dim].
//  - CSWinLePEAttention (LePEAttention, attn_type 'B'): softmax attention in the stripe. Keys get_v.
//  - CSWinAgentAttention (AgentAttention, attn_type 'A'): agent attention in the stripe, the bias grids sized
//    for the stripe. Keys an_bias, na_bias, ah_bias, aw_bias, ha_bias, wa_bias, get_v.
#include <torch/arg.h>
#include <torch/nn/cloneable.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/pimpl.h>

namespace attnzoo::modules {

struct CSWinAttentionOptions {
  CSWinAttentionOptions(int64_t dim, int64_t resolution, int64_t idx, int64_t split_size, int64_t num_heads)
      : dim_(dim), resolution_(resolution), idx_(idx), split_size_(split_size), num_heads_(num_heads) {}
  TORCH_ARG(int64_t, dim);
  TORCH_ARG(int64_t, resolution);  // the (square) token map side
  TORCH_ARG(int64_t, idx);         // -1 whole map, 0 columns of split_size, 1 rows of split_size
  TORCH_ARG(int64_t, split_size);
  TORCH_ARG(int64_t, num_heads);
  TORCH_ARG(int64_t, agent_num) = 49;  // agent flavour only
  TORCH_ARG(double, attn_drop) = 0.0;
};

class CSWinLePEAttentionImpl : public torch::nn::Cloneable<CSWinLePEAttentionImpl> {
 public:
  explicit CSWinLePEAttentionImpl(const CSWinAttentionOptions& options);
  void reset() override;
  at::Tensor forward(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v);
  CSWinAttentionOptions options;
  int64_t H_sp = 0, W_sp = 0;
  torch::nn::Conv2d get_v{nullptr};
};
TORCH_MODULE(CSWinLePEAttention);

class CSWinAgentAttentionImpl : public torch::nn::Cloneable<CSWinAgentAttentionImpl> {
 public:
  explicit CSWinAgentAttentionImpl(const CSWinAttentionOptions& options);
  void reset() override;
  at::Tensor forward(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v);
  CSWinAttentionOptions options;
  int64_t H_sp = 0, W_sp = 0;
  at::Tensor an_bias, na_bias, ah_bias, aw_bias, ha_bias, wa_bias;
  torch::nn::Conv2d get_v{nullptr};
};
TORCH_MODULE(CSWinAgentAttention);

}  // namespace attnzoo::modules
