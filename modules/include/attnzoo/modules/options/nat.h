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

/// Global self-attention with a relative position bias over a fixed square map (isotropic.py MHSARPB).
/// Keys rpb [heads, 2L-1, 2L-1], relative_position_index [L^2, L^2] (persistent buffer), qkv, proj.
struct MHSARPBOptions {
  MHSARPBOptions(int64_t dim, int64_t input_size, int64_t num_heads)
      : dim_(dim), input_size_(input_size), num_heads_(num_heads) {}
  TORCH_ARG(int64_t, dim);
  TORCH_ARG(int64_t, input_size);  // the side L of the L x L map
  TORCH_ARG(int64_t, num_heads);
  TORCH_ARG(bool, qkv_bias) = true;
  TORCH_ARG(double, qk_scale) = 0.0;  // 0: head_dim^-0.5
};

struct NATLayerOptions {
  NATLayerOptions(int64_t dim, int64_t num_heads) : dim_(dim), num_heads_(num_heads) {}
  TORCH_ARG(int64_t, dim);
  TORCH_ARG(int64_t, num_heads);
  TORCH_ARG(int64_t, kernel_size) = 7;
  TORCH_ARG(int64_t, dilation) = 1;
  TORCH_ARG(double, mlp_ratio) = 4.0;
  TORCH_ARG(bool, qkv_bias) = true;
  TORCH_ARG(double, qk_scale) = 0.0;
  TORCH_ARG(double, drop) = 0.0;
  TORCH_ARG(double, attn_drop) = 0.0;
  TORCH_ARG(double, drop_path) = 0.0;
  TORCH_ARG(double, layer_scale) = 0.0;  // > 0: gamma1 / gamma2 initialised to it (Python: a number, not None)
  TORCH_ARG(double, norm_eps) = 1e-5;
  TORCH_ARG(int64_t, global_size) = 0;  // > 0: MHSARPB instead of neighborhood attention
};

}  // namespace attnzoo::modules
