#pragma once
// Options of halo attention's 1-D form (HaloAttentionOptions, timm's HaloAttn, is with the ByobNet layers in options/byobnet.h).
#include <torch/arg.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace attnzoo::modules {

/// HaloNet's blocked local attention along a sequence (attnzoo's 1-D form of halo attention): query blocks
/// of `block` tokens, keys / values in the block +- `halo`. Keys qkv, proj.
struct BlockLocalAttention1DOptions {
  BlockLocalAttention1DOptions(int64_t dim, int64_t num_heads) : dim_(dim), num_heads_(num_heads) {}
  TORCH_ARG(int64_t, dim);
  TORCH_ARG(int64_t, num_heads);
  TORCH_ARG(bool, qkv_bias) = true;
  TORCH_ARG(int64_t, block) = 64;
  TORCH_ARG(int64_t, halo) = 32;
};

template <class V>
void visit_args(BlockLocalAttention1DOptions& o, V& v) {
  v.required("dim", o.dim());
  v.required("num_heads", o.num_heads());
  v.arg("qkv_bias", o.qkv_bias());
  v.arg("block", o.block());
  v.arg("halo", o.halo());
}

}  // namespace attnzoo::modules
