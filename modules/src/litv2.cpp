#include <attnzoo/modules/litv2.h>

#include <attnzoo/modules/attention_capture.h>

#include <attnzoo/modules/fused_attention.h>

#include <torch/torch.h>

#include <cmath>

#include "module_entry.h"

namespace attnzoo::modules {

namespace nn = torch::nn;
namespace F = torch::nn::functional;

HiLoImpl::HiLoImpl(const HiLoOptions& options_) : options(options_) { reset(); }

void HiLoImpl::reset() {
  const auto& o = options;
  head_dim = static_cast<int64_t>(static_cast<double>(o.dim()) / static_cast<double>(o.num_heads()));
  l_heads = static_cast<int64_t>(static_cast<double>(o.num_heads()) * o.alpha());  // truncated, as officially
  h_heads = o.num_heads() - l_heads;
  if (o.window_size() == 1) {  // no windows: everything through Lo-Fi, without pooling
    h_heads = 0;
    l_heads = o.num_heads();
  }
  const int64_t l_dim = l_heads * head_dim, h_dim = h_heads * head_dim;
  if (l_heads > 0) {
    l_q = register_module("l_q", nn::Linear(nn::LinearOptions(o.dim(), l_dim).bias(o.qkv_bias())));
    l_kv = register_module("l_kv", nn::Linear(nn::LinearOptions(o.dim(), 2 * l_dim).bias(o.qkv_bias())));
    l_proj = register_module("l_proj", nn::Linear(l_dim, l_dim));
  }
  if (h_heads > 0) {
    h_qkv = register_module("h_qkv", nn::Linear(nn::LinearOptions(o.dim(), 3 * h_dim).bias(o.qkv_bias())));
    h_proj = register_module("h_proj", nn::Linear(h_dim, h_dim));
  }
}

namespace {
// One record for both head groups: Hi-Fi rows inside the query's ws x ws window, then Lo-Fi rows over the
// ws x ws-pooled map, each pooled key's weight spread evenly over the cells it averages.
void record_hilo(const torch::nn::Module* self, const at::Tensor& hi, const at::Tensor& lo, int64_t H, int64_t W, int64_t ws) {
  AttentionRecord* r = record_attention(self, "softmax", hi.defined() ? hi : lo);
  AttentionRecord hi_part, lo_part;
  if (hi.defined()) {
    hi_part.weights = hi.detach();
    set_window_geometry(hi_part, H, W, {ws, ws});
  }
  const int64_t Hp = (H + ws - 1) / ws * ws, Wp = (W + ws - 1) / ws * ws;
  if (lo.defined()) {
    lo_part.weights = lo.detach();
    set_global_geometry(lo_part, {Hp, Wp}, {Hp / ws, Wp / ws});
  }
  r->query_grid = {H, W};
  r->key_grid = {H, W};
  for (int64_t h = 0; hi.defined() && h < hi.size(1); ++h) r->head_labels.push_back("Hi-Fi window");
  for (int64_t h = 0; lo.defined() && h < lo.size(1); ++h) r->head_labels.push_back("Lo-Fi pooled");
  r->query_map = [hi = hi_part.query_map, lo = lo_part.query_map, H, W, ws](int64_t b, int64_t y, int64_t x) {
    std::vector<at::Tensor> maps;
    if (hi) maps.push_back(hi(b, y, x));
    if (lo) {
      const at::Tensor pooled = lo(b, y, x);
      maps.push_back((pooled.repeat_interleave(ws, 1).repeat_interleave(ws, 2) / double(ws * ws)).slice(1, 0, H).slice(2, 0, W));
    }
    return torch::cat(maps, 0);
  };
}
}  // namespace

at::Tensor HiLoImpl::forward(const at::Tensor& x, int64_t H, int64_t W) {
  const int64_t B = x.size(0), N = x.size(1), C = x.size(2), ws = options.window_size(), hd = head_dim;
  TORCH_CHECK(N == H * W, "HiLo: ", N, " tokens for a ", H, "x", W, " map");
  const double scale = options.qk_scale() > 0 ? options.qk_scale() : std::pow(static_cast<double>(hd), -0.5);
  at::Tensor m = x.reshape({B, H, W, C});
  const int64_t pad_r = (ws - W % ws) % ws, pad_b = (ws - H % ws) % ws;
  if (pad_r || pad_b) m = F::pad(m, F::PadFuncOptions({0, 0, 0, pad_r, 0, pad_b}));
  const int64_t Hp = H + pad_b, Wp = W + pad_r;
  std::vector<at::Tensor> parts;
  const bool capture = capturing_attention();
  at::Tensor hi_rows, lo_rows;  // the rows of both head groups, for `viz attention`
  if (h_heads > 0) {  // Hi-Fi: attention inside ws x ws windows
    const int64_t hg = Hp / ws, wg = Wp / ws, nwin = hg * wg, hdim = h_heads * hd;
    const auto t = m.reshape({B, hg, ws, wg, ws, C}).transpose(2, 3);
    const auto qkv = h_qkv(t).reshape({B, nwin, -1, 3, h_heads, hd}).permute({3, 0, 1, 4, 2, 5});
    if (capture) hi_rows = (torch::matmul(qkv[0], qkv[1].transpose(-2, -1)) * scale).softmax(-1).flatten(0, 1);
    auto out = softmax_attention(qkv[0], qkv[1], qkv[2], scale).transpose(2, 3).reshape({B, hg, wg, ws, ws, hdim});
    out = h_proj(out.transpose(2, 3).reshape({B, hg * ws, wg * ws, hdim}));
    parts.push_back(out.narrow(1, 0, H).narrow(2, 0, W));
  }
  if (l_heads > 0) {  // Lo-Fi: every query against average-pooled keys/values
    const int64_t ldim = l_heads * hd;
    const auto q = l_q(m).reshape({B, Hp * Wp, l_heads, hd}).permute({0, 2, 1, 3});
    at::Tensor src = m;
    if (ws > 1) src = torch::avg_pool2d(m.permute({0, 3, 1, 2}), {ws, ws}, {ws, ws}).reshape({B, C, -1}).permute({0, 2, 1});
    const auto kv = l_kv(src).reshape({B, -1, 2, l_heads, hd}).permute({2, 0, 3, 1, 4});
    if (capture) lo_rows = (torch::matmul(q, kv[0].transpose(-2, -1)) * scale).softmax(-1);
    auto out = l_proj(softmax_attention(q, kv[0], kv[1], scale).transpose(1, 2).reshape({B, Hp, Wp, ldim}));
    parts.push_back(out.narrow(1, 0, H).narrow(2, 0, W));
  }
  if (capture) record_hilo(this, hi_rows, lo_rows, H, W, ws);
  return torch::cat(parts, -1).reshape({B, N, -1});
}

void TokenDWMlpImpl::reset() {
  const int64_t dim = options.in_features(), hidden = options.hidden_features();
  fc1 = register_module("fc1", nn::Linear(dim, hidden));
  dwconv = register_module("dwconv", DWConv(hidden));
  fc2 = register_module("fc2", nn::Linear(hidden, dim));
}

void TokenDWMlpImpl::pretty_print(std::ostream& os) const {
  os << "attnzoo::TokenDWMlp(in_features=" << options.in_features() << ", hidden_features=" << options.hidden_features()
     << ")";
}

at::Tensor TokenDWMlpImpl::forward(const at::Tensor& x, int64_t H, int64_t W) {
  const int64_t B = x.size(0), N = x.size(1);
  at::Tensor h = fc1(x);
  h = dwconv(h.transpose(1, 2).reshape({B, options.hidden_features(), H, W})).flatten(2).transpose(1, 2);
  TORCH_CHECK(h.size(1) == N, "DWMlp: token count changed");
  return fc2(torch::gelu(h));
}

LITBlockImpl::LITBlockImpl(const LITBlockOptions& options_) : options(options_) { reset(); }

void LITBlockImpl::reset() {
  const auto& o = options;
  const int64_t C = o.dim();
  if (o.has_msa()) {
    norm1 = register_module("norm1", nn::LayerNorm(nn::LayerNormOptions({C})));
    attn = register_module("attn", HiLo(HiLoOptions(C).num_heads(o.num_heads()).qkv_bias(o.qkv_bias()).qk_scale(o.qk_scale())
                                            .window_size(o.local_ws()).alpha(o.alpha())));
  }
  drop_path = register_module("drop_path", DropPath(o.drop_path()));
  norm2 = register_module("norm2", nn::LayerNorm(nn::LayerNormOptions({C})));
  mlp = register_module("mlp", TokenDWMlp(C, static_cast<int64_t>(C * o.mlp_ratio())));
}

at::Tensor LITBlockImpl::forward(const at::Tensor& x, int64_t H, int64_t W) {
  at::Tensor y = x;
  if (attn) y = y + drop_path(attn(norm1(y), H, W));
  return y + drop_path(mlp(norm2(y), H, W));
}

void DTMImpl::reset() {
  const int64_t dim = options.dim();
  dconv = register_module("dconv", DeformConv2dPack(DeformConv2dPackOptions(dim, 2 * dim, 2).stride(2)));
  norm_layer = register_module("norm_layer", BatchNorm2d(2 * dim));
}

at::Tensor DTMImpl::forward(const at::Tensor& x, int64_t H, int64_t W) {
  const int64_t B = x.size(0), L = x.size(1), C = x.size(2);
  TORCH_CHECK(L == H * W, "DTM: input feature has wrong size");
  TORCH_CHECK(H % 2 == 0 && W % 2 == 0, "DTM: x size (", H, "*", W, ") are not even.");
  const auto y = dconv(x.reshape({B, H, W, C}).permute({0, 3, 1, 2}).contiguous());
  return torch::gelu(norm_layer(y)).flatten(2).transpose(1, 2);
}

namespace {

// LITv2's Block and DTM take their map size as the constructor argument input_resolution.
template <class Module, class Options>
ModuleEntry module_entry_on_map(const std::string& official, std::string cpp_name, std::string description,
                                Options prototype) {
  ModuleEntry e = module_entry<Module>("hilo", official, std::move(cpp_name), std::move(description), prototype, MapForward{});
  e.default_args["input_resolution"] = nlohmann::json::array({56, 56});
  const std::string owner = "hilo." + official;
  e.build = [owner, prototype](const nlohmann::json& c) {
    if (!c.is_object() || !c.contains("input_resolution"))
      throw std::invalid_argument(owner + ": missing required argument 'input_resolution'");
    const auto res = c.at("input_resolution").get<std::vector<int64_t>>();
    if (res.size() != 2) throw std::invalid_argument(owner + ": input_resolution must be [H, W]");
    return MapForward{res[0], res[1]}(Module(options_from_args(without_arg(c, "input_resolution"), owner, prototype)));
  };
  return e;
}

}  // namespace

void register_litv2_modules(ModuleEntries& e) {
  e.push_back(module_entry<HiLo>("hilo", "HiLo", "attnzoo::modules::HiLo",
                                 "LITv2 HiLo attention (Lo-Fi pooled heads + Hi-Fi window heads)", HiLoOptions(0),
                                 MapForward{}));
  e.push_back(module_entry_on_map<LITBlock>("Block", "attnzoo::modules::LITBlock",
                                            "LITv2 block (HiLo + DWMlp; ConvFFN without attention)", LITBlockOptions(0, 0)));
  e.push_back(module_entry_on_map<DTM>("DTM", "attnzoo::modules::DTM",
                                       "LITv2 deformable token merging (deform conv 2x2/2 + BN + GELU)", DTMOptions(0)));
}

}  // namespace attnzoo::modules
