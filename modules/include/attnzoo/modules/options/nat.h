#pragma once
// Options of neighborhood attention (Hassani et al., NAT arXiv 2204.07143; DiNAT arXiv 2209.15001), with
// NATTEN 0.14's module arguments.
#include <torch/arg.h>

#include <cstdint>

namespace attnzoo::modules {

/// NeighborhoodAttention1D / 2D: every query attends to its kernel_size (x kernel_size) nearest
/// neighbours of its dilation group, the window shifted to stay inside the map.
struct NeighborhoodAttentionOptions {
  NeighborhoodAttentionOptions(int64_t dim, int64_t num_heads, int64_t kernel_size)
      : dim_(dim), num_heads_(num_heads), kernel_size_(kernel_size) {}
  TORCH_ARG(int64_t, dim);
  TORCH_ARG(int64_t, num_heads);
  TORCH_ARG(int64_t, kernel_size);  // odd, > 1
  TORCH_ARG(int64_t, dilation) = 1;
  TORCH_ARG(bool, bias) = true;  // relative position bias `rpb`
  TORCH_ARG(bool, qkv_bias) = true;
  TORCH_ARG(double, qk_scale) = 0.0;  // 0: head_dim^-0.5
  TORCH_ARG(double, attn_drop) = 0.0;
  TORCH_ARG(double, proj_drop) = 0.0;
  /// 1-D only: a query sees itself and the kernel_size - 1 previous members of its dilation group
  /// (fewer at the start; no relative position bias). For autoregressive sequence models.
  TORCH_ARG(bool, causal) = false;
};

/// The official constructor arguments of NeighborhoodAttention (see attnzoo/core/arg_table.h).
template <class V>
void visit_args(NeighborhoodAttentionOptions& o, V& v) {
  v.required("dim", o.dim());
  v.required("num_heads", o.num_heads());
  v.required("kernel_size", o.kernel_size());
  v.arg("dilation", o.dilation());
  v.arg("bias", o.bias());
  v.arg("qkv_bias", o.qkv_bias());
  v.nullable("qk_scale", o.qk_scale(), 0.0);
  v.arg("attn_drop", o.attn_drop());
  v.arg("proj_drop", o.proj_drop());
  v.arg("causal", o.causal());  // 1-D only: NeighborhoodAttention2D rejects it
}

}  // namespace attnzoo::modules
