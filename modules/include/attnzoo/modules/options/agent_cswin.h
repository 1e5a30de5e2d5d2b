#pragma once
// Options of Agent-CSWin's modules (LeapLabTHU/Agent-Attention agent_transformer/models/agent_cswin.py), under
// the official constructor argument names.
#include <attnzoo/modules/options/agent.h>

#include <torch/arg.h>

#include <cstdint>

namespace attnzoo::modules {

/// agent_cswin.py LePEAttention (attn_type 'B'): softmax attention inside cross-shaped stripes + LePE.
/// `idx`: -1 the whole map, 0 columns of split_size (full height), 1 rows of split_size (full width).
struct LePEAttentionOptions {
  LePEAttentionOptions(int64_t dim, int64_t resolution, int64_t idx)
      : dim_(dim), resolution_(resolution), idx_(idx) {}
  TORCH_ARG(int64_t, dim);
  TORCH_ARG(int64_t, resolution);  // the (square) token map side
  TORCH_ARG(int64_t, idx);
  TORCH_ARG(int64_t, split_size) = 7;
  TORCH_ARG(int64_t, dim_out) = 0;  // Python None (= dim); the only value the official forward supports
  TORCH_ARG(int64_t, num_heads) = 8;
  TORCH_ARG(double, attn_drop) = 0.0;
};

/// The stripe arguments both official classes take, in their order (proj_drop and qk_scale are accepted and
/// unused by the official modules).
template <class Options, class V>
void visit_stripe_args(Options& o, V& v) {
  v.required("dim", o.dim());
  v.required("resolution", o.resolution());
  v.required("idx", o.idx());
  v.arg("split_size", o.split_size());
  v.nullable("dim_out", o.dim_out(), int64_t{0});
  v.arg("num_heads", o.num_heads());
  v.arg("attn_drop", o.attn_drop());
  v.ignored("proj_drop", 0.0);
  v.ignored("qk_scale", nullptr);
}

template <class V>
void visit_args(LePEAttentionOptions& o, V& v) {
  visit_stripe_args(o, v);
}

/// agent_cswin.py AgentAttention (attn_type 'A'): agent attention inside the stripes (bias grids sized for
/// the stripe) + LePE.
struct CSWinAgentAttentionOptions {
  CSWinAgentAttentionOptions(int64_t dim, int64_t resolution, int64_t idx)
      : dim_(dim), resolution_(resolution), idx_(idx) {}
  TORCH_ARG(int64_t, dim);
  TORCH_ARG(int64_t, resolution);
  TORCH_ARG(int64_t, idx);
  TORCH_ARG(int64_t, split_size) = 7;
  TORCH_ARG(int64_t, dim_out) = 0;
  TORCH_ARG(int64_t, num_heads) = 8;
  TORCH_ARG(double, attn_drop) = 0.0;
  TORCH_ARG(int64_t, agent_num) = 49;
};

template <class V>
void visit_args(CSWinAgentAttentionOptions& o, V& v) {
  visit_stripe_args(o, v);
  v.arg("agent_num", o.agent_num());
}

/// agent_cswin.py CSWinBlock on a reso x reso map: two stripe branches on the two channel halves (idx 0 and 1,
/// half the heads each), or one branch over the whole map in the last stage or where the stripe is the map.
struct CSWinBlockOptions {
  CSWinBlockOptions(int64_t dim, int64_t reso, int64_t num_heads) : dim_(dim), reso_(reso), num_heads_(num_heads) {}
  TORCH_ARG(int64_t, dim);
  TORCH_ARG(int64_t, reso);
  TORCH_ARG(int64_t, num_heads);
  TORCH_ARG(int64_t, split_size) = 7;
  TORCH_ARG(double, mlp_ratio) = 4.0;
  TORCH_ARG(bool, qkv_bias) = false;
  TORCH_ARG(double, drop) = 0.0;
  TORCH_ARG(double, attn_drop) = 0.0;
  TORCH_ARG(double, drop_path) = 0.0;
  TORCH_ARG(bool, last_stage) = false;
  TORCH_ARG(int64_t, agent_num) = 49;
  TORCH_ARG(AgentAttnType, attn_type) = AgentAttnType::Agent;
};

/// agent_cswin.py Merge_Block: conv 3x3 stride 2 + LayerNorm, on tokens.
struct CSWinMergeBlockOptions {
  CSWinMergeBlockOptions(int64_t dim, int64_t dim_out) : dim_(dim), dim_out_(dim_out) {}
  TORCH_ARG(int64_t, dim);
  TORCH_ARG(int64_t, dim_out);
};

}  // namespace attnzoo::modules
