#pragma once
// The two softmaxes of agent attention, shared by AgentDeiTAttention, AgentPVTAttention, AgentSwinAttention and the
// CSWin stripes (CSWinAgentAttention): agents = adaptive-avg-pooled queries; agents attend to the keys
// (+ position bias), queries attend to the agents (+ agent bias). Private to attnzoo_modules.
#include <ATen/core/Tensor.h>

#include <tuple>

namespace torch::nn {
class Module;
}

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

/// Registers the six position biases on `m` under the official names, in the official order, each
/// trunc_normal(.02): an_bias, na_bias [heads, agents, 7, 7], ah_bias / aw_bias over the hk x wk key map,
/// ha_bias / wa_bias over the h x w query map.
std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor> register_agent_biases(
    torch::nn::Module& m, int64_t heads, int64_t agents, int64_t hk, int64_t wk, int64_t h, int64_t w);

/// q [b, n, c] on an h x w query map (n = h*w, plus a leading class token when biases.ac is set), k / v
/// [b, nk, c] on an hk x wk key map (likewise). Returns softmax(Q A^T + agent bias) (softmax(A K^T + position
/// bias) V) with merged heads, [b, n, c]. While attention is captured it records, for `self`, the rows each
/// query attends to through the agents (the product of the two softmaxes, [b, heads, n, nk], rows summing to
/// one) with the global geometry of the h x w queries over the hk x wk keys.
at::Tensor agent_attention_core(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, int64_t h, int64_t w,
                                int64_t hk, int64_t wk, int64_t heads, int64_t agent_num, const AgentBiases& biases,
                                double attn_drop, bool training, const torch::nn::Module* self);

}  // namespace attnzoo::modules::detail
