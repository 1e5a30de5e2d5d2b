// GPSA1D: the family's 1-D (sequence) form, and its entry in the sequence attention registry.
#include <attnzoo/modules/convit.h>

#include <attnzoo/modules/sequence.h>
#include <attnzoo/modules/sequence_registry.h>

#include <torch/torch.h>

#include <cmath>

#include "sequence_util.h"

namespace attnzoo::modules {

namespace nn = torch::nn;
namespace F = torch::nn::functional;

GPSA1DImpl::GPSA1DImpl(const GPSA1DOptions& o) : options(o) { reset(); }

void GPSA1DImpl::reset() {
  const int64_t C = options.dim(), H = options.num_heads();
  TORCH_CHECK(H > 0 && C % H == 0, "GPSA1D: dim ", C, " is not divisible by num_heads ", H);
  gating_param = register_parameter("gating_param", torch::ones({H}));
  qk = register_module("qk", nn::Linear(nn::LinearOptions(C, 2 * C).bias(options.qkv_bias())));
  v = register_module("v", nn::Linear(nn::LinearOptions(C, C).bias(options.qkv_bias())));
  pos_proj = register_module("pos_proj", nn::Linear(2, H));
  proj = register_module("proj", nn::Linear(C, C));
  // ConViT's local init in 1-D: head h prefers the offset (h - H/2) (a spread of local kernels), locality
  // strength sharpens it: logits = -ls * (delta - c)^2 = -ls*delta^2 + 2 ls c delta - const.
  torch::NoGradGuard ng;
  pos_proj->weight.zero_();
  pos_proj->bias.zero_();
  for (int64_t h = 0; h < H; ++h) {
    const double c = static_cast<double>(h - H / 2), ls = options.locality_strength();
    pos_proj->weight[h][0] = 2.0 * ls * c;
    pos_proj->weight[h][1] = -ls;
  }
}

at::Tensor GPSA1DImpl::forward(const at::Tensor& x, const at::Tensor& mask) {
  seq::check_input(x, mask, options.dim(), "GPSA1D");
  const int64_t B = x.size(0), L = x.size(1), C = x.size(2), H = options.num_heads(), d = C / H;
  const auto t = qk(x).reshape({B, L, 2, H, d}).permute({2, 0, 3, 1, 4});
  const at::Tensor vv = v(x).reshape({B, L, H, d}).permute({0, 2, 1, 3});
  at::Tensor content = torch::matmul(t[0] * std::pow(static_cast<double>(d), -0.5), t[1].transpose(-2, -1));
  const at::Tensor pos_idx = torch::arange(L, x.options());
  const at::Tensor delta = pos_idx.view({1, L}) - pos_idx.view({L, 1});  // key - query
  at::Tensor pos = pos_proj(torch::stack({delta, delta * delta}, -1)).permute({2, 0, 1}).unsqueeze(0);  // [1, H, L, L]
  if (mask.defined()) {
    content = content.masked_fill(mask.view({B, 1, 1, L}), seq::kNegInf);
    pos = pos.expand({B, -1, -1, -1}).masked_fill(mask.view({B, 1, 1, L}), seq::kNegInf);
  }
  const at::Tensor gate = torch::sigmoid(gating_param).view({1, H, 1, 1});
  at::Tensor attn = (1.0 - gate) * seq::safe_softmax(content) + gate * seq::safe_softmax(pos);
  attn = attn / attn.sum(-1, true).clamp_min(1e-30);  // ConViT renormalises the mixture
  return zero_padding(proj(seq::merge(torch::matmul(attn, vv), B, L, C)), mask);
}

void register_convit_sequence_attentions(SequenceAttentionEntries& e) {
  e.push_back({"gpsa", "GPSA1D (ConViT): gated content + 1-D positional attention",
               [](const SequenceAttentionSpec& s) { return sequence_attention(GPSA1D(GPSA1DOptions(s.dim, s.num_heads))); }});
}

}  // namespace attnzoo::modules
