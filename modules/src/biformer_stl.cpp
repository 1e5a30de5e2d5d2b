#include <attnzoo/modules/biformer_stl.h>

#include <attnzoo/modules/attention_capture.h>

#include <attnzoo/modules/depthwise.h>
#include <attnzoo/modules/drop_path.h>
#include <attnzoo/modules/norm.h>

#include <torch/torch.h>

#include <cmath>

#include "module_entry.h"

namespace attnzoo::modules {

namespace nn = torch::nn;
namespace F = torch::nn::functional;

namespace {

// [B, C, H, W] -> [B, heads, regions, rh * rw, head_dim] (rrsda _grid2seq).
at::Tensor grid2seq(const at::Tensor& x, std::array<int64_t, 2> rs, int64_t heads) {
  const int64_t B = x.size(0), C = x.size(1), nh = x.size(2) / rs[0], nw = x.size(3) / rs[1];
  return x.view({B, heads, C / heads, nh, rs[0], nw, rs[1]})
      .permute({0, 1, 3, 5, 4, 6, 2})  // b m h w p q d
      .reshape({B, heads, nh * nw, rs[0] * rs[1], C / heads});
}

}  // namespace

at::Tensor regional_routing_attention(const at::Tensor& query, const at::Tensor& key, const at::Tensor& value,
                                      double scale, const at::Tensor& region_graph, std::array<int64_t, 2> rs,
                                      const torch::nn::Module* self) {
  const int64_t B = region_graph.size(0), heads = region_graph.size(1), q_regions = region_graph.size(2),
                topk = region_graph.size(3);
  const int64_t Hq = query.size(2), Wq = query.size(3);
  auto pad_to_regions = [&](const at::Tensor& t) {
    const int64_t pb = (rs[0] - t.size(2) % rs[0]) % rs[0], pr = (rs[1] - t.size(3) % rs[1]) % rs[1];
    return pb > 0 || pr > 0 ? F::pad(t, F::PadFuncOptions({0, pr, 0, pb})) : t;  // zeros, not masked
  };
  const at::Tensor qp = pad_to_regions(query);
  const int64_t nh = qp.size(2) / rs[0], nw = qp.size(3) / rs[1];
  const at::Tensor q = grid2seq(qp, rs, heads);
  const at::Tensor k = grid2seq(pad_to_regions(key), rs, heads);
  const at::Tensor v = grid2seq(pad_to_regions(value), rs, heads);
  TORCH_CHECK(q.size(2) == q_regions, "regional_routing_attention: region_graph has ", q_regions,
              " query regions, the padded query has ", q.size(2));
  const int64_t kv_regions = k.size(2), reg = k.size(3), hd = k.size(4);
  // Gather the routed regions: [B, heads, q_regions, topk, reg, head_dim].
  const at::Tensor idx = region_graph.view({B, heads, q_regions, topk, 1, 1}).expand({-1, -1, -1, -1, reg, hd});
  auto gather = [&](const at::Tensor& t) {
    return t.view({B, heads, 1, kv_regions, reg, hd}).expand({-1, -1, q_regions, -1, -1, -1}).gather(3, idx);
  };
  const at::Tensor kg = gather(k).flatten(-3, -2), vg = gather(v).flatten(-3, -2);
  const at::Tensor attn = torch::matmul(q * scale, kg.transpose(-1, -2)).softmax(-1);
  if (self && capturing_attention()) {  // rows as [(B regions), heads, reg, K reg]
    AttentionRecord* r = record_attention(self, "routed", attn.transpose(1, 2).flatten(0, 1));
    set_routed_geometry(*r, region_graph.select(1, 0), {Hq, Wq}, {nh, nw}, rs, rs);
  }
  at::Tensor out = torch::matmul(attn, vg);  // [B, heads, q_regions, reg, head_dim]
  // _seq2grid
  out = out.view({B, heads, nh, nw, rs[0], rs[1], hd})
            .permute({0, 1, 6, 2, 4, 3, 5})  // b m d h p w q
            .reshape({B, heads * hd, nh * rs[0], nw * rs[1]});
  if (out.size(2) != Hq || out.size(3) != Wq) out = out.slice(2, 0, Hq).slice(3, 0, Wq);
  return out;
}

NchwBRAImpl::NchwBRAImpl(const NchwBRAOptions& options_) : options(options_) { reset(); }

void NchwBRAImpl::reset() {
  const int64_t d = options.dim(), s = options.side_dwconv();
  TORCH_CHECK(options.num_heads() > 0 && d % options.num_heads() == 0, "NchwBRA: dim ", d,
              " must be divisible by num_heads ", options.num_heads());
  TORCH_CHECK(options.topk() > 0 && options.n_win() > 0, "NchwBRA: topk and n_win must be positive");
  if (s > 0) lepe = register_module("lepe", nn::Conv2d(nn::Conv2dOptions(d, d, s).padding(s / 2).groups(d)));
  qkv_linear = register_module("qkv_linear", nn::Conv2d(nn::Conv2dOptions(d, 3 * d, 1)));
  output_linear = register_module("output_linear", nn::Conv2d(nn::Conv2dOptions(d, d, 1)));
}

at::Tensor NchwBRAImpl::forward(const at::Tensor& x) {
  const auto& o = options;
  TORCH_CHECK(x.dim() == 4 && x.size(1) == o.dim(), "NchwBRA: expected input [B, ", o.dim(), ", H, W], got ",
              x.sizes());
  const int64_t H = x.size(2), W = x.size(3);
  TORCH_CHECK(H >= o.n_win() && W >= o.n_win(), "NchwBRA: input ", H, "x", W, " is smaller than n_win ", o.n_win(),
              " regions per side");
  const std::array<int64_t, 2> rs{H / o.n_win(), W / o.n_win()};
  const auto qkv = qkv_linear(x).chunk(3, 1);
  const at::Tensor &q = qkv[0], &k = qkv[1], &v = qkv[2];
  // Region-to-region routing on pooled, detached q/k (ceil mode + count_include_pad=False = auto padding).
  auto pool = [&](const at::Tensor& t) {
    return F::avg_pool2d(t.detach(), F::AvgPool2dFuncOptions({rs[0], rs[1]}).ceil_mode(true).count_include_pad(false));
  };
  const at::Tensor q_r = pool(q).permute({0, 2, 3, 1}).flatten(1, 2);  // [B, regions, C]
  const at::Tensor k_r = pool(k).flatten(2, 3);                         // [B, C, regions]
  const at::Tensor a_r = torch::matmul(q_r, k_r);
  TORCH_CHECK(o.topk() <= a_r.size(-1), "NchwBRA: topk ", o.topk(), " exceeds the ", a_r.size(-1), " regions");
  const at::Tensor idx_r = std::get<1>(a_r.topk(o.topk(), -1)).unsqueeze(1).expand({-1, o.num_heads(), -1, -1});
  const double scale = o.qk_scale() > 0 ? o.qk_scale() : std::pow(static_cast<double>(o.dim()), -0.5);
  at::Tensor out = regional_routing_attention(q, k, v, scale, idx_r, rs, this);
  out = lepe ? out + depthwise_conv2d(v, *lepe) : out;
  return output_linear(out);
}

NchwAttentionLePEImpl::NchwAttentionLePEImpl(const NchwAttentionLePEOptions& options_) : options(options_) {
  reset();
}

void NchwAttentionLePEImpl::reset() {
  const int64_t d = options.dim(), s = options.side_dwconv();
  TORCH_CHECK(options.num_heads() > 0 && d % options.num_heads() == 0, "NchwAttentionLePE: dim ", d,
              " must be divisible by num_heads ", options.num_heads());
  qkv = register_module("qkv", nn::Conv2d(nn::Conv2dOptions(d, 3 * d, 1).bias(options.qkv_bias())));
  proj = register_module("proj", nn::Conv2d(nn::Conv2dOptions(d, d, 1)));
  if (s > 0) lepe = register_module("lepe", nn::Conv2d(nn::Conv2dOptions(d, d, s).padding(s / 2).groups(d)));
}

at::Tensor NchwAttentionLePEImpl::forward(const at::Tensor& x) {
  const auto& o = options;
  TORCH_CHECK(x.dim() == 4 && x.size(1) == o.dim(), "NchwAttentionLePE: expected input [B, ", o.dim(),
              ", H, W], got ", x.sizes());
  const int64_t B = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3), h = o.num_heads(), hd = C / h;
  const double scale = o.qk_scale() > 0 ? o.qk_scale() : std::pow(static_cast<double>(hd), -0.5);
  const auto parts = qkv(x).chunk(3, 1);
  at::Tensor attn = torch::matmul(parts[0].reshape({B, h, hd, H * W}).transpose(-1, -2), parts[1].reshape({B, h, hd, H * W}));
  attn = (attn * scale).softmax(-1);
  if (AttentionRecord* r = record_attention(this, "softmax", attn)) set_global_geometry(*r, {H, W}, {H, W});
  at::Tensor out = torch::matmul(attn, parts[2].reshape({B, h, hd, H * W}).transpose(-1, -2));
  out = out.permute({0, 1, 3, 2}).reshape({B, C, H, W});
  if (lepe) out = out + depthwise_conv2d(parts[2], *lepe);
  return proj(out);
}

