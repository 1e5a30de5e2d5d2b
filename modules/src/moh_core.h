#pragma once
// MoH's per-token head gating and router registration, shared by MoHAttention (attention.py), AggregatedAttention
// (attention_native.py) and the 1-D form; and TransNeXt's temperature initialisation. Private to attnzoo_modules.
#include <attnzoo/modules/moh.h>

namespace attnzoo::modules::detail {

/// The official head gating: routed heads by top-k of the router (renormalised, times routed_head), shared heads
/// always on (times shared_head, softmax-weighted by wg_1 when more than one), the groups balanced by wg_0.
HeadGates moh_head_gates(const at::Tensor& tokens, int64_t B, int64_t N, int64_t shared, int64_t routed,
                         torch::nn::Linear& wg, torch::nn::Linear& wg_0, torch::nn::Linear& wg_1, bool training);

/// The routers (registration order: wg, wg_0, wg_1); checks the head counts.
void register_moh_routers(torch::nn::Module& m, int64_t dim, int64_t heads, int64_t shared, int64_t routed,
                          torch::nn::Linear& wg, torch::nn::Linear& wg_0, torch::nn::Linear& wg_1);

/// softplus(temperature) = 1 / 0.24 per head: [heads, 1, 1].
at::Tensor moh_initial_temperature(int64_t heads);

/// cpb_fc2(relu(cpb_fc1(table))) gathered by index: the continuous relative position bias [heads, Nq, Nk].
at::Tensor moh_position_bias(torch::nn::Linear& cpb_fc1, torch::nn::Linear& cpb_fc2, const at::Tensor& relative_pos_index,
                             const at::Tensor& relative_coords_table, int64_t Nq, const at::Tensor& like);

}  // namespace attnzoo::modules::detail
