// AgentAttention1D: the family's 1-D (sequence) form, and its entry in the sequence attention registry.
#include <attnzoo/modules/agent.h>

#include <attnzoo/modules/sequence.h>
#include <attnzoo/modules/sequence_registry.h>

#include <torch/torch.h>

#include <cmath>

#include "sequence_util.h"

namespace attnzoo::modules {

namespace nn = torch::nn;
namespace F = torch::nn::functional;

AgentAttention1DImpl::AgentAttention1DImpl(const AgentAttention1DOptions& o) : options(o) { reset(); }

void AgentAttention1DImpl::reset() {
  const int64_t C = options.dim();
  TORCH_CHECK(options.num_heads() > 0 && C % options.num_heads() == 0, "AgentAttention1D: dim ", C,
              " is not divisible by num_heads ", options.num_heads());
  TORCH_CHECK(options.agent_num() > 0, "AgentAttention1D: agent_num must be positive");
  qkv = register_module("qkv", nn::Linear(nn::LinearOptions(C, 3 * C).bias(options.qkv_bias())));
  proj = register_module("proj", nn::Linear(C, C));
  dwc = register_module("dwc", nn::Conv1d(nn::Conv1dOptions(C, C, 3).padding(1).groups(C)));
}

at::Tensor AgentAttention1DImpl::forward(const at::Tensor& x, const at::Tensor& mask) {
  seq::check_input(x, mask, options.dim(), "AgentAttention1D");
  const int64_t B = x.size(0), L = x.size(1), C = x.size(2), h = options.num_heads(), d = C / h;
  const int64_t A = options.agent_num();
  auto [q, k, v] = seq::project(qkv, x, h);
  // Agents: the masked mean of the queries over A contiguous bins (adaptive-pool bins over the valid tokens'
  // positions; empty bins give zero agents).
  const at::Tensor valid = mask.defined() ? mask.logical_not().to(q.dtype()) : torch::ones({B, L}, q.options());
  const at::Tensor bins = (torch::arange(L, torch::TensorOptions().dtype(torch::kLong).device(x.device())) * A).div(L, "floor");
  const at::Tensor onehot = F::one_hot(bins, A).to(q.dtype()).unsqueeze(0) * valid.unsqueeze(-1);  // [B, L, A]
  const at::Tensor counts = onehot.sum(1).clamp_min(1.0);                                            // [B, A]
  const at::Tensor agents = torch::matmul(onehot.transpose(1, 2).unsqueeze(1), q) / counts.view({B, 1, A, 1});
  const double scale = std::pow(static_cast<double>(d), -0.5);
  at::Tensor agent_logits = torch::matmul(agents * scale, k.transpose(-2, -1));  // [B, h, A, L]
  if (mask.defined()) agent_logits = agent_logits.masked_fill(mask.view({B, 1, 1, L}), seq::kNegInf);
  const at::Tensor agent_v = torch::matmul(seq::safe_softmax(agent_logits), v);  // [B, h, A, d]
  const at::Tensor q_attn = torch::matmul(q * scale, agents.transpose(-2, -1)).softmax(-1);  // [B, h, L, A]
  at::Tensor out = seq::merge(torch::matmul(q_attn, agent_v), B, L, C);
  const at::Tensor v_seq = zero_padding(seq::merge(v, B, L, C), mask);  // DWC over V without the padded tokens
  out = out + dwc(v_seq.transpose(1, 2)).transpose(1, 2);
  return zero_padding(proj(out), mask);
}

void register_agent_sequence_attentions(SequenceAttentionEntries& e) {
  e.push_back({"agent", "AgentAttention1D (Agent Attention): agent_num pooled agent tokens", [](const SequenceAttentionSpec& s) {
                 return sequence_attention(AgentAttention1D(AgentAttention1DOptions(s.dim, s.num_heads).agent_num(s.agent_num)));
               }});
}

}  // namespace attnzoo::modules
