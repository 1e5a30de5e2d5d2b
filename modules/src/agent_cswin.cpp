#include <attnzoo/modules/agent_cswin.h>

#include <attnzoo/modules/attention_capture.h>

#include <attnzoo/modules/depthwise.h>
#include <attnzoo/modules/init.h>

#include <torch/torch.h>

#include <cmath>

#include "agent_core.h"
#include "module_entry.h"

namespace attnzoo::modules {

namespace nn = torch::nn;

namespace {

// Stripe shape (H_sp, W_sp) of agent_cswin.py's idx rule (both stripe attentions' options).
template <class Options>
std::pair<int64_t, int64_t> stripe(const Options& o, const char* who) {
  const int64_t R = o.resolution(), s = o.split_size();
  TORCH_CHECK(o.dim_out() == 0 || o.dim_out() == o.dim(), who, ": dim_out must equal dim (", o.dim(), "), got ", o.dim_out());
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

CSWinLePEAttentionImpl::CSWinLePEAttentionImpl(const LePEAttentionOptions& o) : options(o) { reset(); }

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
  if (AttentionRecord* r = record_attention(this, "softmax", attn)) set_window_geometry(*r, R, R, {H_sp, W_sp});
  if (options.attn_drop() > 0 && is_training()) attn = torch::dropout(attn, options.attn_drop(), true);
  const at::Tensor out = (torch::matmul(attn, heads_of(vs_tokens)) + pe).transpose(1, 2).reshape({-1, H_sp * W_sp, C});
  return from_stripes(out, B, R, H_sp, W_sp);
}

CSWinAgentAttentionImpl::CSWinAgentAttentionImpl(const CSWinAgentAttentionOptions& o) : options(o) { reset(); }

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
                                                      options.agent_num(), biases, options.attn_drop(), is_training(), this) +
                         lepe(get_v, vs, H_sp, W_sp);
  if (AttentionRecord* r = latest_attention_record(this)) set_window_geometry(*r, R, R, {H_sp, W_sp});
  return from_stripes(out, B, R, H_sp, W_sp);
}

void CSWinLePEAttentionImpl::pretty_print(std::ostream& os) const {
  os << "attnzoo::CSWinLePEAttention(dim=" << options.dim() << ", resolution=" << options.resolution()
     << ", idx=" << options.idx() << ", split_size=" << options.split_size() << ", num_heads=" << options.num_heads() << ")";
}

void CSWinAgentAttentionImpl::pretty_print(std::ostream& os) const {
  os << "attnzoo::CSWinAgentAttention(dim=" << options.dim() << ", resolution=" << options.resolution()
     << ", idx=" << options.idx() << ", split_size=" << options.split_size() << ", num_heads=" << options.num_heads()
     << ", agent_num=" << options.agent_num() << ")";
}

// ---------------------------------------------------------------------------------------------------
// CSWinBlock, Merge_Block

CSWinBlockImpl::CSWinBlockImpl(const CSWinBlockOptions& o) : options(o) { reset(); }

void CSWinBlockImpl::reset() {
  const auto& o = options;
  const int64_t dim = o.dim(), reso = o.reso(), heads = o.num_heads(), split = o.split_size();
  agent_.clear();
  lepe_.clear();
  qkv = register_module("qkv", nn::Linear(nn::LinearOptions(dim, 3 * dim).bias(o.qkv_bias())));
  norm1 = register_module("norm1", nn::LayerNorm(nn::LayerNormOptions({dim})));
  proj = register_module("proj", nn::Linear(dim, dim));
  attns = register_module("attns", nn::ModuleList());
  const int64_t branches = o.last_stage() || reso == split ? 1 : 2;
  for (int64_t i = 0; i < branches; ++i) {
    // Two branches: idx 0 / 1 on half the channels and half the heads each; one branch: the whole map.
    const int64_t d = branches == 1 ? dim : dim / 2, h = branches == 1 ? heads : heads / 2, idx = branches == 1 ? -1 : i;
    if (o.attn_type() == AgentAttnType::Agent) {
      agent_.push_back(CSWinAgentAttention(
          CSWinAgentAttentionOptions(d, reso, idx).split_size(split).num_heads(h).attn_drop(o.attn_drop()).agent_num(o.agent_num())));
      attns->push_back(agent_.back());
    } else {
      lepe_.push_back(
          CSWinLePEAttention(LePEAttentionOptions(d, reso, idx).split_size(split).num_heads(h).attn_drop(o.attn_drop())));
      attns->push_back(lepe_.back());
    }
  }
  drop_path = register_module("drop_path", DropPath(o.drop_path()));
  mlp = register_module("mlp", Mlp(MlpOptions(dim).hidden_features(static_cast<int64_t>(dim * o.mlp_ratio())).drop(o.drop())));
  norm2 = register_module("norm2", nn::LayerNorm(nn::LayerNormOptions({dim})));
}

