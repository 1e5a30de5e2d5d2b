#include <attnzoo/modules/sequence.h>

#include <attnzoo/modules/sequence_registry.h>

#include <torch/torch.h>

#include <cmath>

#include "sequence_util.h"

namespace attnzoo::modules {

namespace nn = torch::nn;
namespace F = torch::nn::functional;

namespace seq {

void check_input(const at::Tensor& x, const at::Tensor& mask, int64_t dim, const char* who) {
  TORCH_CHECK(x.dim() == 3 && x.size(2) == dim, who, ": expected [B, L, ", dim, "], got ", x.sizes());
  if (mask.defined())
    TORCH_CHECK(mask.dim() == 2 && mask.size(0) == x.size(0) && mask.size(1) == x.size(1) &&
                    mask.scalar_type() == at::kBool,
                who, ": key padding mask must be bool [", x.size(0), ", ", x.size(1), "], got ", mask.sizes(), " ",
                mask.scalar_type());
}

std::array<at::Tensor, 3> project(torch::nn::Linear& qkv, const at::Tensor& x, int64_t heads) {
  const int64_t B = x.size(0), L = x.size(1), C = x.size(2);
  const auto t = qkv(x).reshape({B, L, 3, heads, C / heads}).permute({2, 0, 3, 1, 4});
  return {t[0], t[1], t[2]};
}

at::Tensor safe_softmax(const at::Tensor& logits) {
  const at::Tensor all_masked = logits.isneginf().all(-1, /*keepdim=*/true);
  return logits.masked_fill(all_masked, 0.0).softmax(-1).masked_fill(all_masked, 0.0);
}

at::Tensor merge(const at::Tensor& out, int64_t B, int64_t L, int64_t C) {
  return out.transpose(1, 2).reshape({B, L, C});
}

at::Tensor padding_to(const at::Tensor& x, const at::Tensor& mask, int64_t Lp, int64_t before) {
  const int64_t B = x.size(0), L = x.size(1);
  const at::Tensor m = mask.defined() ? mask : torch::zeros({B, L}, torch::TensorOptions().dtype(torch::kBool).device(x.device()));
  return F::pad(m.to(torch::kFloat), F::PadFuncOptions({before, Lp - L}).value(1.0)).to(torch::kBool);
}

}  // namespace seq

at::Tensor zero_padding(const at::Tensor& x, const at::Tensor& mask) {
  return mask.defined() ? x.masked_fill(mask.unsqueeze(-1), 0.0) : x;
}

SoftmaxAttention1DImpl::SoftmaxAttention1DImpl(const SoftmaxAttention1DOptions& o) : options(o) { reset(); }

void SoftmaxAttention1DImpl::reset() {
  const int64_t C = options.dim();
  TORCH_CHECK(options.num_heads() > 0 && C % options.num_heads() == 0, "SoftmaxAttention1D: dim ", C,
              " is not divisible by num_heads ", options.num_heads());
  qkv = register_module("qkv", nn::Linear(nn::LinearOptions(C, 3 * C).bias(options.qkv_bias())));
  proj = register_module("proj", nn::Linear(C, C));
}

at::Tensor SoftmaxAttention1DImpl::forward(const at::Tensor& x, const at::Tensor& mask) {
  seq::check_input(x, mask, options.dim(), "SoftmaxAttention1D");
  const int64_t B = x.size(0), L = x.size(1), C = x.size(2), h = options.num_heads();
  auto [q, k, v] = seq::project(qkv, x, h);
  at::Tensor logits = torch::matmul(q * std::pow(static_cast<double>(C / h), -0.5), k.transpose(-2, -1));
  if (mask.defined()) logits = logits.masked_fill(mask.view({B, 1, 1, L}), seq::kNegInf);
  if (options.causal())
    logits = logits.masked_fill(torch::ones({L, L}, torch::kBool).triu(1).to(x.device()), seq::kNegInf);
  return zero_padding(proj(seq::merge(torch::matmul(seq::safe_softmax(logits), v), B, L, C)), mask);
}

void register_softmax_sequence_attentions(SequenceAttentionEntries& e) {
  e.push_back({"softmax", "SoftmaxAttention1D: full softmax attention, O(L^2) (the LRA baseline)",
               [](const SequenceAttentionSpec& s) {
                 return sequence_attention(SoftmaxAttention1D(SoftmaxAttention1DOptions(s.dim, s.num_heads)));
               }});
}

}  // namespace attnzoo::modules
