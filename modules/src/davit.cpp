#include <attnzoo/modules/davit.h>

#include <attnzoo/modules/attention_capture.h>

#include "module_entry.h"
#include <attnzoo/modules/depthwise.h>

#include <torch/torch.h>

#include <cmath>

namespace attnzoo::modules {

namespace nn = torch::nn;
namespace F = torch::nn::functional;

void ConvPosEncImpl::reset() {
  const int64_t dim = options.dim(), k = options.k();
  proj = register_module("proj", nn::Conv2d(nn::Conv2dOptions(dim, dim, k).padding(k / 2).groups(dim)));
}

void ConvPosEncImpl::pretty_print(std::ostream& os) const {
  os << "attnzoo::ConvPosEnc(dim=" << options.dim() << ", k=" << options.k() << ")";
}

at::Tensor ConvPosEncImpl::forward(const at::Tensor& x, Size2 size) {
  const int64_t B = x.size(0), N = x.size(1), C = x.size(2);
  TORCH_CHECK(N == size[0] * size[1], "ConvPosEnc: ", N, " tokens for a ", size[0], "x", size[1], " map");
  const auto feat = depthwise_conv2d(x.transpose(1, 2).reshape({B, C, size[0], size[1]}), *proj);
  return x + feat.flatten(2).transpose(1, 2);
}

void ChannelAttentionImpl::reset() {
  const int64_t dim = options.dim();
  TORCH_CHECK(options.num_heads() > 0 && dim % options.num_heads() == 0, "ChannelAttention: dim ", dim,
              " is not divisible by num_heads ", options.num_heads());
  qkv = register_module("qkv", nn::Linear(nn::LinearOptions(dim, 3 * dim).bias(options.qkv_bias())));
  proj = register_module("proj", nn::Linear(dim, dim));
}

void ChannelAttentionImpl::pretty_print(std::ostream& os) const {
  os << "attnzoo::ChannelAttention(dim=" << options.dim() << ", num_heads=" << options.num_heads()
     << ", qkv_bias=" << options.qkv_bias() << ")";
}

at::Tensor ChannelAttentionImpl::forward(const at::Tensor& x) {
  const int64_t B = x.size(0), N = x.size(1), C = x.size(2), G = options.num_heads();
  const auto qkv_ = qkv(x).reshape({B, N, 3, G, C / G}).permute({2, 0, 3, 1, 4});
  const auto q = qkv_[0], k = qkv_[1] * std::pow(static_cast<double>(C / G), -0.5), v = qkv_[2];
  const auto attention = torch::matmul(k.transpose(-1, -2), v).softmax(-1);          // [B, G, d, d]
  if (AttentionRecord* r = record_attention(this, "channel", attention)) {
    // Channel-to-channel rows, the same whatever the query position: drawn as d x d matrices, one per group.
    r->key_grid = {C / G, C / G};
    r->query_map = [w = r->weights](int64_t b, int64_t, int64_t) { return w[b].to(torch::kCPU, torch::kFloat64); };
  }
  const auto y = torch::matmul(attention, q.transpose(-1, -2)).transpose(-1, -2);    // [B, G, N, d]
  return proj(y.transpose(1, 2).reshape({B, N, C}));
}

namespace {
nn::ModuleList two_cpe(int64_t dim) {
  nn::ModuleList l;
  l->push_back(ConvPosEnc(dim));
  l->push_back(ConvPosEnc(dim));
  return l;
}
Mlp make_mlp(const DaViTBlockOptions& o) {
  return Mlp(MlpOptions(o.dim()).hidden_features(static_cast<int64_t>(o.dim() * o.mlp_ratio())));
}
}  // namespace

DaViTSpatialBlockImpl::DaViTSpatialBlockImpl(const DaViTBlockOptions& options_) : options(options_) { reset(); }

void DaViTSpatialBlockImpl::reset() {
  const int64_t C = options.dim();
  cpe = register_module("cpe", two_cpe(C));
  norm1 = register_module("norm1", nn::LayerNorm(nn::LayerNormOptions({C})));
  attn = register_module("attn", MultiHeadSelfAttention(MultiHeadSelfAttentionOptions(C, options.num_heads()).qkv_bias(options.qkv_bias())));
  drop_path = register_module("drop_path", DropPath(options.drop_path()));
  if (options.ffn()) {
    norm2 = register_module("norm2", nn::LayerNorm(nn::LayerNormOptions({C})));
    mlp = register_module("mlp", make_mlp(options));
  }
}

at::Tensor DaViTSpatialBlockImpl::forward(const at::Tensor& x, Size2 size) {
  const int64_t B = x.size(0), C = x.size(2), H = size[0], W = size[1], ws = options.window_size();
  TORCH_CHECK(x.size(1) == H * W, "DaViT SpatialBlock: input feature has wrong size");
  const auto shortcut = cpe[0]->as<ConvPosEncImpl>()->forward(x, size);
  at::Tensor t = norm1(shortcut).view({B, H, W, C});
  const int64_t pad_r = (ws - W % ws) % ws, pad_b = (ws - H % ws) % ws;
  t = F::pad(t, F::PadFuncOptions({0, 0, 0, pad_r, 0, pad_b}));  // zeros after the norm, no mask
  const int64_t Hp = H + pad_b, Wp = W + pad_r;
  // window_partition: windows row-major over (Hp/ws, Wp/ws), tokens row-major inside.
  auto win = t.view({B, Hp / ws, ws, Wp / ws, ws, C}).permute({0, 1, 3, 2, 4, 5}).reshape({-1, ws * ws, C});
  win = attn(win);
  if (AttentionRecord* r = latest_attention_record(attn.get())) set_window_geometry(*r, H, W, {ws, ws});
  t = win.view({B, Hp / ws, Wp / ws, ws, ws, C}).permute({0, 1, 3, 2, 4, 5}).reshape({B, Hp, Wp, C});
  if (pad_r > 0 || pad_b > 0) t = t.narrow(1, 0, H).narrow(2, 0, W).contiguous();
  at::Tensor y = shortcut + drop_path(t.view({B, H * W, C}));
  y = cpe[1]->as<ConvPosEncImpl>()->forward(y, size);
  if (options.ffn()) y = y + drop_path(mlp(norm2(y)));
  return y;
}

DaViTChannelBlockImpl::DaViTChannelBlockImpl(const DaViTBlockOptions& options_) : options(options_) { reset(); }

void DaViTChannelBlockImpl::reset() {
  const int64_t C = options.dim();
  cpe = register_module("cpe", two_cpe(C));
  norm1 = register_module("norm1", nn::LayerNorm(nn::LayerNormOptions({C})));
  attn = register_module("attn", ChannelAttention(ChannelAttentionOptions(C, options.num_heads()).qkv_bias(options.qkv_bias())));
  drop_path = register_module("drop_path", DropPath(options.drop_path()));
  if (options.ffn()) {
    norm2 = register_module("norm2", nn::LayerNorm(nn::LayerNormOptions({C})));
    mlp = register_module("mlp", make_mlp(options));
  }
}

at::Tensor DaViTChannelBlockImpl::forward(const at::Tensor& x, Size2 size) {
  at::Tensor y = cpe[0]->as<ConvPosEncImpl>()->forward(x, size);
  y = y + drop_path(attn(norm1(y)));
  y = cpe[1]->as<ConvPosEncImpl>()->forward(y, size);
  if (options.ffn()) y = y + drop_path(mlp(norm2(y)));
  return y;
}

void DaViTPatchEmbedImpl::reset() {
  const int64_t patch_ = options.patch_size(), in_ = options.in_chans(), out_ = options.embed_dim();
  const bool overlapped_ = options.overlapped();
  TORCH_CHECK(patch_ == 4 || patch_ == 2, "DaViT PatchEmbed: patch_size must be 4 (stem) or 2 (merging), got ", patch_);
  if (patch_ == 4) {
    proj = register_module("proj", nn::Conv2d(nn::Conv2dOptions(in_, out_, 7).stride(4).padding(3)));
    norm = register_module("norm", nn::LayerNorm(nn::LayerNormOptions({out_})));
  } else {
    const int64_t k = overlapped_ ? 3 : 2, p = overlapped_ ? 1 : 0;
    proj = register_module("proj", nn::Conv2d(nn::Conv2dOptions(in_, out_, k).stride(2).padding(p)));
    norm = register_module("norm", nn::LayerNorm(nn::LayerNormOptions({in_})));
  }
}

void DaViTPatchEmbedImpl::pretty_print(std::ostream& os) const {
  os << "attnzoo::DaViTPatchEmbed(patch_size=" << options.patch_size() << ", in_chans=" << options.in_chans()
     << ", embed_dim=" << options.embed_dim() << ", overlapped=" << options.overlapped() << ")";
}

std::pair<at::Tensor, Size2> DaViTPatchEmbedImpl::forward(const at::Tensor& x_in, Size2 size) {
  const int64_t patch_ = options.patch_size();
  at::Tensor x = x_in;
  const bool tokens = x.dim() == 3;
  if (tokens) x = norm(x).reshape({x.size(0), size[0], size[1], x.size(2)}).permute({0, 3, 1, 2}).contiguous();
  const int64_t H = x.size(2), W = x.size(3);
  if (W % patch_ != 0) x = F::pad(x, F::PadFuncOptions({0, patch_ - W % patch_}));
  if (H % patch_ != 0) x = F::pad(x, F::PadFuncOptions({0, 0, 0, patch_ - H % patch_}));
  x = proj(x);
  const Size2 out_size{x.size(2), x.size(3)};
  x = x.flatten(2).transpose(1, 2);
  if (!tokens) x = norm(x);
  return {x, out_size};
}

void register_davit_modules(ModuleEntries& e) {
  // The module sees whole windows [B*nW, ws*ws, C]: window_size only matters to the block.
  auto window = module_entry<MultiHeadSelfAttention>("davit", "WindowAttention", "attnzoo::modules::MultiHeadSelfAttention",
                                                      "DaViT window attention on pre-partitioned windows [B*nW, ws*ws, C]",
                                                      MultiHeadSelfAttentionOptions(0, 0).qkv_bias(true));
  window.default_args["window_size"] = 7;
  window.build = [build = window.build](const nlohmann::json& c) { return build(without_arg(c, "window_size")); };
  e.push_back(window);
  e.push_back(module_entry<ChannelAttention>("davit", "ChannelAttention", "attnzoo::modules::ChannelAttention",
                                             "DaViT channel group attention", ChannelAttentionOptions(0, 8)));
  e.push_back(module_entry<DaViTSpatialBlock>("davit", "SpatialBlock", "attnzoo::modules::DaViTSpatialBlock",
                                              "DaViT spatial-window block (tokens + size)", DaViTBlockOptions(0, 0),
                                              SizedForward{}));
  e.push_back(module_entry<DaViTChannelBlock>("davit", "ChannelBlock", "attnzoo::modules::DaViTChannelBlock",
                                              "DaViT channel-group block (tokens + size)",
                                              DaViTBlockOptions(0, 0).qkv_bias(false), SizedForward{}));
}

}  // namespace attnzoo::modules
