#pragma once
// Options of ConViT's modules (d'Ascoli et al., ICML 2021, arXiv 2103.10697).
#include <attnzoo/modules/options/attention.h>

#include <torch/arg.h>

#include <cstdint>

namespace attnzoo::modules {

/// ConViT's gated positional self-attention (d'Ascoli et al. 2021): content attention and a learned
/// relative-position attention mixed per head by sigmoid(gating_param).
struct GPSAOptions {
  GPSAOptions(int64_t dim, int64_t num_heads) : dim_(dim), num_heads_(num_heads) {}
  TORCH_ARG(int64_t, dim);
  TORCH_ARG(int64_t, num_heads);
  TORCH_ARG(bool, qkv_bias) = false;
  TORCH_ARG(double, qk_scale) = 0.0;
  TORCH_ARG(double, attn_drop) = 0.0;
  TORCH_ARG(double, proj_drop) = 0.0;
  TORCH_ARG(double, locality_strength) = 1.0;
  /// Apply ConViT's local init (v = identity, pos_proj = a grid of local offsets).
  TORCH_ARG(bool, use_local_init) = true;
};

/// The official constructor arguments of GPSA (see attnzoo/core/arg_table.h).
template <class V>
void visit_args(GPSAOptions& o, V& v) {
  visit_attention_args(o, v);
  v.arg("locality_strength", o.locality_strength());
  v.arg("use_local_init", o.use_local_init());
}

}  // namespace attnzoo::modules
