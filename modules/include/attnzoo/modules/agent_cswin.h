#pragma once
// CSWin's cross-shaped window attention (Dong et al., arXiv 2107.00652) as Agent-CSWin uses it
// (LeapLabTHU/Agent-Attention agent_transformer/models/agent_cswin.py): the token map is cut into stripes
// of split_size rows (idx 0: full-height columns W_sp = split_size) or columns (idx 1: full-width rows
// H_sp = split_size), or taken whole (idx -1); attention runs inside each stripe and a LePE (a depthwise 3x3
// conv `get_v` over V, zero-padded at the stripe's border) is added. Both attentions take the block's
// projected q, k, v [B, H*W, dim] (the block owns qkv / proj) and return [B, H*W, dim].
//  - CSWinLePEAttention (LePEAttention, attn_type 'B'): softmax attention in the stripe. Keys get_v.
//  - CSWinAgentAttention (AgentAttention, attn_type 'A'): agent attention in the stripe, the bias grids sized
//    for the stripe. Keys an_bias, na_bias, ah_bias, aw_bias, ha_bias, wa_bias, get_v.
//  - CSWinBlock (CSWinBlock), CSWinMergeBlock (Merge_Block).
#include <attnzoo/modules/drop_path.h>
#include <attnzoo/modules/mlp.h>
#include <attnzoo/modules/options/agent_cswin.h>

#include <torch/nn/cloneable.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>
#include <torch/nn/pimpl.h>

#include <vector>

namespace attnzoo::modules {

class CSWinLePEAttentionImpl : public torch::nn::Cloneable<CSWinLePEAttentionImpl> {
 public:
  explicit CSWinLePEAttentionImpl(const LePEAttentionOptions& options);
  CSWinLePEAttentionImpl(int64_t dim, int64_t resolution, int64_t idx)
      : CSWinLePEAttentionImpl(LePEAttentionOptions(dim, resolution, idx)) {}
  void reset() override;
  void pretty_print(std::ostream& os) const override;
  at::Tensor forward(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v);
  LePEAttentionOptions options;
  int64_t H_sp = 0, W_sp = 0;
  torch::nn::Conv2d get_v{nullptr};
};
TORCH_MODULE(CSWinLePEAttention);

class CSWinAgentAttentionImpl : public torch::nn::Cloneable<CSWinAgentAttentionImpl> {
 public:
  explicit CSWinAgentAttentionImpl(const CSWinAgentAttentionOptions& options);
  CSWinAgentAttentionImpl(int64_t dim, int64_t resolution, int64_t idx)
      : CSWinAgentAttentionImpl(CSWinAgentAttentionOptions(dim, resolution, idx)) {}
  void reset() override;
  void pretty_print(std::ostream& os) const override;
  at::Tensor forward(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v);
  CSWinAgentAttentionOptions options;
  int64_t H_sp = 0, W_sp = 0;
  at::Tensor an_bias, na_bias, ah_bias, aw_bias, ha_bias, wa_bias;
  torch::nn::Conv2d get_v{nullptr};
};
TORCH_MODULE(CSWinAgentAttention);

/// x + DropPath(proj(stripes(qkv(norm1(x))))), then x + DropPath(mlp(norm2(x))). Keys qkv, norm1, proj,
/// attns.{k}, mlp, norm2.
class CSWinBlockImpl : public torch::nn::Cloneable<CSWinBlockImpl> {
 public:
  explicit CSWinBlockImpl(const CSWinBlockOptions& options);
  CSWinBlockImpl(int64_t dim, int64_t reso, int64_t num_heads)
      : CSWinBlockImpl(CSWinBlockOptions(dim, reso, num_heads)) {}
  void reset() override;
  void pretty_print(std::ostream& os) const override;
  /// x [B, reso * reso, dim].
  at::Tensor forward(const at::Tensor& x);

  CSWinBlockOptions options;
  torch::nn::Linear qkv{nullptr}, proj{nullptr};
  torch::nn::LayerNorm norm1{nullptr}, norm2{nullptr};
  torch::nn::ModuleList attns{nullptr};
  Mlp mlp{nullptr};
  DropPath drop_path{nullptr};

 private:
  at::Tensor branch(size_t i, const at::Tensor& q, const at::Tensor& k, const at::Tensor& v);
  std::vector<CSWinAgentAttention> agent_;
  std::vector<CSWinLePEAttention> lepe_;
};
TORCH_MODULE(CSWinBlock);

class CSWinMergeBlockImpl : public torch::nn::Cloneable<CSWinMergeBlockImpl> {
 public:
  explicit CSWinMergeBlockImpl(const CSWinMergeBlockOptions& options);
  CSWinMergeBlockImpl(int64_t dim, int64_t dim_out) : CSWinMergeBlockImpl(CSWinMergeBlockOptions(dim, dim_out)) {}
  void reset() override;
  void pretty_print(std::ostream& os) const override;
  /// x [B, side * side, dim] -> [B, (side / 2)^2, dim_out].
  at::Tensor forward(const at::Tensor& x, int64_t side);

  CSWinMergeBlockOptions options;
  torch::nn::Conv2d conv{nullptr};
  torch::nn::LayerNorm norm{nullptr};
};
TORCH_MODULE(CSWinMergeBlock);

}  // namespace attnzoo::modules
