#pragma once
// The two softmaxes of agent attention, shared by AgentAttention (DeiT / PVT / Swin flavours) and the
// CSWin stripes (CSWinAgentAttention): agents = adaptive-avg-pooled queries; agents attend to the keys
// (+ position bias), queries attend to the agents (+ agent bias). Private to attnzoo_modules.
#include <ATen/core/Tensor.h>

namespace attnzoo::modules::detail {

struct AgentBiases {
  const at::Tensor& an;  // [H, A, 7, 7], resized to the key map
  const at::Tensor& na;  // [H, A, 7, 7], resized to the query map
  const at::Tensor& ah;  // [1, H, A, hk, 1]
  const at::Tensor& aw;  // [1, H, A, 1, wk]
  const at::Tensor& ha;  // [1, H, h, 1, A]
  const at::Tensor& wa;  // [1, H, 1, w, A]
  const at::Tensor* ac = nullptr;  // [1, H, A, 1]: the class token as a key (DeiT)
  const at::Tensor* ca = nullptr;  // [1, H, 1, A]: the class token as a query (DeiT)
};

/// q [b, n, c] on an h x w query map (n = h*w, plus a leading class token when biases.ac is set), k / v
/// [b, nk, c] on an hk x wk key map (likewise). Returns softmax(Q A^T + agent bias) (softmax(A K^T + position
/// bias) V) with merged heads, [b, n, c].
at::Tensor agent_attention_core(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, int64_t h, int64_t w,
                                int64_t hk, int64_t wk, int64_t heads, int64_t agent_num, const AgentBiases& biases,
                                double attn_drop, bool training);

}  // namespace attnzoo::modules::detail
