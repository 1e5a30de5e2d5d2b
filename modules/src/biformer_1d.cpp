// BiLevelRoutingAttention1D: the family's 1-D (sequence) form, and its entry in the sequence attention registry.
#include <attnzoo/modules/biformer.h>

#include <attnzoo/modules/sequence.h>
#include <attnzoo/modules/sequence_registry.h>

#include <torch/torch.h>

#include <cmath>

#include "sequence_util.h"

namespace attnzoo::modules {

namespace nn = torch::nn;
namespace F = torch::nn::functional;

BiLevelRoutingAttention1DImpl::BiLevelRoutingAttention1DImpl(const BiLevelRoutingAttention1DOptions& o) : options(o) { reset(); }

void BiLevelRoutingAttention1DImpl::reset() {
  const int64_t C = options.dim();
  TORCH_CHECK(options.num_heads() > 0 && C % options.num_heads() == 0, "BiLevelRoutingAttention1D: dim ", C,
              " is not divisible by num_heads ", options.num_heads());
  TORCH_CHECK(options.block() > 0 && options.topk() > 0, "BiLevelRoutingAttention1D: block and topk must be positive");
  qkv = register_module("qkv", nn::Linear(nn::LinearOptions(C, 3 * C).bias(options.qkv_bias())));
  lepe = register_module("lepe", nn::Conv1d(nn::Conv1dOptions(C, C, 5).padding(2).groups(C)));
  proj = register_module("proj", nn::Linear(C, C));
}

at::Tensor BiLevelRoutingAttention1DImpl::forward(const at::Tensor& x, const at::Tensor& mask) {
  seq::check_input(x, mask, options.dim(), "BiLevelRoutingAttention1D");
  const int64_t B = x.size(0), L = x.size(1), C = x.size(2), H = options.num_heads(), d = C / H;
  const int64_t r = options.block(), nr = (L + r - 1) / r, Lp = nr * r, topk = std::min(options.topk(), nr);
  auto [q, k, v] = seq::project(qkv, x, H);  // [B, H, L, d]
  const at::Tensor pad = seq::padding_to(x, mask, Lp);  // [B, Lp]
  auto regions = [&](const at::Tensor& t) {  // [B, H, L, d] -> [B, H, nr, r, d]
    return F::pad(t, F::PadFuncOptions({0, 0, 0, Lp - L})).view({B, H, nr, r, d});
  };
  const at::Tensor qr = regions(q), kr = regions(k), vr = regions(v);
  const at::Tensor valid = pad.logical_not().to(x.dtype()).view({B, 1, nr, r, 1});
  const at::Tensor cnt = valid.sum(3);  // [B, 1, nr, 1]
  // Region-level routing on the (detached) masked means of q and k over all channels (as BiFormer).
  auto region_mean = [&](const at::Tensor& t) {
    return ((t * valid).sum(3) / cnt.clamp_min(1.0)).detach().permute({0, 2, 1, 3}).reshape({B, nr, C});
  };
  at::Tensor a_r = torch::matmul(region_mean(qr), region_mean(kr).transpose(-1, -2));  // [B, nr, nr]
  a_r = a_r.masked_fill(cnt.view({B, 1, nr}).eq(0), seq::kNegInf);  // never route to an all-padding region
  const at::Tensor idx = std::get<1>(a_r.topk(topk, -1));     // [B, nr, topk]
  // Gather the routed regions' keys / values / padding: [B, H, nr, topk * r, d].
  const at::Tensor gi = idx.view({B, 1, nr, topk, 1, 1}).expand({B, H, nr, topk, r, d});
  auto gather = [&](const at::Tensor& t) {
    return t.unsqueeze(2).expand({B, H, nr, nr, r, d}).gather(3, gi).reshape({B, H, nr, topk * r, d});
  };
  const at::Tensor kg = gather(kr), vg = gather(vr);
  const at::Tensor pad_g = pad.view({B, 1, nr, r}).expand({B, nr, nr, r}).gather(2, idx.view({B, nr, topk, 1}).expand({B, nr, topk, r}))
                               .reshape({B, 1, nr, 1, topk * r});
  at::Tensor logits = torch::matmul(qr * std::pow(static_cast<double>(d), -0.5), kg.transpose(-1, -2));  // [B,H,nr,r,topk*r]
  logits = logits.masked_fill(pad_g, seq::kNegInf);
  at::Tensor out = torch::matmul(seq::safe_softmax(logits), vg).reshape({B, H, Lp, d}).slice(2, 0, L);
  out = seq::merge(out, B, L, C);
  const at::Tensor v_seq = zero_padding(seq::merge(v, B, L, C), mask);  // LePE over V without the padded tokens
  out = out + lepe(v_seq.transpose(1, 2)).transpose(1, 2);
  return zero_padding(proj(out), mask);
}

void register_biformer_sequence_attentions(SequenceAttentionEntries& e) {
  e.push_back({"bra", "BiLevelRoutingAttention1D (BiFormer): regions of `block`, topk routed regions per region",
               [](const SequenceAttentionSpec& s) {
                 return sequence_attention(BiLevelRoutingAttention1D(
                     BiLevelRoutingAttention1DOptions(s.dim, s.num_heads).block(s.block).topk(s.topk)));
               }});
}

}  // namespace attnzoo::modules