NchwBiFormerBlockImpl::NchwBiFormerBlockImpl(const NchwBiFormerBlockOptions& options_) : options(options_) { reset(); }

void NchwBiFormerBlockImpl::reset() {
  const auto& o = options;
  const int64_t d = o.dim();
  norm1 = nn::AnyModule(register_module("norm1", LayerNorm2d(d)));
  if (o.topk() > 0) {
    attn = nn::AnyModule(register_module("attn", NchwBRA(NchwBRAOptions(d)
                                                             .num_heads(o.num_heads())
                                                             .n_win(o.n_win())
                                                             .qk_scale(o.qk_scale())
                                                             .topk(o.topk())
                                                             .side_dwconv(o.side_dwconv()))));
  } else if (o.topk() == -1) {
    attn = nn::AnyModule(register_module("attn", NchwAttentionLePE(NchwAttentionLePEOptions(d))));
  } else {
    TORCH_CHECK(false, "NchwBiFormerBlock: topk must be > 0 or -1 (as the official block), got ", o.topk());
  }
  norm2 = nn::AnyModule(register_module("norm2", LayerNorm2d(d)));
  const auto hidden = static_cast<int64_t>(o.mlp_ratio() * static_cast<double>(d));
  mlp = register_module("mlp", nn::Sequential(nn::Conv2d(nn::Conv2dOptions(d, hidden, 1)), nn::GELU(),
                                              nn::Conv2d(nn::Conv2dOptions(hidden, d, 1))));
  drop_path_rate = o.drop_path();
}

