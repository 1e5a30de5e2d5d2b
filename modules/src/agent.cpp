#include <attnzoo/modules/agent.h>

#include <attnzoo/modules/depthwise.h>
#include <attnzoo/modules/fused_attention.h>
#include <attnzoo/modules/init.h>

#include <torch/torch.h>

#include <cmath>

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
                                bool training) {
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
  return out.transpose(1, 2).reshape({b, n, c});
}

}  // namespace detail

AgentAttentionImpl::AgentAttentionImpl(const AgentAttentionOptions& options_) : options(options_) { reset(); }

void AgentAttentionImpl::reset() {
  const auto& o = options;
  const int64_t C = o.dim(), H = o.num_heads(), A = o.agent_num(), w = o.window();
  const std::string& f = o.flavour();
  TORCH_CHECK(f == "deit" || f == "swin" || f == "pvt", "AgentAttention: flavour must be deit, swin or pvt, got ", f);
  TORCH_CHECK(H > 0 && C % H == 0, "AgentAttention: dim ", C, " is not divisible by num_heads ", H);
  const auto p = static_cast<int64_t>(std::sqrt(static_cast<double>(A)) + 1e-9);
  TORCH_CHECK(p * p == A, "AgentAttention: agent_num must be a square number, got ", A);
  const int64_t sr = f == "pvt" ? o.sr_ratio() : 1;
  TORCH_CHECK(sr >= 1 && w % sr == 0, "AgentAttention: window ", w, " must be a multiple of sr_ratio ", sr);
  std::tie(an_bias, na_bias, ah_bias, aw_bias, ha_bias, wa_bias) = detail::register_agent_biases(*this, H, A, w / sr, w / sr, w, w);
  if (f == "deit") {  // the class token's biases
    ac_bias = register_parameter("ac_bias", torch::zeros({1, H, A, 1}));
    ca_bias = register_parameter("ca_bias", torch::zeros({1, H, 1, A}));
    trunc_normal_(ac_bias, 0.02);
    trunc_normal_(ca_bias, 0.02);
  }
  if (f == "pvt") {
    q = register_module("q", nn::Linear(nn::LinearOptions(C, C).bias(o.qkv_bias())));
    kv = register_module("kv", nn::Linear(nn::LinearOptions(C, 2 * C).bias(o.qkv_bias())));
  } else {
    qkv = register_module("qkv", nn::Linear(nn::LinearOptions(C, 3 * C).bias(o.qkv_bias())));
  }
  proj = register_module("proj", nn::Linear(C, C));
  if (sr > 1) {
    this->sr = register_module("sr", nn::Conv2d(nn::Conv2dOptions(C, C, sr).stride(sr)));
    norm = register_module("norm", nn::LayerNorm(nn::LayerNormOptions({C})));
  }
  dwc = register_module("dwc", nn::Conv2d(nn::Conv2dOptions(C, C, 3).padding(1).groups(C)));
}

at::Tensor AgentAttentionImpl::forward(const at::Tensor& x, int64_t Hm, int64_t Wm) {
  const auto& o = options;
  const std::string& f = o.flavour();
  TORCH_CHECK(x.dim() == 3 && x.size(2) == o.dim(), "AgentAttention: expected tokens [B, N, ", o.dim(), "], got ",
              x.sizes());
  const int64_t b = x.size(0), n = x.size(1), c = x.size(2), heads = o.num_heads(), A = o.agent_num(), win = o.window();
  const bool cls = f == "deit";
  const int64_t sr = f == "pvt" ? o.sr_ratio() : 1;
  int64_t h = win, w = win;
  if (f == "pvt") {
    h = Hm > 0 ? Hm : win;
    w = Wm > 0 ? Wm : win;
  }
  TORCH_CHECK(h == win && w == win && n == h * w + (cls ? 1 : 0), "AgentAttention (", f, "): built for a ", win, "x",
              win, " token map", cls ? " plus a class token" : "", " (", win * win + (cls ? 1 : 0), " tokens), got ", n,
              " tokens", f == "pvt" ? " on a " + std::to_string(h) + "x" + std::to_string(w) + " map" : "");
  at::Tensor qt, kt, vt;
  if (f == "pvt") {
    qt = q(x);
    at::Tensor src = x;
    if (sr > 1) src = norm(this->sr(x.permute({0, 2, 1}).reshape({b, c, h, w})).reshape({b, c, -1}).permute({0, 2, 1}));
    const auto kvs = kv(src).reshape({b, -1, 2, c}).permute({2, 0, 1, 3});
    kt = kvs[0];
    vt = kvs[1];
  } else {
    const auto t = qkv(x).reshape({b, n, 3, c}).permute({2, 0, 1, 3});
    qt = t[0];
    kt = t[1];
    vt = t[2];
  }
  const int64_t hk = h / sr, wk = w / sr;
  const detail::AgentBiases biases{an_bias, na_bias, ah_bias, aw_bias, ha_bias, wa_bias, cls ? &ac_bias : nullptr,
                                   cls ? &ca_bias : nullptr};
  at::Tensor out = detail::agent_attention_core(qt, kt, vt, h, w, hk, wk, heads, A, biases, o.attn_drop(), is_training());

  // Depthwise-conv branch on V (patch tokens; pvt: V upsampled back from the reduced map).
  if (cls) {
    const at::Tensor v_map = vt.slice(1, 1).reshape({b, h, w, c}).permute({0, 3, 1, 2});
    const at::Tensor d = depthwise_conv2d(v_map, *dwc).permute({0, 2, 3, 1}).reshape({b, n - 1, c});
    out = torch::cat({out.slice(1, 0, 1), out.slice(1, 1) + d}, 1);
  } else {
    at::Tensor v_map = vt.reshape({b, hk, wk, c}).permute({0, 3, 1, 2});
    if (sr > 1) v_map = bilinear(v_map, h, w);
    out = out + depthwise_conv2d(v_map, *dwc).permute({0, 2, 3, 1}).reshape({b, n, c});
  }
  return maybe_dropout(proj(out), o.proj_drop(), is_training());
}

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
  return proj(torch::matmul(attn, t[2]).transpose(1, 2).reshape({B_, N, C}));
}