void CSWinBlockImpl::pretty_print(std::ostream& os) const {
  os << "attnzoo::CSWinBlock(dim=" << options.dim() << ", reso=" << options.reso() << ", num_heads=" << options.num_heads()
     << ", split_size=" << options.split_size() << ", attn_type=" << (options.attn_type() == AgentAttnType::Agent ? "A" : "B")
     << ")";
}

at::Tensor CSWinBlockImpl::branch(size_t i, const at::Tensor& q, const at::Tensor& k, const at::Tensor& v) {
  return agent_.empty() ? lepe_[i](q, k, v) : agent_[i](q, k, v);
}

at::Tensor CSWinBlockImpl::forward(const at::Tensor& x) {
  const int64_t B = x.size(0), L = x.size(1), C = x.size(2), reso = options.reso();
  TORCH_CHECK(x.dim() == 3 && L == reso * reso && C == options.dim(), "CSWinBlock: expected [B, ", reso * reso, ", ",
              options.dim(), "] tokens (the model is built for one input size), got ", x.sizes());
  const at::Tensor t = qkv(norm1(x)).reshape({B, L, 3, C}).permute({2, 0, 1, 3});
  at::Tensor y;
  if (attns->size() == 2) {
    const int64_t h = C / 2;
    y = torch::cat({branch(0, t[0].slice(2, 0, h), t[1].slice(2, 0, h), t[2].slice(2, 0, h)),
                    branch(1, t[0].slice(2, h), t[1].slice(2, h), t[2].slice(2, h))},
                   2);
  } else {
    y = branch(0, t[0], t[1], t[2]);
  }
  y = proj(y);  // (the official proj_drop is never applied)
  const at::Tensor out = x + drop_path(y);
  return out + drop_path(mlp(norm2(out)));
}

CSWinMergeBlockImpl::CSWinMergeBlockImpl(const CSWinMergeBlockOptions& o) : options(o) { reset(); }

void CSWinMergeBlockImpl::reset() {
  conv = register_module("conv", nn::Conv2d(nn::Conv2dOptions(options.dim(), options.dim_out(), 3).stride(2).padding(1)));
  norm = register_module("norm", nn::LayerNorm(nn::LayerNormOptions({options.dim_out()})));
}

void CSWinMergeBlockImpl::pretty_print(std::ostream& os) const {
  os << "attnzoo::CSWinMergeBlock(dim=" << options.dim() << ", dim_out=" << options.dim_out() << ")";
}

at::Tensor CSWinMergeBlockImpl::forward(const at::Tensor& x, int64_t side) {
  const int64_t B = x.size(0), C = x.size(2);
  TORCH_CHECK(x.dim() == 3 && x.size(1) == side * side && C == options.dim(), "CSWinMergeBlock: expected [B, ", side * side,
              ", ", options.dim(), "] tokens, got ", x.sizes());
  const at::Tensor y = conv(x.transpose(1, 2).reshape({B, C, side, side}));
  return norm(y.flatten(2).transpose(1, 2));
}

// ---------------------------------------------------------------------------------------------------
// Registration

namespace {

// The stripe attentions' official forward takes the block's stacked qkv [3, B, H*W, dim].
struct StackedQkvForward {
  std::string owner;
  static std::vector<std::string> inputs() { return {"qkv"}; }
  static std::vector<std::string> forward_args() { return {}; }
  template <typename Holder>
  BuiltModule operator()(Holder m) const {
    const std::string who = owner;
    return {m.ptr(), [m, who](const std::vector<at::Tensor>& in, const nlohmann::json&) mutable {
              TORCH_CHECK(in.size() == 1 && in[0].dim() == 4 && in[0].size(0) == 3, who,
                          " takes one tensor qkv [3, B, H*W, dim]");
              return std::vector<at::Tensor>{m(in[0][0], in[0][1], in[0][2])};
            }};
  }
};

}  // namespace

void register_agent_cswin_modules(ModuleEntries& e) {
  e.push_back(module_entry<CSWinLePEAttention>(
      "agent_cswin", "LePEAttention", "attnzoo::modules::CSWinLePEAttention",
      "CSWin stripe attention with LePE on qkv [3, B, H*W, dim] (Agent-CSWin 'B' blocks)", LePEAttentionOptions(0, 0, 0),
      StackedQkvForward{"agent_cswin.LePEAttention"}));
  e.push_back(module_entry<CSWinAgentAttention>(
      "agent_cswin", "AgentAttention", "attnzoo::modules::CSWinAgentAttention",
      "agent attention inside CSWin stripes + LePE on qkv [3, B, H*W, dim] (Agent-CSWin 'A' blocks)",
      CSWinAgentAttentionOptions(0, 0, 0), StackedQkvForward{"agent_cswin.AgentAttention"}));
}

}  // namespace attnzoo::modules
