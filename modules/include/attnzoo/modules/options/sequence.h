#pragma once
// Options of the family-neutral sequence attention (the Long Range Arena baseline). Each family's own 1-D
// form has its options beside the family's (options/<family>.h).
#include <torch/arg.h>

#include <cstdint>

namespace attnzoo::modules {

/// Full softmax attention over x [B, L, C] with an optional causal mask. Keys qkv, proj.
struct SoftmaxAttention1DOptions {
  SoftmaxAttention1DOptions(int64_t dim, int64_t num_heads) : dim_(dim), num_heads_(num_heads) {}
  TORCH_ARG(int64_t, dim);
  TORCH_ARG(int64_t, num_heads);
  TORCH_ARG(bool, qkv_bias) = true;
  TORCH_ARG(bool, causal) = false;
};

template <class V>
void visit_args(SoftmaxAttention1DOptions& o, V& v) {
  v.required("dim", o.dim());
  v.required("num_heads", o.num_heads());
  v.arg("qkv_bias", o.qkv_bias());
  v.arg("causal", o.causal());
}

}  // namespace attnzoo::modules
