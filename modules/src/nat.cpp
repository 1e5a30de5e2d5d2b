#include <attnzoo/modules/nat.h>

#include <attnzoo/modules/attention_capture.h>

#include <attnzoo/modules/init.h>
#include <attnzoo/modules/drop_path.h>
#include <attnzoo/modules/sequence_registry.h>

#include <torch/torch.h>

#include <cmath>
#include <limits>

#include "module_entry.h"

namespace attnzoo::modules {

namespace nn = torch::nn;
namespace F = torch::nn::functional;

namespace {

void check_options(const NeighborhoodAttentionOptions& o, const char* who) {
  TORCH_CHECK(o.num_heads() > 0 && o.dim() % o.num_heads() == 0, who, ": dim ", o.dim(),
              " is not divisible by num_heads ", o.num_heads());
  TORCH_CHECK(o.kernel_size() > 1 && (o.kernel_size() % 2 == 1 || o.causal()), who,
              ": kernel_size must be an odd number > 1, got ", o.kernel_size());
  TORCH_CHECK(o.dilation() >= 1, who, ": dilation must be >= 1, got ", o.dilation());
}

// Rows [B, heads, H, W, k0*k1] over each query's neighbours (natten's layout), placed on the unpadded map.
void set_neighborhood_geometry(AttentionRecord& r, std::array<int64_t, 2> size, std::array<int64_t, 2> kernel,
                               std::array<int64_t, 2> dilation, std::array<bool, 2> causal) {
  r.query_grid = size;
  r.key_grid = size;
  const at::Tensor w = r.weights;
  const int64_t H = w.size(2), W = w.size(3);  // padded when the map is smaller than kernel * dilation
  const at::Tensor rows = na_axis_indices(H, kernel[0], dilation[0], causal[0])[0];
  const at::Tensor cols = na_axis_indices(W, kernel[1], dilation[1], causal[1])[0];
  r.query_map = [w, rows, cols, size, kernel](int64_t b, int64_t y, int64_t x) {
    const at::Tensor row = w[b].select(1, y).select(1, x).to(torch::kCPU, torch::kFloat64);  // [heads, k0*k1]
    at::Tensor map = torch::zeros({w.size(1), size[0], size[1]}, torch::kFloat64);
    for (int64_t i = 0; i < kernel[0]; ++i)
      for (int64_t j = 0; j < kernel[1]; ++j) {
        const int64_t ny = rows[y][i].item<int64_t>(), nx = cols[x][j].item<int64_t>();
        if (ny < 0 || nx < 0 || ny >= size[0] || nx >= size[1]) continue;  // padding / causal gaps
        map.select(1, ny).select(1, nx) += row.select(1, i * kernel[1] + j);
      }
    return map;
  };
}

// Shared body on a [B, H, W, C] map (1-D: H == 1): qkv -> NA -> merge heads -> proj.
at::Tensor na_forward(const NeighborhoodAttentionOptions& o, nn::Linear qkv, nn::Linear proj,
                      const at::Tensor& rpb, at::Tensor x, std::array<int64_t, 2> kernel,
                      std::array<int64_t, 2> dilation, std::array<bool, 2> causal, bool training,
                      const torch::nn::Module* self, at::Tensor key_mask = {}) {  // 1-D only: [B, W], true = padding
  const int64_t B = x.size(0), Hp = x.size(1), Wp = x.size(2), C = x.size(3);
  // natten 0.14: maps smaller than kernel * dilation are zero-padded at the bottom / right (before qkv, so
  // padded tokens carry k = v = qkv.bias) and the output is cropped.
  const int64_t pad_b = std::max<int64_t>(0, kernel[0] * dilation[0] - Hp);
  const int64_t pad_r = std::max<int64_t>(0, kernel[1] * dilation[1] - Wp);
  if (pad_b > 0 || pad_r > 0) x = F::pad(x, F::PadFuncOptions({0, 0, 0, pad_r, 0, pad_b}));
  if (key_mask.defined() && pad_r > 0)  // tokens added by the small-map padding are padding too
    key_mask = F::pad(key_mask.to(at::kFloat), F::PadFuncOptions({0, pad_r}).value(1.0)).to(at::kBool);
  const int64_t H = x.size(1), W = x.size(2), heads = o.num_heads(), hd = C / heads;
  at::Tensor t = qkv(x).reshape({B, H, W, 3, heads, hd}).permute({3, 0, 4, 1, 2, 5});
  // The kernels compute in float32 / float64: reduced precision (autocast bf16 / fp16) is widened here.
  const bool low = t.scalar_type() == at::kBFloat16 || t.scalar_type() == at::kHalf;
  if (low) t = t.to(at::kFloat);
  const at::Tensor bias = rpb.defined() ? rpb.to(t.scalar_type()) : rpb;
  const double scale = o.qk_scale() > 0 ? o.qk_scale() : std::pow(static_cast<double>(hd), -0.5);
  const at::Tensor q = t[0] * scale;
  at::Tensor logits = na_qk(q, t[1], bias, kernel, dilation, causal);  // [B, heads, H, W, K]
  at::Tensor attn;
  if (key_mask.defined()) {
    // Neighbours that are padding get -inf; a query whose every neighbour is padding gets zeros.
    auto nbr = na_axis_indices(W, kernel[1], dilation[1], causal[1])[0].clamp_min(0).to(x.device());  // [W, k]
    const at::Tensor nbr_pad = key_mask.index_select(1, nbr.view({-1})).view({B, 1, 1, W, kernel[1]});
    logits = logits.masked_fill(nbr_pad, -std::numeric_limits<double>::infinity());
    const at::Tensor none = logits.isneginf().all(-1, true);
    attn = logits.masked_fill(none, 0.0).softmax(-1).masked_fill(none, 0.0);
  } else {
    attn = logits.softmax(-1);
  }
  if (AttentionRecord* r = record_attention(self, "neighborhood", attn))
    set_neighborhood_geometry(*r, {Hp, Wp}, kernel, dilation, causal);
  if (o.attn_drop() > 0) attn = F::dropout(attn, F::DropoutFuncOptions().p(o.attn_drop()).training(training));
  at::Tensor out = na_av(attn, t[2], kernel, dilation, causal).permute({0, 2, 3, 1, 4}).reshape({B, H, W, C});
  if (pad_b > 0 || pad_r > 0) out = out.slice(1, 0, Hp).slice(2, 0, Wp);
  out = proj(out);
  if (key_mask.defined()) out = out.masked_fill(key_mask.slice(1, 0, Wp).view({B, 1, Wp, 1}), 0.0);
  if (o.proj_drop() > 0) out = F::dropout(out, F::DropoutFuncOptions().p(o.proj_drop()).training(training));
  return out;
}

}  // namespace

NeighborhoodAttention2DImpl::NeighborhoodAttention2DImpl(const NeighborhoodAttentionOptions& options_)
    : options(options_) {
  check_options(options, "NeighborhoodAttention2D");
  TORCH_CHECK(!options.causal(), "NeighborhoodAttention2D: causal masking is 1-D only");
  reset();
}

void NeighborhoodAttention2DImpl::reset() {
  const int64_t C = options.dim(), k = options.kernel_size();
  if (options.bias()) {
    rpb = register_parameter("rpb", torch::zeros({options.num_heads(), 2 * k - 1, 2 * k - 1}));
    trunc_normal_(rpb, 0.02);
  }
  qkv = register_module("qkv", nn::Linear(nn::LinearOptions(C, 3 * C).bias(options.qkv_bias())));
  proj = register_module("proj", nn::Linear(C, C));
}

at::Tensor NeighborhoodAttention2DImpl::forward(const at::Tensor& x) {
  TORCH_CHECK(x.dim() == 4 && x.size(3) == options.dim(), "NeighborhoodAttention2D: expected channels-last input [B, H, W, ",
              options.dim(), "], got ", x.sizes());
  const int64_t k = options.kernel_size(), d = options.dilation();
  return na_forward(options, qkv, proj, rpb, x, {k, k}, {d, d}, {false, false}, is_training(), this);
}

NeighborhoodAttention1DImpl::NeighborhoodAttention1DImpl(const NeighborhoodAttentionOptions& options_)
    : options(options_) {
  check_options(options, "NeighborhoodAttention1D");
  TORCH_CHECK(!(options.causal() && options.bias()),
              "NeighborhoodAttention1D: causal attention has no relative position bias (set bias=false)");
  reset();
}

void NeighborhoodAttention1DImpl::reset() {
  const int64_t C = options.dim(), k = options.kernel_size();
  if (options.bias()) {
    rpb = register_parameter("rpb", torch::zeros({options.num_heads(), 2 * k - 1}));
    trunc_normal_(rpb, 0.02);
  }
  qkv = register_module("qkv", nn::Linear(nn::LinearOptions(C, 3 * C).bias(options.qkv_bias())));
  proj = register_module("proj", nn::Linear(C, C));
}

at::Tensor NeighborhoodAttention1DImpl::forward(const at::Tensor& x, const at::Tensor& key_padding_mask) {
  TORCH_CHECK(x.dim() == 3 && x.size(2) == options.dim(), "NeighborhoodAttention1D: expected input [B, L, ",
              options.dim(), "], got ", x.sizes());
  const int64_t k = options.kernel_size(), d = options.dilation();
  // A 1 x L map: the kernels' row axis has kernel 1 (every query its own row).
  const at::Tensor bias = rpb.defined() ? rpb.unsqueeze(1) : rpb;  // [heads, 1, 2k-1]
  if (key_padding_mask.defined())
    TORCH_CHECK(key_padding_mask.dim() == 2 && key_padding_mask.size(0) == x.size(0) &&
                    key_padding_mask.size(1) == x.size(1) && key_padding_mask.scalar_type() == at::kBool,
                "NeighborhoodAttention1D: key padding mask must be bool [", x.size(0), ", ", x.size(1), "]");
  return na_forward(options, qkv, proj, bias, x.unsqueeze(1), {1, k}, {1, d}, {false, options.causal()}, is_training(),
                    this, key_padding_mask)
      .squeeze(1);
}

void register_nat_modules(ModuleEntries& e) {
  e.push_back(module_entry<NeighborhoodAttention2D>(
      "nat", "NeighborhoodAttention2D", "attnzoo::modules::NeighborhoodAttention2D",
      "(dilated) 2-D neighborhood attention, NATTEN semantics, own kernels (channels-last)",
      NeighborhoodAttentionOptions(0, 0, 0)));
  e.push_back(module_entry<NeighborhoodAttention1D>("nat", "NeighborhoodAttention1D", "attnzoo::modules::NeighborhoodAttention1D",
                                                    "(dilated, optionally causal) 1-D neighborhood attention [B, L, C]",
                                                    NeighborhoodAttentionOptions(0, 0, 0)));
}

namespace nn = torch::nn;

void MHSARPBImpl::reset() {
  const int64_t dim = options.dim(), input_size = options.input_size(), num_heads = options.num_heads();
  const bool qkv_bias = options.qkv_bias();
  TORCH_CHECK(num_heads > 0 && dim % num_heads == 0, "MHSARPB: dim ", dim, " not divisible by num_heads ", num_heads);
  TORCH_CHECK(input_size > 0, "MHSARPB: input_size must be positive");
  const int64_t L = input_size, P = 2 * L - 1;
  rpb = register_parameter("rpb", torch::zeros({num_heads, P, P}));
  trunc_normal_(rpb, 0.02);
  // isotropic.py: index[i][j] of (coords_i - coords_j + L - 1) flattened, then flipped in both axes.
  const auto c = torch::arange(L * L, torch::kLong);
  const auto rows = c.div(L, "floor"), cols = c.remainder(L);
  const auto dr = rows.unsqueeze(1) - rows.unsqueeze(0) + (L - 1), dc = cols.unsqueeze(1) - cols.unsqueeze(0) + (L - 1);
  relative_position_index = register_buffer("relative_position_index", (dr * P + dc).flip({0, 1}).contiguous());
  qkv = register_module("qkv", nn::Linear(nn::LinearOptions(dim, 3 * dim).bias(qkv_bias)));
  proj = register_module("proj", nn::Linear(dim, dim));
}

void MHSARPBImpl::pretty_print(std::ostream& os) const {
  os << "attnzoo::MHSARPB(dim=" << options.dim() << ", input_size=" << options.input_size()
     << ", num_heads=" << options.num_heads() << ")";
}

at::Tensor MHSARPBImpl::forward(const at::Tensor& x) {
  const int64_t dim = options.dim(), input_size = options.input_size(), num_heads = options.num_heads();
  const double qk_scale = options.qk_scale();
  TORCH_CHECK(x.dim() == 4 && x.size(3) == dim, "MHSARPB: expected [B, H, W, ", dim, "], got ", x.sizes());
  const int64_t B = x.size(0), H = x.size(1), W = x.size(2), N = H * W, hd = dim / num_heads;
  TORCH_CHECK(N == input_size * input_size, "MHSARPB: feature map size (", H, " x ", W,
              ") is not equal to expected size (", input_size, " x ", input_size, ")");
  const auto t = qkv(x).reshape({B, N, 3, num_heads, hd}).permute({2, 0, 3, 1, 4});
  const double scale = qk_scale > 0 ? qk_scale : std::pow(static_cast<double>(hd), -0.5);
  at::Tensor attn = torch::matmul(t[0] * scale, t[1].transpose(-2, -1));
  const auto bias = rpb.permute({1, 2, 0}).flatten(0, 1).index_select(0, relative_position_index.view(-1).to(torch::kLong))  // Module::to(dtype) casts integer buffers too
                        .view({N, N, -1}).permute({2, 0, 1});
  attn = (attn + bias.unsqueeze(0)).softmax(-1);
  if (AttentionRecord* r = record_attention(this, "softmax", attn)) set_global_geometry(*r, {H, W}, {H, W});
  return proj(torch::matmul(attn, t[2]).transpose(1, 2).reshape({B, H, W, dim}));
}

NATLayerImpl::NATLayerImpl(const NATLayerOptions& options_) : options(options_) { reset(); }

void NATLayerImpl::reset() {
  const auto& o = options;
  const int64_t d = o.dim();
  if (o.layer_scale() > 0) {
    gamma1 = register_parameter("gamma1", torch::full({d}, o.layer_scale()));
    gamma2 = register_parameter("gamma2", torch::full({d}, o.layer_scale()));
  }
  norm1 = register_module("norm1", nn::LayerNorm(nn::LayerNormOptions({d}).eps(o.norm_eps())));
  if (o.global_size() > 0) {
    attn = nn::AnyModule(register_module("attn", MHSARPB(MHSARPBOptions(d, o.global_size(), o.num_heads()).qkv_bias(o.qkv_bias()).qk_scale(o.qk_scale()))));
  } else {
    attn = nn::AnyModule(register_module(
        "attn", NeighborhoodAttention2D(NeighborhoodAttentionOptions(d, o.num_heads(), o.kernel_size())
                                            .dilation(o.dilation())
                                            .qkv_bias(o.qkv_bias())
                                            .qk_scale(o.qk_scale())
                                            .attn_drop(o.attn_drop())
                                            .proj_drop(o.drop()))));
  }
  norm2 = register_module("norm2", nn::LayerNorm(nn::LayerNormOptions({d}).eps(o.norm_eps())));
  mlp = register_module("mlp", Mlp(MlpOptions(d).hidden_features(static_cast<int64_t>(static_cast<double>(d) * o.mlp_ratio()))
                                       .drop(o.drop())));
}

at::Tensor NATLayerImpl::forward(const at::Tensor& x) {
  const double p = options.drop_path();
  at::Tensor a = attn.forward(norm1(x));
  if (gamma1.defined()) a = gamma1 * a;
  at::Tensor y = x + drop_path(a, p, is_training());
  at::Tensor m = mlp(norm2(y));
  if (gamma2.defined()) m = gamma2 * m;
  return y + drop_path(m, p, is_training());
}

void register_nat_sequence_attentions(SequenceAttentionEntries& e) {
  e.push_back({"neighborhood", "NeighborhoodAttention1D (NAT / DiNAT): kernel_size neighbours per query, dilation",
               [](const SequenceAttentionSpec& s) {
                 return sequence_attention(NeighborhoodAttention1D(
                     NeighborhoodAttentionOptions(s.dim, s.num_heads, s.kernel_size).dilation(s.dilation)));
               }});
}

}  // namespace attnzoo::modules
