#include <attnzoo/modules/agent_cswin.h>

#include <attnzoo/modules/depthwise.h>
#include <attnzoo/modules/init.h>

#include <torch/torch.h>

#include <cmath>

#include "agent_core.h"
#include "module_entry.h"

namespace attnzoo::modules {

namespace nn = torch::nn;

namespace {

// Stripe shape (H_sp, W_sp) of agent_cswin.py's idx rule.
std::pair<int64_t, int64_t> stripe(const CSWinAttentionOptions& o, const char* who) {
  const int64_t R = o.resolution(), s = o.split_size();
  TORCH_CHECK(o.idx() >= -1 && o.idx() <= 1, who, ": idx must be -1, 0 or 1, got ", o.idx());
  TORCH_CHECK(o.num_heads() > 0 && o.dim() % o.num_heads() == 0, who, ": dim ", o.dim(), " is not divisible by num_heads ",
              o.num_heads());
  if (o.idx() == -1) return {R, R};
  TORCH_CHECK(s > 0 && R % s == 0, who, ": the ", R, "x", R, " map does not split into stripes of ", s);
  return o.idx() == 0 ? std::make_pair(R, s) : std::make_pair(s, R);
}

// [B, H*W, C] -> [B * stripes, H_sp * W_sp, C] (img2windows: stripes in raster order, tokens row-major).
at::Tensor to_stripes(const at::Tensor& x, int64_t R, int64_t hs, int64_t ws, const char* who) {
  const int64_t B = x.size(0), C = x.size(2);
  TORCH_CHECK(x.dim() == 3 && x.size(1) == R * R, who, ": expected [B, ", R * R, ", C] tokens, got ", x.sizes());
  return x.view({B, R / hs, hs, R / ws, ws, C}).permute({0, 1, 3, 2, 4, 5}).reshape({-1, hs * ws, C});
}

// The inverse (windows2img), back to [B, H*W, C].
at::Tensor from_stripes(const at::Tensor& x, int64_t B, int64_t R, int64_t hs, int64_t ws) {
  const int64_t C = x.size(-1);
  return x.reshape({B, R / hs, R / ws, hs, ws, C}).permute({0, 1, 3, 2, 4, 5}).reshape({B, R * R, C});
}

// LePE: the depthwise conv over each stripe of V (zero padding at the stripe border), [B', n, C].
at::Tensor lepe(nn::Conv2d& get_v, const at::Tensor& v_stripes, int64_t hs, int64_t ws) {
  const int64_t Bp = v_stripes.size(0), C = v_stripes.size(2);
  const at::Tensor img = v_stripes.transpose(1, 2).reshape({Bp, C, hs, ws});
  return depthwise_conv2d(img, *get_v).reshape({Bp, C, hs * ws}).transpose(1, 2);
}

}  // namespace

CSWinLePEAttentionImpl::CSWinLePEAttentionImpl(const CSWinAttentionOptions& o) : options(o) { reset(); }

void CSWinLePEAttentionImpl::reset() {
  std::tie(H_sp, W_sp) = stripe(options, "CSWinLePEAttention");
  const int64_t C = options.dim();
  get_v = register_module("get_v", nn::Conv2d(nn::Conv2dOptions(C, C, 3).padding(1).groups(C)));
}

at::Tensor CSWinLePEAttentionImpl::forward(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v) {
  const int64_t B = q.size(0), C = options.dim(), R = options.resolution(), heads = options.num_heads(), d = C / heads;
  TORCH_CHECK(q.size(-1) == C, "CSWinLePEAttention: expected ", C, " channels, got ", q.sizes());
  auto heads_of = [&](const at::Tensor& t) { return t.reshape({t.size(0), t.size(1), heads, d}).permute({0, 2, 1, 3}); };
  const at::Tensor qs = heads_of(to_stripes(q, R, H_sp, W_sp, "CSWinLePEAttention"));
  const at::Tensor ks = heads_of(to_stripes(k, R, H_sp, W_sp, "CSWinLePEAttention"));
  const at::Tensor vs_tokens = to_stripes(v, R, H_sp, W_sp, "CSWinLePEAttention");
  const at::Tensor pe = heads_of(lepe(get_v, vs_tokens, H_sp, W_sp));
  at::Tensor attn = torch::matmul(qs * std::pow(static_cast<double>(d), -0.5), ks.transpose(-2, -1)).softmax(-1);
  if (options.attn_drop() > 0 && is_training()) attn = torch::dropout(attn, options.attn_drop(), true);
  const at::Tensor out = (torch::matmul(attn, heads_of(vs_tokens)) + pe).transpose(1, 2).reshape({-1, H_sp * W_sp, C});
  return from_stripes(out, B, R, H_sp, W_sp);
}

CSWinAgentAttentionImpl::CSWinAgentAttentionImpl(const CSWinAttentionOptions& o) : options(o) { reset(); }

void CSWinAgentAttentionImpl::reset() {
  std::tie(H_sp, W_sp) = stripe(options, "CSWinAgentAttention");
  const int64_t C = options.dim(), H = options.num_heads(), A = options.agent_num();
  const auto p = static_cast<int64_t>(std::sqrt(static_cast<double>(A)) + 1e-9);
  TORCH_CHECK(p * p == A, "CSWinAgentAttention: agent_num must be a square number, got ", A);
  // Parameters first (the official state_dict order: own parameters, then get_v).
  std::tie(an_bias, na_bias, ah_bias, aw_bias, ha_bias, wa_bias) = detail::register_agent_biases(*this, H, A, H_sp, W_sp, H_sp, W_sp);
  get_v = register_module("get_v", nn::Conv2d(nn::Conv2dOptions(C, C, 3).padding(1).groups(C)));
}

at::Tensor CSWinAgentAttentionImpl::forward(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v) {
  const int64_t B = q.size(0), C = options.dim(), R = options.resolution();
  TORCH_CHECK(q.size(-1) == C, "CSWinAgentAttention: expected ", C, " channels, got ", q.sizes());
  const at::Tensor qs = to_stripes(q, R, H_sp, W_sp, "CSWinAgentAttention");
  const at::Tensor ks = to_stripes(k, R, H_sp, W_sp, "CSWinAgentAttention");
  const at::Tensor vs = to_stripes(v, R, H_sp, W_sp, "CSWinAgentAttention");
  const detail::AgentBiases biases{an_bias, na_bias, ah_bias, aw_bias, ha_bias, wa_bias};
  const at::Tensor out = detail::agent_attention_core(qs, ks, vs, H_sp, W_sp, H_sp, W_sp, options.num_heads(),
                                                      options.agent_num(), biases, options.attn_drop(), is_training()) +
                         lepe(get_v, vs, H_sp, W_sp);
  return from_stripes(out, B, R, H_sp, W_sp);
}

void register_agent_cswin_modules(ModuleEntries& e) {
  // Agent-CSWin stripes: the official forward takes the block's stacked qkv [3, B, H*W, dim].
  auto cswin_entry = [&e](const char* official, const char* cpp, const char* desc, bool agent) {
    e.push_back({"agent_cswin", official, cpp, desc, [official, agent](const nlohmann::json& c) {
                   const std::string owner = std::string("agent_cswin.") + official;
                   ArgReader a(c, owner);
                   CSWinAttentionOptions o(a.get<int64_t>("dim"), a.get<int64_t>("resolution"), a.get<int64_t>("idx"),
                                           a.get<int64_t>("split_size", 7), a.get<int64_t>("num_heads", 8));
                   o.attn_drop(a.get("attn_drop", 0.0));
                   if (agent) o.agent_num(a.get<int64_t>("agent_num", 49));
                   const auto dim_out = a.get<nlohmann::json>("dim_out", nullptr);
                   if (!dim_out.is_null() && dim_out.get<int64_t>() != o.dim())
                     throw std::invalid_argument(owner + ": dim_out must equal dim");
                   a.ignore("proj_drop");  // accepted and unused by the official modules
                   a.ignore("qk_scale");   // LePE: None in every official use; Agent: accepted via **kwargs
                   a.finish();
                   std::shared_ptr<torch::nn::Module> mod;
                   std::function<at::Tensor(const at::Tensor&, const at::Tensor&, const at::Tensor&)> fwd;
                   if (agent) {
                     CSWinAgentAttention m(o);
                     mod = m.ptr();
                     fwd = [m](const at::Tensor& q, const at::Tensor& k, const at::Tensor& v) mutable { return m(q, k, v); };
                   } else {
                     CSWinLePEAttention m(o);
                     mod = m.ptr();
                     fwd = [m](const at::Tensor& q, const at::Tensor& k, const at::Tensor& v) mutable { return m(q, k, v); };
                   }
                   BuiltModule b;
                   b.module = mod;
                   b.forward = [fwd, owner](const std::vector<at::Tensor>& in, const nlohmann::json&) {
                     TORCH_CHECK(in.size() == 1 && in[0].dim() == 4 && in[0].size(0) == 3, owner,
                                 " takes one tensor qkv [3, B, H*W, dim]");
                     return std::vector<at::Tensor>{fwd(in[0][0], in[0][1], in[0][2])};
                   };
                   return b;
                 }});
  };
  cswin_entry("LePEAttention", "attnzoo::modules::CSWinLePEAttention",
              "CSWin stripe attention with LePE on qkv [3, B, H*W, dim] (Agent-CSWin 'B' blocks)", false);
  cswin_entry("AgentAttention", "attnzoo::modules::CSWinAgentAttention",
              "agent attention inside CSWin stripes + LePE on qkv [3, B, H*W, dim] (Agent-CSWin 'A' blocks)", true);
}

}  // namespace attnzoo::modules
