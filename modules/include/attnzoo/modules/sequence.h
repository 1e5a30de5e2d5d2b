#pragma once
// 1-D (sequence) forms of the attention families, for sequence backbones (Long Range Arena). Every module
// maps x [B, L, C] to [B, L, C] and takes an optional key padding mask [B, L] (true = padding): padded
// tokens never influence the others (their keys / values are masked or zeroed before any mixing), and
// their own outputs are zero.
//
//  - SoftmaxAttention1D      full softmax attention (the baseline; O(L^2)), optional causal mask
//  - NeighborhoodAttention1D (neighborhood.h) with forward(x, mask): O(L k), dilated, optional causal
//  - BlockLocalAttention1D   halo attention along the sequence: query blocks of `block`, keys in the block
//                            +- `halo` (O(L (block + 2 halo)))
//  - AgentAttention1D        agent tokens pooled from the queries (masked mean over agent_num bins), agent
//                            aggregation and broadcast + depthwise conv on V (O(L agents))
//  - LKA1D                   VAN's large-kernel gate in 1-D: depthwise k5 -> depthwise k7 dilation 3 -> 1x1,
//                            multiplied with the input (O(L))
#include <torch/arg.h>
#include <torch/nn/cloneable.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

namespace attnzoo::modules {

struct SequenceAttentionOptions {
  SequenceAttentionOptions(int64_t dim, int64_t num_heads) : dim_(dim), num_heads_(num_heads) {}
  TORCH_ARG(int64_t, dim);
  TORCH_ARG(int64_t, num_heads);
  TORCH_ARG(bool, qkv_bias) = true;
  TORCH_ARG(bool, causal) = false;    // SoftmaxAttention1D
  TORCH_ARG(int64_t, block) = 64;     // BlockLocalAttention1D
  TORCH_ARG(int64_t, halo) = 32;      // BlockLocalAttention1D
  TORCH_ARG(int64_t, agent_num) = 64;  // AgentAttention1D
};

/// Zeroes the padded tokens of x [B, L, C] (mask [B, L], true = padding); returns x unchanged without a mask.
at::Tensor zero_padding(const at::Tensor& x, const at::Tensor& mask);

class SoftmaxAttention1DImpl : public torch::nn::Cloneable<SoftmaxAttention1DImpl> {
 public:
  explicit SoftmaxAttention1DImpl(const SequenceAttentionOptions& options);
  void reset() override;
  at::Tensor forward(const at::Tensor& x, const at::Tensor& mask = {});
  SequenceAttentionOptions options;
  torch::nn::Linear qkv{nullptr}, proj{nullptr};
};
TORCH_MODULE(SoftmaxAttention1D);

class BlockLocalAttention1DImpl : public torch::nn::Cloneable<BlockLocalAttention1DImpl> {
 public:
  explicit BlockLocalAttention1DImpl(const SequenceAttentionOptions& options);
  void reset() override;
  at::Tensor forward(const at::Tensor& x, const at::Tensor& mask = {});
  SequenceAttentionOptions options;
  torch::nn::Linear qkv{nullptr}, proj{nullptr};
};
TORCH_MODULE(BlockLocalAttention1D);

class AgentAttention1DImpl : public torch::nn::Cloneable<AgentAttention1DImpl> {
 public:
  explicit AgentAttention1DImpl(const SequenceAttentionOptions& options);
  void reset() override;
  at::Tensor forward(const at::Tensor& x, const at::Tensor& mask = {});
  SequenceAttentionOptions options;
  torch::nn::Linear qkv{nullptr}, proj{nullptr};
  torch::nn::Conv1d dwc{nullptr};
};
TORCH_MODULE(AgentAttention1D);

class LKA1DImpl : public torch::nn::Cloneable<LKA1DImpl> {
 public:
  explicit LKA1DImpl(int64_t dim);
  void reset() override;
  at::Tensor forward(const at::Tensor& x, const at::Tensor& mask = {});
  int64_t dim;
  torch::nn::Conv1d conv0{nullptr}, conv_spatial{nullptr}, conv1{nullptr};
};
TORCH_MODULE(LKA1D);

}  // namespace attnzoo::modules
