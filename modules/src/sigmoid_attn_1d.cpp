// SigmoidAttention1D: the family's 1-D (sequence) form, and its entry in the sequence attention registry.
#include <attnzoo/modules/sigmoid_attn.h>

#include <attnzoo/modules/sequence.h>
#include <attnzoo/modules/sequence_registry.h>

#include <torch/torch.h>

#include <cmath>

#include "sequence_util.h"

namespace attnzoo::modules {

namespace nn = torch::nn;

SigmoidAttention1DImpl::SigmoidAttention1DImpl(const SigmoidAttention1DOptions& o) : options(o) { reset(); }

void SigmoidAttention1DImpl::reset() {
  const int64_t C = options.dim(), H = options.num_heads();
  TORCH_CHECK(H > 0 && C % H == 0, "SigmoidAttention1D: dim ", C, " is not divisible by num_heads ", H);
  qkv = register_module("qkv", nn::Linear(nn::LinearOptions(C, 3 * C).bias(options.bias())));
  if (options.qk_norm()) {
    q_norm = register_module("q_norm", nn::LayerNorm(nn::LayerNormOptions({C / H})));
    k_norm = register_module("k_norm", nn::LayerNorm(nn::LayerNormOptions({C / H})));
  }
  proj = register_module("proj", nn::Linear(nn::LinearOptions(C, C).bias(options.bias())));
}

at::Tensor SigmoidAttention1DImpl::forward(const at::Tensor& x, const at::Tensor& mask) {
  seq::check_input(x, mask, options.dim(), "SigmoidAttention1D");
  const int64_t B = x.size(0), L = x.size(1), C = x.size(2);
  auto [q, k, v] = seq::project(qkv, x, options.num_heads());
  const at::Tensor logits = sigmoid_attention_logits(q, k, q_norm, k_norm, options.qk_transform(), options.attn_logits_transform());
  // The official mask convention (true = may attend): not a padded key, and not a later one when causal.
  at::Tensor keep;
  if (mask.defined()) keep = mask.logical_not().view({B, 1, 1, L});
  if (options.causal()) {
    const at::Tensor past = torch::ones({L, L}, x.options().dtype(at::kBool)).tril();
    keep = keep.defined() ? keep.logical_and(past) : past;
  }
  const double b = options.log_n_bias() ? -std::log(static_cast<double>(L)) : options.attn_bias();
  const at::Tensor attn =
      sigmoid_attention_weights(logits, keep, at::Tensor(), torch::full({1}, b, logits.options()), options.attn_activ_fn());
  return zero_padding(proj(seq::merge(torch::matmul(attn, v), B, L, C)), mask);
}

void register_sigmoid_attn_sequence_attentions(SequenceAttentionEntries& e) {
  e.push_back({"sigmoid", "SigmoidAttention1D: sigmoid(q k^T / sqrt(d) - log n) with QK norm (the paper's recipe)",
               [](const SequenceAttentionSpec& s) {
                 return sequence_attention(SigmoidAttention1D(SigmoidAttention1DOptions(s.dim, s.num_heads)));
               }});
}

}  // namespace attnzoo::modules
