#pragma once
// Options of BiFormer-STL's NCHW modules (biformer_stl_nchw: nchwBRA, nchwAttentionLePE, block), official argument names.
#include <torch/arg.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace attnzoo::modules {

struct NchwBRAOptions {
  explicit NchwBRAOptions(int64_t dim) : dim_(dim) {}
  TORCH_ARG(int64_t, dim);
  TORCH_ARG(int64_t, num_heads) = 8;
  TORCH_ARG(int64_t, n_win) = 7;
  TORCH_ARG(double, qk_scale) = 0.0;  // 0: dim^-0.5 (sic, the official choice "to be consistent with old models")
  TORCH_ARG(int64_t, topk) = 4;
  TORCH_ARG(int64_t, side_dwconv) = 3;  // 0: no LePE
};

/// The official constructor arguments of NchwBRA (see attnzoo/core/arg_table.h).
template <class V>
void visit_args(NchwBRAOptions& o, V& v) {
  v.required("dim", o.dim());
  v.arg("num_heads", o.num_heads());
  v.arg("n_win", o.n_win());
  v.nullable("qk_scale", o.qk_scale(), 0.0);
  v.arg("topk", o.topk());
  v.arg("side_dwconv", o.side_dwconv());
  v.ignored("auto_pad", false);  // unused by the official forward, which always pads
  v.fixed("attn_backend", "torch");
}

/// Global attention + LePE on NCHW input (models/_common.py nchwAttentionLePE). Keys qkv, proj, lepe.
struct NchwAttentionLePEOptions {
  explicit NchwAttentionLePEOptions(int64_t dim) : dim_(dim) {}
  TORCH_ARG(int64_t, dim);
  TORCH_ARG(int64_t, num_heads) = 8;
  TORCH_ARG(bool, qkv_bias) = false;
  TORCH_ARG(double, qk_scale) = 0.0;  // 0: head_dim^-0.5
  TORCH_ARG(int64_t, side_dwconv) = 5;
};

/// The official constructor arguments of NchwAttentionLePE (see attnzoo/core/arg_table.h).
template <class V>
void visit_args(NchwAttentionLePEOptions& o, V& v) {
  v.required("dim", o.dim());
  v.arg("num_heads", o.num_heads());
  v.arg("qkv_bias", o.qkv_bias());
  v.nullable("qk_scale", o.qk_scale(), 0.0);
  v.ignored("attn_drop", 0.0);
  v.ignored("proj_drop", 0.0);
  v.arg("side_dwconv", o.side_dwconv());
}

/// biformer_stl_nchw's block: x + DropPath(attn(LN2d(x))); x + DropPath(mlp(LN2d(x))), all NCHW.
/// attn = NchwBRA (topk > 0) or NchwAttentionLePE with its defaults (topk == -1; the official block
/// passes only dim). mlp = Sequential(1x1, GELU, 1x1). Keys norm1, attn, norm2, mlp.{0,2}.
struct NchwBiFormerBlockOptions {
  explicit NchwBiFormerBlockOptions(int64_t dim) : dim_(dim) {}
  TORCH_ARG(int64_t, dim);
  TORCH_ARG(double, drop_path) = 0.0;
  TORCH_ARG(int64_t, num_heads) = 8;
  TORCH_ARG(int64_t, n_win) = 7;
  TORCH_ARG(double, qk_scale) = 0.0;
  TORCH_ARG(int64_t, topk) = 4;
  TORCH_ARG(double, mlp_ratio) = 4.0;
  TORCH_ARG(int64_t, side_dwconv) = 5;
};

/// The official constructor arguments of NchwBiFormerBlock (see attnzoo/core/arg_table.h).
template <class V>
void visit_args(NchwBiFormerBlockOptions& o, V& v) {
  v.required("dim", o.dim());
  v.arg("drop_path", o.drop_path());
  v.arg("num_heads", o.num_heads());
  v.arg("n_win", o.n_win());
  v.nullable("qk_scale", o.qk_scale(), 0.0);
  v.arg("topk", o.topk());
  v.arg("mlp_ratio", o.mlp_ratio());
  v.arg("side_dwconv", o.side_dwconv());
  v.ignored("norm_layer", "LayerNorm2d");
}

}  // namespace attnzoo::modules
