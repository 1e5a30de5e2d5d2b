// ChannelGroupAttention1D: the family's 1-D (sequence) form, and its entry in the sequence attention registry.
#include <attnzoo/modules/davit.h>

#include <attnzoo/modules/halo_attn.h>
#include <attnzoo/modules/sequence.h>
#include <attnzoo/modules/sequence_registry.h>

#include <torch/torch.h>

#include <cmath>

#include "sequence_util.h"

namespace attnzoo::modules {

namespace nn = torch::nn;
namespace F = torch::nn::functional;

ChannelGroupAttention1DImpl::ChannelGroupAttention1DImpl(const ChannelGroupAttention1DOptions& o) : options(o) { reset(); }

void ChannelGroupAttention1DImpl::reset() {
  const int64_t C = options.dim();
  TORCH_CHECK(options.num_heads() > 0 && C % options.num_heads() == 0, "ChannelGroupAttention1D: dim ", C,
              " is not divisible by num_heads ", options.num_heads());
  qkv = register_module("qkv", nn::Linear(nn::LinearOptions(C, 3 * C).bias(options.qkv_bias())));
  proj = register_module("proj", nn::Linear(C, C));
}

at::Tensor ChannelGroupAttention1DImpl::forward(const at::Tensor& x, const at::Tensor& mask) {
  seq::check_input(x, mask, options.dim(), "ChannelGroupAttention1D");
  const int64_t B = x.size(0), L = x.size(1), C = x.size(2), G = options.num_heads(), d = C / G;
  auto [q, k, v] = seq::project(qkv, x, G);  // [B, G, L, d]
  if (mask.defined()) {  // padded tokens add nothing to the channel Gram matrix
    k = k.masked_fill(mask.view({B, 1, L, 1}), 0.0);
    v = v.masked_fill(mask.view({B, 1, L, 1}), 0.0);
  }
  // davit.py ChannelAttention: softmax((k * scale)^T v) over channels, applied to the queries.
  const at::Tensor attention = torch::matmul((k * std::pow(static_cast<double>(d), -0.5)).transpose(-1, -2), v).softmax(-1);
  const at::Tensor y = torch::matmul(attention, q.transpose(-1, -2)).transpose(-1, -2);  // [B, G, L, d]
  return zero_padding(proj(seq::merge(y, B, L, C)), mask);
}

void register_davit_sequence_attentions(SequenceAttentionEntries& e) {
  e.push_back({"davit", "DaViT: window attention (block_local, halo 0) and ChannelGroupAttention1D, alternating by layer",
               [](const SequenceAttentionSpec& s) {
                 if (s.layer % 2 == 0)
                   return sequence_attention(
                       BlockLocalAttention1D(BlockLocalAttention1DOptions(s.dim, s.num_heads).block(s.block).halo(0)));
                 return sequence_attention(ChannelGroupAttention1D(ChannelGroupAttention1DOptions(s.dim, s.num_heads)));
               }});
}

}  // namespace attnzoo::modules