at::Tensor NchwBiFormerBlockImpl::forward(const at::Tensor& x) {
  at::Tensor y = x + drop_path(attn.forward(norm1.forward(x)), drop_path_rate, is_training());
  return y + drop_path(mlp->forward(norm2.forward(y)), drop_path_rate, is_training());
}

void register_biformer_stl_modules(ModuleEntries& e) {
  e.push_back(module_entry<NchwBRA>("biformer_stl_nchw", "nchwBRA", "attnzoo::modules::NchwBRA",
                                    "refactored NCHW bi-level routing attention (ops/bra_nchw.py; auto-pads to whole regions)",
                                    NchwBRAOptions(0)));
  e.push_back(module_entry<NchwAttentionLePE>("biformer_stl_nchw", "nchwAttentionLePE", "attnzoo::modules::NchwAttentionLePE",
                                              "global attention + LePE on NCHW input", NchwAttentionLePEOptions(0)));
  e.push_back(module_entry<NchwBiFormerBlock>(
      "biformer_stl_nchw", "BiFormerBlock", "attnzoo::modules::NchwBiFormerBlock",
      "biformer_stl_nchw block (LayerNorm2d, nchwBRA or global attention, 1x1-conv MLP)", NchwBiFormerBlockOptions(0)));
}

}  // namespace attnzoo::modules
