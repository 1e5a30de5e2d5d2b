#include <attnzoo/modules/agent.h>

#include <attnzoo/modules/attention_capture.h>

#include <attnzoo/modules/depthwise.h>
#include <attnzoo/modules/fused_attention.h>
#include <attnzoo/modules/init.h>

#include <torch/torch.h>

#include <array>
#include <cmath>
#include <string>

#include "agent_core.h"
#include "module_entry.h"

namespace attnzoo::modules {

namespace nn = torch::nn;
namespace F = torch::nn::functional;

namespace {

at::Tensor bilinear(const at::Tensor& grid, int64_t h, int64_t w) {
  return F::interpolate(grid, F::InterpolateFuncOptions()
                                  .size(std::vector<int64_t>{h, w})
                                  .mode(torch::kBilinear)
                                  .align_corners(false));
}

at::Tensor maybe_dropout(const at::Tensor& x, double p, bool training) {
  return p > 0 ? F::dropout(x, F::DropoutFuncOptions().p(p).training(training)) : x;
}

// [b, n, c] -> [b, heads, n, c / heads]
at::Tensor split_heads(const at::Tensor& t, int64_t heads) {
  return t.reshape({t.size(0), t.size(1), heads, t.size(2) / heads}).permute({0, 2, 1, 3});
}

}  // namespace

namespace detail {

std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor> register_agent_biases(
    nn::Module& m, int64_t heads, int64_t agents, int64_t hk, int64_t wk, int64_t h, int64_t w) {
  auto bias = [&](const char* name, std::vector<int64_t> shape) {
    at::Tensor t = m.register_parameter(name, torch::zeros(shape));
    trunc_normal_(t, 0.02);
    return t;
  };
  at::Tensor an = bias("an_bias", {heads, agents, 7, 7});
  at::Tensor na = bias("na_bias", {heads, agents, 7, 7});
  at::Tensor ah = bias("ah_bias", {1, heads, agents, hk, 1});
  at::Tensor aw = bias("aw_bias", {1, heads, agents, 1, wk});
  at::Tensor ha = bias("ha_bias", {1, heads, h, 1, agents});
  at::Tensor wa = bias("wa_bias", {1, heads, 1, w, agents});
  return {an, na, ah, aw, ha, wa};
}

// softmax(q_scaled k^T + bias) v. The official code scales the agents / queries before the product: the fused
// kernel gets the scaled operand and scale 1, so both paths round alike. An active attention dropout needs the
// probabilities, so it runs the reference.
at::Tensor attend(const at::Tensor& q_scaled, const at::Tensor& k, const at::Tensor& v, const at::Tensor& bias,
                  double attn_drop, bool training) {
  if (attn_drop == 0.0 || !training) return softmax_attention(q_scaled, k, v, 1.0, bias);
  const at::Tensor attn = (torch::matmul(q_scaled, k.transpose(-2, -1)) + bias).softmax(-1);
  return torch::matmul(maybe_dropout(attn, attn_drop, training), v);
}

at::Tensor agent_attention_core(const at::Tensor& qt, const at::Tensor& kt, const at::Tensor& vt, int64_t h, int64_t w,
                                int64_t hk, int64_t wk, int64_t heads, int64_t A, const AgentBiases& bs, double attn_drop,
                                bool training, const torch::nn::Module* self) {
  const int64_t b = qt.size(0), n = qt.size(1), c = qt.size(2);
  const bool cls = bs.ac != nullptr;
  const int64_t p = static_cast<int64_t>(std::sqrt(static_cast<double>(A)) + 1e-9);
  const at::Tensor q_map = (cls ? qt.slice(1, 1) : qt).reshape({b, h, w, c}).permute({0, 3, 1, 2});
  at::Tensor agents = torch::adaptive_avg_pool2d(q_map, {p, p}).reshape({b, c, -1}).permute({0, 2, 1});
  const at::Tensor qh = split_heads(qt, heads), kh = split_heads(kt, heads), vh = split_heads(vt, heads);
  agents = split_heads(agents, heads);  // [b, heads, A, d]
  const double scale = std::pow(static_cast<double>(c / heads), -0.5);

  // Agent aggregation: agents attend to the keys.
  at::Tensor position_bias = bilinear(bs.an, hk, wk).reshape({1, heads, A, -1}) + (bs.ah + bs.aw).reshape({1, heads, A, -1});
  if (cls) position_bias = torch::cat({*bs.ac, position_bias}, -1);
  const at::Tensor agent_v = attend(agents * scale, kh, vh, position_bias, attn_drop, training);

  // Agent broadcast: queries attend to the agents.
  at::Tensor agent_bias = bilinear(bs.na, h, w).reshape({1, heads, A, -1}).permute({0, 1, 3, 2}) +
                          (bs.ha + bs.wa).reshape({1, heads, -1, A});
  if (cls) agent_bias = torch::cat({*bs.ca, agent_bias}, -2);
  const at::Tensor out = attend(qh * scale, agents, agent_v, agent_bias, attn_drop, training);
  if (capturing_attention()) {
    const at::Tensor to_keys = (torch::matmul(agents * scale, kh.transpose(-2, -1)) + position_bias).softmax(-1);
    const at::Tensor to_agents = (torch::matmul(qh * scale, agents.transpose(-2, -1)) + agent_bias).softmax(-1);
    AttentionRecord* r = record_attention(self, "agent", torch::matmul(to_agents, to_keys));
    set_global_geometry(*r, {h, w}, {hk, wk}, cls ? 1 : 0, cls ? 1 : 0);
    r->head_labels.assign(heads, "via " + std::to_string(A) + " agents");
  }
  return out.transpose(1, 2).reshape({b, n, c});
}

}  // namespace detail

namespace {

// The checks every agent attention makes; returns sqrt(agent_num).
void check_agent_args(const char* who, int64_t dim, int64_t heads, int64_t agents) {
  TORCH_CHECK(heads > 0 && dim % heads == 0, who, ": dim ", dim, " is not divisible by num_heads ", heads);
  const auto p = static_cast<int64_t>(std::sqrt(static_cast<double>(agents)) + 1e-9);
  TORCH_CHECK(agents > 0 && p * p == agents, who, ": agent_num must be a square number, got ", agents);
}

void check_tokens(const char* who, const at::Tensor& x, int64_t dim, int64_t expected, const std::string& what) {
  TORCH_CHECK(x.dim() == 3 && x.size(2) == dim, who, ": expected tokens [B, N, ", dim, "], got ", x.sizes());
  TORCH_CHECK(x.size(1) == expected, who, ": built for ", what, " (", expected, " tokens), got ", x.size(1), " tokens");
}

// q, k, v [b, n, c] from one qkv Linear.
std::array<at::Tensor, 3> split_qkv(nn::Linear& qkv, const at::Tensor& x) {
  const int64_t b = x.size(0), n = x.size(1), c = x.size(2);
  const auto t = qkv(x).reshape({b, n, 3, c}).permute({2, 0, 1, 3});
  return {t[0], t[1], t[2]};
}

// The depthwise-conv branch: dwc over V [b, h*w, c] seen as an h x w map, back to tokens.
at::Tensor dwc_tokens(nn::Conv2d& dwc, const at::Tensor& v_map) {
  const int64_t b = v_map.size(0), c = v_map.size(1);
  return depthwise_conv2d(v_map, *dwc).permute({0, 2, 3, 1}).reshape({b, -1, c});
}

at::Tensor token_map(const at::Tensor& t, int64_t h, int64_t w) {  // [b, h*w, c] -> [b, c, h, w]
  return t.reshape({t.size(0), h, w, t.size(2)}).permute({0, 3, 1, 2});
}

nn::Linear linear(int64_t in, int64_t out, bool bias) { return nn::Linear(nn::LinearOptions(in, out).bias(bias)); }
nn::Conv2d depthwise3x3(int64_t c) { return nn::Conv2d(nn::Conv2dOptions(c, c, 3).padding(1).groups(c)); }

}  // namespace

// ---------------------------------------------------------------------------------------------------
// agent_deit.py

AgentDeiTAttentionImpl::AgentDeiTAttentionImpl(const AgentDeiTAttentionOptions& options_) : options(options_) { reset(); }

void AgentDeiTAttentionImpl::reset() {
  const auto& o = options;
  const int64_t C = o.dim(), H = o.num_heads(), A = o.agent_num(), w = o.window();
  check_agent_args("AgentDeiTAttention", C, H, A);
  std::tie(an_bias, na_bias, ah_bias, aw_bias, ha_bias, wa_bias) = detail::register_agent_biases(*this, H, A, w, w, w, w);
  ac_bias = register_parameter("ac_bias", torch::zeros({1, H, A, 1}));  // the class token's biases
  ca_bias = register_parameter("ca_bias", torch::zeros({1, H, 1, A}));
  trunc_normal_(ac_bias, 0.02);
  trunc_normal_(ca_bias, 0.02);
  qkv = register_module("qkv", linear(C, 3 * C, o.qkv_bias()));
  proj = register_module("proj", nn::Linear(C, C));
  dwc = register_module("dwc", depthwise3x3(C));
}

void AgentDeiTAttentionImpl::pretty_print(std::ostream& os) const {
  os << "attnzoo::AgentDeiTAttention(dim=" << options.dim() << ", num_heads=" << options.num_heads()
     << ", agent_num=" << options.agent_num() << ", window=" << options.window() << ")";
}

at::Tensor AgentDeiTAttentionImpl::forward(const at::Tensor& x) {
  const auto& o = options;
  const int64_t w = o.window();
  check_tokens("AgentDeiTAttention", x, o.dim(), w * w + 1,
               "a class token and a " + std::to_string(w) + "x" + std::to_string(w) + " token map");
  auto [q, k, v] = split_qkv(qkv, x);
  const detail::AgentBiases biases{an_bias, na_bias, ah_bias, aw_bias, ha_bias, wa_bias, &ac_bias, &ca_bias};
  const at::Tensor out = detail::agent_attention_core(q, k, v, w, w, w, w, o.num_heads(), o.agent_num(), biases,
                                                      o.attn_drop(), is_training(), this);
  // The DWC branch on the patch tokens; the class token's output has none.
  const at::Tensor d = dwc_tokens(dwc, token_map(v.slice(1, 1), w, w));
  const at::Tensor y = torch::cat({out.slice(1, 0, 1), out.slice(1, 1) + d}, 1);
  return maybe_dropout(proj(y), o.proj_drop(), is_training());
}

// ---------------------------------------------------------------------------------------------------
// agent_pvt.py

AgentPVTAttentionImpl::AgentPVTAttentionImpl(const AgentPVTAttentionOptions& options_) : options(options_) { reset(); }

void AgentPVTAttentionImpl::reset() {
  const auto& o = options;
  const int64_t C = o.dim(), H = o.num_heads(), A = o.agent_num(), sr_ratio = o.sr_ratio();
  check_agent_args("AgentPVTAttention", C, H, A);
  window = static_cast<int64_t>(std::sqrt(static_cast<double>(o.num_patches())) + 1e-9);
  TORCH_CHECK(window > 0 && window * window == o.num_patches(), "AgentPVTAttention: num_patches must be a square number, got ",
              o.num_patches());
  TORCH_CHECK(sr_ratio >= 1 && window % sr_ratio == 0, "AgentPVTAttention: the map side ", window,
              " must be a multiple of sr_ratio ", sr_ratio);
  const int64_t k = window / sr_ratio;
  std::tie(an_bias, na_bias, ah_bias, aw_bias, ha_bias, wa_bias) =
      detail::register_agent_biases(*this, H, A, k, k, window, window);
  q = register_module("q", linear(C, C, o.qkv_bias()));
  kv = register_module("kv", linear(C, 2 * C, o.qkv_bias()));
  proj = register_module("proj", nn::Linear(C, C));
  if (sr_ratio > 1) {
    sr = register_module("sr", nn::Conv2d(nn::Conv2dOptions(C, C, sr_ratio).stride(sr_ratio)));
    norm = register_module("norm", nn::LayerNorm(nn::LayerNormOptions({C})));
  }
  dwc = register_module("dwc", depthwise3x3(C));
}

void AgentPVTAttentionImpl::pretty_print(std::ostream& os) const {
  os << "attnzoo::AgentPVTAttention(dim=" << options.dim() << ", num_patches=" << options.num_patches()
     << ", num_heads=" << options.num_heads() << ", sr_ratio=" << options.sr_ratio() << ", agent_num=" << options.agent_num()
     << ")";
}

at::Tensor AgentPVTAttentionImpl::forward(const at::Tensor& x, int64_t H, int64_t W) {
  const auto& o = options;
  TORCH_CHECK(H == window && W == window, "AgentPVTAttention: built for a ", window, "x", window, " map, got ", H, "x", W);
  check_tokens("AgentPVTAttention", x, o.dim(), H * W, "a " + std::to_string(H) + "x" + std::to_string(W) + " map");
  const int64_t b = x.size(0), c = x.size(2), sr_ratio = o.sr_ratio(), hk = H / sr_ratio, wk = W / sr_ratio;
  const at::Tensor qt = q(x);
  const at::Tensor src = sr_ratio > 1 ? norm(sr(token_map(x, H, W)).reshape({b, c, -1}).permute({0, 2, 1})) : x;
  const auto kvs = kv(src).reshape({b, -1, 2, c}).permute({2, 0, 1, 3});
  const detail::AgentBiases biases{an_bias, na_bias, ah_bias, aw_bias, ha_bias, wa_bias};
  at::Tensor out = detail::agent_attention_core(qt, kvs[0], kvs[1], H, W, hk, wk, o.num_heads(), o.agent_num(), biases,
                                                o.attn_drop(), is_training(), this);
  at::Tensor v_map = token_map(kvs[1], hk, wk);
  if (sr_ratio > 1) v_map = bilinear(v_map, H, W);  // V back on the query map for the DWC
  out = out + dwc_tokens(dwc, v_map);
  return maybe_dropout(proj(out), o.proj_drop(), is_training());
}

// ---------------------------------------------------------------------------------------------------
// agent_swin.py

AgentSwinAttentionImpl::AgentSwinAttentionImpl(const AgentSwinAttentionOptions& options_) : options(options_) { reset(); }

void AgentSwinAttentionImpl::reset() {
  const auto& o = options;
  const int64_t C = o.dim(), H = o.num_heads(), A = o.agent_num();
  TORCH_CHECK(o.window_size().size() == 2 && o.window_size()[0] == o.window_size()[1] && o.window_size()[0] > 0,
              "AgentSwinAttention: square window_size [w, w] expected, got ", o.window_size());
  check_agent_args("AgentSwinAttention", C, H, A);
  const int64_t w = o.window_size()[0];
  std::tie(an_bias, na_bias, ah_bias, aw_bias, ha_bias, wa_bias) = detail::register_agent_biases(*this, H, A, w, w, w, w);
  qkv = register_module("qkv", linear(C, 3 * C, o.qkv_bias()));
  proj = register_module("proj", nn::Linear(C, C));
  dwc = register_module("dwc", depthwise3x3(C));
}

void AgentSwinAttentionImpl::pretty_print(std::ostream& os) const {
  os << "attnzoo::AgentSwinAttention(dim=" << options.dim() << ", window_size=" << options.window_size()[0]
     << ", num_heads=" << options.num_heads() << ", agent_num=" << options.agent_num() << ")";
}

at::Tensor AgentSwinAttentionImpl::forward(const at::Tensor& x) {
  const auto& o = options;
  const int64_t w = o.window_size()[0];
  check_tokens("AgentSwinAttention", x, o.dim(), w * w, "windows of " + std::to_string(w) + "x" + std::to_string(w));
  auto [q, k, v] = split_qkv(qkv, x);
  const detail::AgentBiases biases{an_bias, na_bias, ah_bias, aw_bias, ha_bias, wa_bias};
  const at::Tensor out = detail::agent_attention_core(q, k, v, w, w, w, w, o.num_heads(), o.agent_num(), biases,
                                                      o.attn_drop(), is_training(), this) +
                         dwc_tokens(dwc, token_map(v, w, w));
  return maybe_dropout(proj(out), o.proj_drop(), is_training());
}

// ---------------------------------------------------------------------------------------------------
// The backbones' own softmax attentions ('B' blocks)

void SRAttentionImpl::reset() {
  const int64_t dim = options.dim(), num_heads = options.num_heads(), sr_ratio = options.sr_ratio();
  const bool qkv_bias = options.qkv_bias();
  TORCH_CHECK(num_heads > 0 && dim % num_heads == 0, "SRAttention: dim ", dim, " should be divided by num_heads ",
              num_heads);
  q = register_module("q", nn::Linear(nn::LinearOptions(dim, dim).bias(qkv_bias)));
  kv = register_module("kv", nn::Linear(nn::LinearOptions(dim, 2 * dim).bias(qkv_bias)));
  proj = register_module("proj", nn::Linear(dim, dim));
  if (sr_ratio > 1) {
    sr = register_module("sr", nn::Conv2d(nn::Conv2dOptions(dim, dim, sr_ratio).stride(sr_ratio)));
    norm = register_module("norm", nn::LayerNorm(nn::LayerNormOptions({dim})));
  }
}

void SRAttentionImpl::pretty_print(std::ostream& os) const {
  os << "attnzoo::SRAttention(dim=" << options.dim() << ", num_heads=" << options.num_heads()
     << ", sr_ratio=" << options.sr_ratio() << ")";
}

at::Tensor SRAttentionImpl::forward(const at::Tensor& x, int64_t H, int64_t W) {
  const int64_t num_heads = options.num_heads(), sr_ratio = options.sr_ratio();
  const int64_t B = x.size(0), N = x.size(1), C = x.size(2), hd = C / num_heads;
  TORCH_CHECK(N == H * W, "SRAttention: ", N, " tokens for a ", H, "x", W, " map");
  const at::Tensor qh = q(x).reshape({B, N, num_heads, hd}).permute({0, 2, 1, 3});
  at::Tensor src = x;
  if (sr_ratio > 1) src = norm(sr(x.permute({0, 2, 1}).reshape({B, C, H, W})).reshape({B, C, -1}).permute({0, 2, 1}));
  const auto kvs = kv(src).reshape({B, -1, 2, num_heads, hd}).permute({2, 0, 3, 1, 4});
  const at::Tensor attn = (torch::matmul(qh, kvs[0].transpose(-2, -1)) * std::pow(static_cast<double>(hd), -0.5)).softmax(-1);
  if (AttentionRecord* r = record_attention(this, "softmax", attn)) set_global_geometry(*r, {H, W}, {H / sr_ratio, W / sr_ratio});
  return proj(torch::matmul(attn, kvs[1]).transpose(1, 2).reshape({B, N, C}));
}

void SwinWindowAttentionImpl::reset() {
  const int64_t dim = options.dim(), window_size = options.window_size(), num_heads = options.num_heads();
  const bool qkv_bias = options.qkv_bias();
  TORCH_CHECK(num_heads > 0 && dim % num_heads == 0, "SwinWindowAttention: dim ", dim, " not divisible by num_heads ",
              num_heads);
  const int64_t ws = window_size, P = 2 * ws - 1;
  relative_position_bias_table = register_parameter("relative_position_bias_table", torch::zeros({P * P, num_heads}));
  const auto c = torch::arange(ws * ws, torch::kLong);
  const auto rows = c.div(ws, "floor"), cols = c.remainder(ws);
  const auto dr = rows.unsqueeze(1) - rows.unsqueeze(0) + (ws - 1), dc = cols.unsqueeze(1) - cols.unsqueeze(0) + (ws - 1);
  relative_position_index = register_buffer("relative_position_index", dr * P + dc);
  qkv = register_module("qkv", nn::Linear(nn::LinearOptions(dim, 3 * dim).bias(qkv_bias)));
  proj = register_module("proj", nn::Linear(dim, dim));
  trunc_normal_(relative_position_bias_table, 0.02);
}

void SwinWindowAttentionImpl::pretty_print(std::ostream& os) const {
  os << "attnzoo::SwinWindowAttention(dim=" << options.dim() << ", window_size=" << options.window_size()
     << ", num_heads=" << options.num_heads() << ")";
}

at::Tensor SwinWindowAttentionImpl::forward(const at::Tensor& x, const at::Tensor& mask) {
  const int64_t dim = options.dim(), window_size = options.window_size(), num_heads = options.num_heads();
  const int64_t B_ = x.size(0), N = x.size(1), C = x.size(2), hd = C / num_heads;
  TORCH_CHECK(N == window_size * window_size && C == dim, "SwinWindowAttention: expected [B', ", window_size * window_size,
              ", ", dim, "], got ", x.sizes());
  const auto t = qkv(x).reshape({B_, N, 3, num_heads, hd}).permute({2, 0, 3, 1, 4});
  at::Tensor attn = torch::matmul(t[0] * std::pow(static_cast<double>(hd), -0.5), t[1].transpose(-2, -1));
  const at::Tensor bias = relative_position_bias_table.index_select(0, relative_position_index.view(-1).to(torch::kLong))
                              .view({N, N, -1})
                              .permute({2, 0, 1});
  attn = attn + bias.unsqueeze(0);
  if (mask.defined()) {
    const int64_t nW = mask.size(0);
    attn = (attn.view({B_ / nW, nW, num_heads, N, N}) + mask.unsqueeze(1).unsqueeze(0)).view({-1, num_heads, N, N});
  }
  attn = attn.softmax(-1);
  record_attention(this, "softmax", attn);  // windows: the block adds their geometry
  return proj(torch::matmul(attn, t[2]).transpose(1, 2).reshape({B_, N, C}));
}

void register_agent_modules(ModuleEntries& e) {
  // One entry per official file's AgentAttention.
  e.push_back(module_entry<AgentDeiTAttention>("agent_deit", "AgentAttention", "attnzoo::modules::AgentDeiTAttention",
                                               "agent attention on [B, 1 + window^2, C] tokens with a class token (Agent-DeiT)",
                                               AgentDeiTAttentionOptions(0)));
  e.push_back(module_entry<AgentPVTAttention>(
      "agent_pvt", "AgentAttention", "attnzoo::modules::AgentPVTAttention",
      "agent attention on a square token map with optional spatial reduction (Agent-PVT; extra {H, W})",
      AgentPVTAttentionOptions(0, 0), MapForward{}));
  e.push_back(module_entry<AgentSwinAttention>("agent_swin", "AgentAttention", "attnzoo::modules::AgentSwinAttention",
                                               "agent attention inside windows [num_windows * B, ws * ws, C] (Agent-Swin)",
                                               AgentSwinAttentionOptions(0, std::vector<int64_t>{}, 0)));
}

}  // namespace attnzoo::modules