void register_agent_modules(ModuleEntries& e) {
  // Agent Attention: one module, three official flavours (files).
  e.push_back({"agent_deit", "AgentAttention", "attnzoo::modules::AgentAttention",
               "agent attention on [B, 1 + window^2, C] tokens with a class token (Agent-DeiT)",
               [](const nlohmann::json& c) {
                 ArgReader a(c, "agent_deit.AgentAttention");
                 AgentAttentionOptions o(a.get<int64_t>("dim"), a.get<int64_t>("num_heads", 8));
                 o.flavour("deit")
                     .qkv_bias(a.get("qkv_bias", false))
                     .agent_num(a.get<int64_t>("agent_num", 49))
                     .window(a.get<int64_t>("window", 14))
                     .attn_drop(a.get("attn_drop", 0.0))
                     .proj_drop(a.get("proj_drop", 0.0));
                 a.finish();
                 return UnaryForward{}(AgentAttention(o));
               }});
  e.push_back({"agent_pvt", "AgentAttention", "attnzoo::modules::AgentAttention",
               "agent attention on a square token map with optional spatial reduction (Agent-PVT; extra {H, W})",
               [](const nlohmann::json& c) {
                 ArgReader a(c, "agent_pvt.AgentAttention");
                 AgentAttentionOptions o(a.get<int64_t>("dim"), a.get<int64_t>("num_heads", 8));
                 const auto np = a.get<int64_t>("num_patches");
                 o.flavour("pvt")
                     .qkv_bias(a.get("qkv_bias", false))
                     .agent_num(a.get<int64_t>("agent_num", 49))
                     .window(static_cast<int64_t>(std::sqrt(static_cast<double>(np)) + 1e-9))
                     .sr_ratio(a.get<int64_t>("sr_ratio", 1))
                     .attn_drop(a.get("attn_drop", 0.0))
                     .proj_drop(a.get("proj_drop", 0.0));
                 a.ignore("qk_scale");  // unused by the official agent attention
                 a.finish();
                 AgentAttention m(o);
                 BuiltModule b;
                 b.module = m.ptr();
                 b.forward = [m](const std::vector<at::Tensor>& in, const nlohmann::json& extra) mutable {
                   TORCH_CHECK(in.size() == 1, "module takes one input tensor, got ", in.size());
                   return std::vector<at::Tensor>{m->forward(in[0], extra.value("H", int64_t{0}), extra.value("W", int64_t{0}))};
                 };
                 return b;
               }});
  e.push_back({"agent_swin", "AgentAttention", "attnzoo::modules::AgentAttention",
               "agent attention inside windows [num_windows * B, ws * ws, C] (Agent-Swin)", [](const nlohmann::json& c) {
                 ArgReader a(c, "agent_swin.AgentAttention");
                 AgentAttentionOptions o(a.get<int64_t>("dim"), a.get<int64_t>("num_heads", 8));
                 const auto ws = a.get<std::vector<int64_t>>("window_size");
                 if (ws.size() != 2 || ws[0] != ws[1]) throw std::invalid_argument("agent_swin.AgentAttention: square window_size [w, w] expected");
                 o.flavour("swin")
                     .qkv_bias(a.get("qkv_bias", true))
                     .agent_num(a.get<int64_t>("agent_num", 49))
                     .window(ws[0])
                     .attn_drop(a.get("attn_drop", 0.0))
                     .proj_drop(a.get("proj_drop", 0.0));
                 a.ignore("qk_scale");
                 a.ignore("shift_size");  // accepted and unused by the official module
                 a.finish();
                 return UnaryForward{}(AgentAttention(o));
               }});
}

}  // namespace attnzoo::modules
