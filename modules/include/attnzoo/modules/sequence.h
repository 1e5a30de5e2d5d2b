#pragma once
// 1-D (sequence) forms of the attention families, for sequence backbones (Long Range Arena). Every module
// maps x [B, L, C] to [B, L, C] and takes an optional key padding mask [B, L] (true = padding): padded
// tokens never influence the others (their keys / values are masked or zeroed before any mixing), and
// their own outputs are zero.
//
//  - SoftmaxAttention1D      full softmax attention (the baseline; O(L^2)), optional causal mask
//  - NeighborhoodAttention1D (nat.h) with forward(x, mask): O(L k), dilated, optional causal
//  - BlockLocalAttention1D   halo attention along the sequence: query blocks of `block`, keys in the block
//                            +- `halo` (O(L (block + 2 halo)))
//  - AgentAttention1D        agent tokens pooled from the queries (masked mean over agent_num bins), agent
//                            aggregation and broadcast + depthwise conv on V (O(L agents))
//  - LKA1D                   VAN's large-kernel gate in 1-D: depthwise k5 -> depthwise k7 dilation 3 -> 1x1,
//                            multiplied with the input (O(L))
//  - HiLo1D                  LITv2's HiLo along the sequence: alpha of the heads attend to window-pooled keys
//                            (Lo-Fi, global), the others inside non-overlapping windows (Hi-Fi) (O(L^2 / w + L w))
//  - ChannelGroupAttention1D DaViT's channel group attention on sequences: softmax over the d x d channel
//                            Gram matrix of each head (O(L d^2)); padded tokens' keys / values are zeroed. DaViT
//                            pairs it with window attention = BlockLocalAttention1D with halo 0 (lra_encoder
//                            attention "davit" alternates the two)
//  - BiLevelRoutingAttention1D BiFormer's BRA along the sequence: regions of `block` tokens, region-level
//                            routing (masked-mean q, k; top-k regions per region), token attention inside the
//                            routed regions, + LePE (depthwise conv on V) (O(L topk block))
//  - GPSA1D                  ConViT's gated positional self-attention with 1-D relative positions (delta,
//                            delta^2): a per-head sigmoid gate mixes content and positional attention (O(L^2))
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
  TORCH_ARG(int64_t, window) = 16;     // HiLo1D: Hi-Fi window and Lo-Fi pooling size
  TORCH_ARG(double, alpha) = 0.5;      // HiLo1D: share of Lo-Fi heads
  TORCH_ARG(double, locality_strength) = 1.0;  // GPSA1D
  TORCH_ARG(int64_t, topk) = 4;        // BiLevelRoutingAttention1D (regions of `block` tokens)
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

class HiLo1DImpl : public torch::nn::Cloneable<HiLo1DImpl> {
 public:
  explicit HiLo1DImpl(const SequenceAttentionOptions& options);
  void reset() override;
  at::Tensor forward(const at::Tensor& x, const at::Tensor& mask = {});
  SequenceAttentionOptions options;
  int64_t l_heads = 0, h_heads = 0, head_dim = 0;
  torch::nn::Linear l_q{nullptr}, l_kv{nullptr}, l_proj{nullptr}, h_qkv{nullptr}, h_proj{nullptr};
};
TORCH_MODULE(HiLo1D);

class ChannelGroupAttention1DImpl : public torch::nn::Cloneable<ChannelGroupAttention1DImpl> {
 public:
  explicit ChannelGroupAttention1DImpl(const SequenceAttentionOptions& options);
  void reset() override;
  at::Tensor forward(const at::Tensor& x, const at::Tensor& mask = {});
  SequenceAttentionOptions options;
  torch::nn::Linear qkv{nullptr}, proj{nullptr};
};
TORCH_MODULE(ChannelGroupAttention1D);

class BiLevelRoutingAttention1DImpl : public torch::nn::Cloneable<BiLevelRoutingAttention1DImpl> {
 public:
  explicit BiLevelRoutingAttention1DImpl(const SequenceAttentionOptions& options);
  void reset() override;
  at::Tensor forward(const at::Tensor& x, const at::Tensor& mask = {});
  SequenceAttentionOptions options;
  torch::nn::Linear qkv{nullptr}, proj{nullptr};
  torch::nn::Conv1d lepe{nullptr};
};
TORCH_MODULE(BiLevelRoutingAttention1D);

class GPSA1DImpl : public torch::nn::Cloneable<GPSA1DImpl> {
 public:
  explicit GPSA1DImpl(const SequenceAttentionOptions& options);
  void reset() override;
  at::Tensor forward(const at::Tensor& x, const at::Tensor& mask = {});
  SequenceAttentionOptions options;
  at::Tensor gating_param;
  torch::nn::Linear qk{nullptr}, v{nullptr}, pos_proj{nullptr}, proj{nullptr};
};
TORCH_MODULE(GPSA1D);

}  // namespace attnzoo::modules
