#pragma once
// Options of VAN's Large Kernel Attention modules (Guo et al., "Visual Attention Network", 2022).
#include <torch/arg.h>

#include <cstdint>

namespace attnzoo::modules {

/// LKA: depthwise 5x5 -> depthwise 7x7 dilation 3 -> 1x1, used as a multiplicative gate on the input.
/// `LKA lka(LKAOptions(64));`
struct LKAOptions {
  explicit LKAOptions(int64_t dim) : dim_(dim) {}
  TORCH_ARG(int64_t, dim);
  TORCH_ARG(int64_t, kernel_size) = 5;          // conv0
  TORCH_ARG(int64_t, dilated_kernel_size) = 7;  // conv_spatial
  TORCH_ARG(int64_t, dilation) = 3;
};

/// The official constructor arguments of LKA (see attnzoo/core/arg_table.h).
template <class V>
void visit_args(LKAOptions& o, V& v) {
  v.required("dim", o.dim());
}

/// VAN's "Attention": proj_1 (1x1) -> GELU -> LKA -> proj_2 (1x1) + its own shortcut.
/// Official argument name: d_model.
struct LKAAttentionOptions {
  explicit LKAAttentionOptions(int64_t d_model) : d_model_(d_model) {}
  TORCH_ARG(int64_t, d_model);
};

/// The official constructor arguments of LKAAttention (see attnzoo/core/arg_table.h).
template <class V>
void visit_args(LKAAttentionOptions& o, V& v) {
  v.required("d_model", o.d_model());
}

/// VAN Block: BN -> LKAAttention -> layer scale -> DropPath, then BN -> DWConvMlp -> layer scale -> DropPath.
struct VANBlockOptions {
  explicit VANBlockOptions(int64_t dim) : dim_(dim) {}
  TORCH_ARG(int64_t, dim);
  TORCH_ARG(double, mlp_ratio) = 4.0;
  TORCH_ARG(double, drop) = 0.0;
  TORCH_ARG(double, drop_path) = 0.0;
  TORCH_ARG(double, layer_scale_init_value) = 1e-2;
};

/// The official constructor arguments of VANBlock (see attnzoo/core/arg_table.h).
template <class V>
void visit_args(VANBlockOptions& o, V& v) {
  v.required("dim", o.dim());
  v.arg("mlp_ratio", o.mlp_ratio());
  v.arg("drop", o.drop());
  v.arg("drop_path", o.drop_path());
  v.ignored("act_layer", "nn.GELU");
}

/// VAN's large-kernel gate along a sequence (attnzoo's 1-D form of LKA): depthwise k5 -> depthwise k7
/// dilation 3 -> 1x1, multiplied with the input. Keys conv0, conv_spatial, conv1.
struct LKA1DOptions {
  explicit LKA1DOptions(int64_t dim) : dim_(dim) {}
  TORCH_ARG(int64_t, dim);
};

template <class V>
void visit_args(LKA1DOptions& o, V& v) {
  v.required("dim", o.dim());
}

}  // namespace attnzoo::modules
