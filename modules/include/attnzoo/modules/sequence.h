#pragma once
// 1-D (sequence) forms of the attention families, for sequence backbones (Long Range Arena). Every module
// maps x [B, L, C] to [B, L, C] and takes an optional key padding mask [B, L] (true = padding): padded
// tokens never influence the others (their keys / values are masked or zeroed before any mixing), and
// their own outputs are zero. Each family's form lives with the family (same stem):
//
//  - SoftmaxAttention1D        (here) full softmax attention (the baseline; O(L^2)), optional causal mask
//  - NeighborhoodAttention1D   (nat.h) with forward(x, mask): O(L k), dilated, optional causal
//  - BlockLocalAttention1D     (halo_attn.h) halo attention along the sequence: query blocks of `block`, keys
//                              in the block +- `halo` (O(L (block + 2 halo)))
//  - AgentAttention1D          (agent.h) agent tokens pooled from the queries (masked mean over agent_num
//                              bins), agent aggregation and broadcast + depthwise conv on V (O(L agents))
//  - LKA1D                     (van.h) VAN's large-kernel gate in 1-D: depthwise k5 -> depthwise k7
//                              dilation 3 -> 1x1, multiplied with the input (O(L))
//  - HiLo1D                    (litv2.h) alpha of the heads attend to window-pooled keys (Lo-Fi, global), the
//                              others inside non-overlapping windows (Hi-Fi) (O(L^2 / w + L w))
//  - ChannelGroupAttention1D   (davit.h) DaViT's channel group attention: softmax over the d x d channel Gram
//                              matrix of each head (O(L d^2)); padded tokens' keys / values are zeroed
//  - BiLevelRoutingAttention1D (biformer.h) BiFormer's BRA: regions of `block` tokens, region-level routing
//                              (masked-mean q, k; top-k regions per region), token attention inside the
//                              routed regions, + LePE (depthwise conv on V) (O(L topk block))
//  - GPSA1D                    (convit.h) ConViT's gated positional self-attention with 1-D relative
//                              positions (delta, delta^2): a per-head sigmoid gate mixes content and
//                              positional attention (O(L^2))
//  - SigmoidAttention1D        (sigmoid_attn.h) sigmoid(q k^T / sqrt(d) + b), b = -log n, QK norm; optional
//                              causal mask, RoPE / ALiBi (O(L^2))
//  - TnlAttention              (lightning_attn.h) decayed linear attention, Lightning Attention-2 blocks
//                              (O(L d^2)), bidirectional in encoders
//  - GConv                     (sgconv.h) SGConv's multi-scale decaying global convolution via FFT
//                              (O(L log L)), bidirectional in encoders
//  - DilatedReparamBlock1D     (unireplknet.h) UniRepLKNet's large depthwise kernel + dilated branches (O(L k))
//  - MoHAttention1D            (moh.h) mixture-of-head attention: shared + top-k routed heads per token (O(L^2))
//  - OutlookAttention1D        (volo.h) VOLO's outlook attention over 3-token windows, folded (O(L k^2))
// The registry of them by name (lra_encoder's `attention`) is sequence_registry.h.
#include <attnzoo/modules/pretty_print.h>
#include <attnzoo/modules/options/sequence.h>

#include <torch/nn/cloneable.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

namespace attnzoo::modules {

/// Zeroes the padded tokens of x [B, L, C] (mask [B, L], true = padding); returns x unchanged without a mask.
at::Tensor zero_padding(const at::Tensor& x, const at::Tensor& mask);

class SoftmaxAttention1DImpl : public torch::nn::Cloneable<SoftmaxAttention1DImpl> {
 public:
  explicit SoftmaxAttention1DImpl(const SoftmaxAttention1DOptions& options);
  SoftmaxAttention1DImpl(int64_t dim, int64_t num_heads)
      : SoftmaxAttention1DImpl(SoftmaxAttention1DOptions(dim, num_heads)) {}
  void reset() override;
  void pretty_print(std::ostream& os) const override { print_options(os, "attnzoo::SoftmaxAttention1D", options); }
  at::Tensor forward(const at::Tensor& x, const at::Tensor& mask = {});
  SoftmaxAttention1DOptions options;
  torch::nn::Linear qkv{nullptr}, proj{nullptr};
};
TORCH_MODULE(SoftmaxAttention1D);

}  // namespace attnzoo::modules
