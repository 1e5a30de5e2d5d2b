// BlockLocalAttention1D: the family's 1-D (sequence) form, and its entry in the sequence attention registry.
#include <attnzoo/modules/halo_attn.h>

#include <attnzoo/modules/sequence.h>
#include <attnzoo/modules/sequence_registry.h>

#include <torch/torch.h>

#include <cmath>

#include "sequence_util.h"

namespace attnzoo::modules {

namespace nn = torch::nn;
namespace F = torch::nn::functional;

BlockLocalAttention1DImpl::BlockLocalAttention1DImpl(const BlockLocalAttention1DOptions& o) : options(o) { reset(); }

void BlockLocalAttention1DImpl::reset() {
  const int64_t C = options.dim();
  TORCH_CHECK(options.num_heads() > 0 && C % options.num_heads() == 0, "BlockLocalAttention1D: dim ", C,
              " is not divisible by num_heads ", options.num_heads());
  TORCH_CHECK(options.block() > 0 && options.halo() >= 0, "BlockLocalAttention1D: block must be > 0, halo >= 0");
  qkv = register_module("qkv", nn::Linear(nn::LinearOptions(C, 3 * C).bias(options.qkv_bias())));
  proj = register_module("proj", nn::Linear(C, C));
}

at::Tensor BlockLocalAttention1DImpl::forward(const at::Tensor& x, const at::Tensor& mask) {
  seq::check_input(x, mask, options.dim(), "BlockLocalAttention1D");
  const int64_t B = x.size(0), L = x.size(1), C = x.size(2), h = options.num_heads(), d = C / h;
  const int64_t bs = options.block(), hs = options.halo(), nb = (L + bs - 1) / bs, Lp = nb * bs, win = bs + 2 * hs;
  auto [q, k, v] = seq::project(qkv, x, h);
  // Pad to whole blocks (+ the halo on both sides for keys); everything outside the sequence is masked.
  const at::Tensor pad = seq::padding_to(x, mask, Lp + hs, hs);  // [B, Lp + 2hs]
  q = F::pad(q, F::PadFuncOptions({0, 0, 0, Lp - L})).view({B, h, nb, bs, d});
  auto windows = [&](const at::Tensor& t) {  // [B, h, L, d] -> [B, h, nb, win, d]
    return F::pad(t, F::PadFuncOptions({0, 0, hs, Lp - L + hs})).unfold(2, win, bs).transpose(-1, -2);
  };
  const at::Tensor kw = windows(k), vw = windows(v);
  const at::Tensor key_pad = pad.unfold(1, win, bs).view({B, 1, nb, 1, win});
  at::Tensor logits = torch::matmul(q * std::pow(static_cast<double>(d), -0.5), kw.transpose(-2, -1));  // [B,h,nb,bs,win]
  logits = logits.masked_fill(key_pad, seq::kNegInf);
  at::Tensor out = torch::matmul(seq::safe_softmax(logits), vw).reshape({B, h, Lp, d}).slice(2, 0, L);
  return zero_padding(proj(seq::merge(out, B, L, C)), mask);
}

void register_halo_attn_sequence_attentions(SequenceAttentionEntries& e) {
  e.push_back({"block_local", "BlockLocalAttention1D (HaloNet): query blocks of `block`, keys +- `halo`",
               [](const SequenceAttentionSpec& s) {
                 return sequence_attention(
                     BlockLocalAttention1D(BlockLocalAttention1DOptions(s.dim, s.num_heads).block(s.block).halo(s.halo)));
               }});
}

}  // namespace attnzoo::modules
