#pragma once
// Helpers the 1-D (sequence) attentions share: input checks, qkv projection, masked softmax, padding masks.
// Private to attnzoo_modules; defined in sequence.cpp.
#include <ATen/core/Tensor.h>
#include <torch/nn/modules/linear.h>

#include <array>
#include <limits>

namespace attnzoo::modules::seq {

inline constexpr double kNegInf = -std::numeric_limits<double>::infinity();

/// x [B, L, dim]; mask undefined or bool [B, L].
void check_input(const at::Tensor& x, const at::Tensor& mask, int64_t dim, const char* who);
/// q, k, v [B, heads, L, d] from x [B, L, C] through one qkv Linear (channel = which * C + head * d + e).
std::array<at::Tensor, 3> project(torch::nn::Linear& qkv, const at::Tensor& x, int64_t heads);
/// softmax over the last dim where every entry may be -inf (a fully padded row): such rows give zeros.
at::Tensor safe_softmax(const at::Tensor& logits);
/// [B, h, L, d] -> [B, L, C].
at::Tensor merge(const at::Tensor& out, int64_t B, int64_t L, int64_t C);
/// The padding mask extended to `Lp` tokens (the added positions are padding) as bool [B, Lp]; `before`
/// positions are prepended as padding too.
at::Tensor padding_to(const at::Tensor& x, const at::Tensor& mask, int64_t Lp, int64_t before = 0);

}  // namespace attnzoo::modules::seq
