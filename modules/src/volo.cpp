#include <attnzoo/modules/volo.h>

#include <attnzoo/modules/attention_capture.h>
#include <attnzoo/modules/batch_norm.h>

#include <attnzoo/modules/module_registry.h>

#include <torch/torch.h>

#include <cmath>

#include "module_entry.h"

namespace attnzoo::modules {

namespace nn = torch::nn;
namespace F = torch::nn::functional;

namespace {

double attention_scale(double qk_scale, int64_t head_dim) {
  return qk_scale != 0.0 ? qk_scale : std::pow(static_cast<double>(head_dim), -0.5);
}

void check_nhwc(const at::Tensor& x, int64_t dim, const char* who) {
  TORCH_CHECK(x.dim() == 4 && x.size(3) == dim, who, ": expected NHWC [B, H, W, ", dim, "], got ", x.sizes());
}

MlpOptions mlp_options(int64_t dim, double ratio, double drop = 0.0) {
  return MlpOptions(dim).hidden_features(static_cast<int64_t>(static_cast<double>(dim) * ratio)).drop(drop);
}

}  // namespace

// ---------------------------------------------------------------------------------------------------------------
// OutlookAttention

OutlookAttentionImpl::OutlookAttentionImpl(const OutlookAttentionOptions& o) : options(o) { reset(); }

void OutlookAttentionImpl::reset() {
  const int64_t C = options.dim(), H = options.num_heads(), k = options.kernel_size();
  TORCH_CHECK(H > 0 && C % H == 0, "OutlookAttention: dim ", C, " is not divisible by num_heads ", H);
  TORCH_CHECK(k > 0 && options.stride() > 0 && options.padding() >= 0, "OutlookAttention: bad kernel_size / stride / padding");
  v = register_module("v", nn::Linear(nn::LinearOptions(C, C).bias(options.qkv_bias())));
  attn = register_module("attn", nn::Linear(C, k * k * k * k * H));
  attn_drop = register_module("attn_drop", nn::Dropout(options.attn_drop()));
  proj = register_module("proj", nn::Linear(C, C));
  proj_drop = register_module("proj_drop", nn::Dropout(options.proj_drop()));
}

at::Tensor OutlookAttentionImpl::attention(const at::Tensor& x) {
  check_nhwc(x, options.dim(), "OutlookAttention");
  const int64_t B = x.size(0), H = x.size(1), W = x.size(2), C = x.size(3), s = options.stride();
  const int64_t heads = options.num_heads(), kk = options.kernel_size() * options.kernel_size();
  const int64_t h = (H + s - 1) / s, w = (W + s - 1) / s;
  // Each (pooled) position predicts its own k^2 x k^2 weights: output tap i of its window from input tap j.
  const at::Tensor pooled = torch::avg_pool2d(x.permute({0, 3, 1, 2}), {s, s}, {s, s}, {0, 0}, /*ceil_mode=*/true).permute({0, 2, 3, 1});
  at::Tensor a = attn(pooled).reshape({B, h * w, heads, kk, kk}).permute({0, 2, 1, 3, 4});
  return torch::softmax(a * attention_scale(options.qk_scale(), C / heads), -1);
}

namespace {
// Outlook weights [B, heads, h*w, k*k, k*k]: the window at pooled position n mixes its input taps j into its output
// taps i. What pixel (y, x) receives from each input pixel is the sum, over the windows covering it, of the row of
// its tap in that window: rows that sum to the number of windows covering the pixel.
void set_outlook_geometry(AttentionRecord& r, std::array<int64_t, 2> size, int64_t k, int64_t stride, int64_t padding) {
  r.query_grid = size;
  r.key_grid = size;
  const at::Tensor w = r.weights;
  const int64_t pw = (size[1] + stride - 1) / stride, ph = (size[0] + stride - 1) / stride;
  r.head_labels.assign(w.size(1), "summed over windows");
  r.query_map = [w, size, k, stride, padding, ph, pw](int64_t b, int64_t y, int64_t x) {
    const at::Tensor wb = w[b].to(torch::kCPU, torch::kFloat64);  // [heads, h*w, kk, kk]
    at::Tensor map = torch::zeros({w.size(1), size[0], size[1]}, torch::kFloat64);
    for (int64_t ny = 0; ny < ph; ++ny)
      for (int64_t nx = 0; nx < pw; ++nx) {
        const int64_t oy = ny * stride - padding, ox = nx * stride - padding;  // the window's top-left pixel
        if (y < oy || y >= oy + k || x < ox || x >= ox + k) continue;
        const at::Tensor row = wb.select(1, ny * pw + nx).select(1, (y - oy) * k + (x - ox));  // [heads, kk]
        for (int64_t j = 0; j < k * k; ++j) {
          const int64_t py = oy + j / k, px = ox + j % k;
          if (py >= 0 && px >= 0 && py < size[0] && px < size[1]) map.select(1, py).select(1, px) += row.select(1, j);
        }
      }
    return map;
  };
}
}  // namespace

at::Tensor OutlookAttentionImpl::forward(const at::Tensor& x) {
  const at::Tensor a = attn_drop(attention(x));
  const int64_t B = x.size(0), H = x.size(1), W = x.size(2), C = x.size(3), heads = options.num_heads();
  const int64_t k = options.kernel_size(), kk = k * k, N = a.size(2);
  if (AttentionRecord* r = record_attention(this, "outlook", a))
    set_outlook_geometry(*r, {H, W}, k, options.stride(), options.padding());
  const auto window = F::UnfoldFuncOptions({k, k}).padding(options.padding()).stride(options.stride());
  const at::Tensor vw = F::unfold(v(x).permute({0, 3, 1, 2}), window)
                            .reshape({B, heads, C / heads, kk, N})
                            .permute({0, 1, 4, 3, 2});  // [B, heads, N, k*k, C/heads]
  const at::Tensor out = torch::matmul(a, vw).permute({0, 1, 4, 3, 2}).reshape({B, C * kk, N});
  const at::Tensor folded =
      F::fold(out, F::FoldFuncOptions({H, W}, {k, k}).padding(options.padding()).stride(options.stride()));
  return proj_drop(proj(folded.permute({0, 2, 3, 1})));
}

// ---------------------------------------------------------------------------------------------------------------
// Blocks

OutlookerImpl::OutlookerImpl(const OutlookerOptions& o) : options(o) { reset(); }

void OutlookerImpl::reset() {
  const int64_t C = options.dim();
  norm1 = register_module("norm1", nn::LayerNorm(nn::LayerNormOptions({C}).eps(options.norm_eps())));
  attn = register_module("attn", OutlookAttention(OutlookAttentionOptions(C, options.num_heads())
                                                      .kernel_size(options.kernel_size())
                                                      .padding(options.padding())
                                                      .stride(options.stride())
                                                      .qkv_bias(options.qkv_bias())
                                                      .qk_scale(options.qk_scale())
                                                      .attn_drop(options.attn_drop())));
  drop_path = register_module("drop_path", DropPath(options.drop_path()));
  norm2 = register_module("norm2", nn::LayerNorm(nn::LayerNormOptions({C}).eps(options.norm_eps())));
  mlp = register_module("mlp", Mlp(mlp_options(C, options.mlp_ratio())));
}

at::Tensor OutlookerImpl::forward(const at::Tensor& x) {
  const at::Tensor y = x + drop_path(attn(norm1(x)));
  return y + drop_path(mlp(norm2(y)));
}

VOLOTransformerImpl::VOLOTransformerImpl(const VOLOTransformerOptions& o) : options(o) { reset(); }

void VOLOTransformerImpl::reset() {
  const int64_t C = options.dim();
  norm1 = register_module("norm1", nn::LayerNorm(nn::LayerNormOptions({C}).eps(options.norm_eps())));
  attn = register_module("attn", MultiHeadSelfAttention(MultiHeadSelfAttentionOptions(C, options.num_heads())
                                                            .qkv_bias(options.qkv_bias())
                                                            .qk_scale(options.qk_scale())
                                                            .attn_drop(options.attn_drop())));
  drop_path = register_module("drop_path", DropPath(options.drop_path()));
  norm2 = register_module("norm2", nn::LayerNorm(nn::LayerNormOptions({C}).eps(options.norm_eps())));
  mlp = register_module("mlp", Mlp(mlp_options(C, options.mlp_ratio())));
}

at::Tensor VOLOTransformerImpl::forward(const at::Tensor& x) {
  check_nhwc(x, options.dim(), "VOLOTransformer");
  const at::Tensor tokens = norm1(x).flatten(1, 2);
  const at::Tensor y = x + drop_path(attn(tokens).view(x.sizes()));
  if (AttentionRecord* r = latest_attention_record(attn.get())) set_global_geometry(*r, {x.size(1), x.size(2)}, {x.size(1), x.size(2)});
  return y + drop_path(mlp(norm2(y)));
}

ClassAttentionImpl::ClassAttentionImpl(const ClassAttentionOptions& o) : options(o) { reset(); }

void ClassAttentionImpl::reset() {
  const int64_t C = options.dim(), H = options.num_heads();
  TORCH_CHECK(H > 0 && (options.head_dim() > 0 || C % H == 0), "ClassAttention: dim ", C, " is not divisible by num_heads ", H);
  const int64_t inner = H * (options.head_dim() > 0 ? options.head_dim() : C / H);
  kv = register_module("kv", nn::Linear(nn::LinearOptions(C, 2 * inner).bias(options.qkv_bias())));
  q = register_module("q", nn::Linear(nn::LinearOptions(C, inner).bias(options.qkv_bias())));
  attn_drop = register_module("attn_drop", nn::Dropout(options.attn_drop()));
  proj = register_module("proj", nn::Linear(inner, C));
  proj_drop = register_module("proj_drop", nn::Dropout(options.proj_drop()));
}

at::Tensor ClassAttentionImpl::forward(const at::Tensor& x) {
  TORCH_CHECK(x.dim() == 3 && x.size(2) == options.dim(), "ClassAttention: expected [B, N, ", options.dim(), "], got ", x.sizes());
  const int64_t B = x.size(0), N = x.size(1), H = options.num_heads();
  const int64_t d = options.head_dim() > 0 ? options.head_dim() : options.dim() / H;
  const at::Tensor kvs = kv(x).reshape({B, N, 2, H, d}).permute({2, 0, 3, 1, 4});
  const at::Tensor query = q(x.narrow(1, 0, 1)).reshape({B, H, 1, d});
  const at::Tensor a = attn_drop(torch::softmax(torch::matmul(query * attention_scale(options.qk_scale(), d), kvs[0].transpose(-2, -1)), -1));
  if (AttentionRecord* r = record_attention(this, "softmax", a)) {
    // The class token's one row over the patch tokens of the square map after it (its own weight not drawn).
    auto s = static_cast<int64_t>(std::sqrt(static_cast<double>(N - 1)) + 1e-9);
    set_global_geometry(*r, {1, 1}, {s, s}, 0, N - s * s);
    r->query_grid = {0, 0};  // one query: the class token
    r->head_labels.assign(H, "class token");
  }
  return proj_drop(proj(torch::matmul(a, kvs[1]).transpose(1, 2).reshape({B, 1, H * d})));
}

ClassBlockImpl::ClassBlockImpl(const ClassBlockOptions& o) : options(o) { reset(); }

void ClassBlockImpl::reset() {
  const int64_t C = options.dim();
  norm1 = register_module("norm1", nn::LayerNorm(nn::LayerNormOptions({C}).eps(options.norm_eps())));
  attn = register_module("attn", ClassAttention(ClassAttentionOptions(C, options.num_heads())
                                                    .head_dim(options.head_dim())
                                                    .qkv_bias(options.qkv_bias())
                                                    .qk_scale(options.qk_scale())
                                                    .attn_drop(options.attn_drop())
                                                    .proj_drop(options.drop())));
  drop_path = register_module("drop_path", DropPath(options.drop_path()));
  norm2 = register_module("norm2", nn::LayerNorm(nn::LayerNormOptions({C}).eps(options.norm_eps())));
  mlp = register_module("mlp", Mlp(mlp_options(C, options.mlp_ratio(), options.drop())));
}

at::Tensor ClassBlockImpl::forward(const at::Tensor& x) {
  at::Tensor cls = x.narrow(1, 0, 1);
  cls = cls + drop_path(attn(norm1(x)));
  cls = cls + drop_path(mlp(norm2(cls)));
  return torch::cat({cls, x.narrow(1, 1, x.size(1) - 1)}, 1);
}

// ---------------------------------------------------------------------------------------------------------------
// Patch embedding, downsampling

VOLOPatchEmbedImpl::VOLOPatchEmbedImpl(const VOLOPatchEmbedOptions& o) : options(o) { reset(); }

void VOLOPatchEmbedImpl::reset() {
  const int64_t p = options.patch_size(), s = options.stem_stride(), hd = options.hidden_dim();
  TORCH_CHECK(p == 4 || p == 8 || p == 16, "VOLOPatchEmbed: patch_size must be 4, 8 or 16, got ", p);
  TORCH_CHECK(s > 0 && p % s == 0, "VOLOPatchEmbed: stem_stride ", s, " must divide patch_size ", p);
  if (options.stem_conv()) {
    auto cbr = [&](nn::Sequential& seq, int64_t in, int64_t k, int64_t stride) {
      seq->push_back(nn::Conv2d(nn::Conv2dOptions(in, hd, k).stride(stride).padding(k / 2).bias(false)));
      seq->push_back(BatchNorm2d(hd));
      seq->push_back(nn::ReLU(nn::ReLUOptions(true)));
    };
    nn::Sequential seq;
    cbr(seq, options.in_chans(), 7, s);
    cbr(seq, hd, 3, 1);
    cbr(seq, hd, 3, 1);
    conv = register_module("conv", seq);
  }
  // The official projection reads hidden_dim channels even without the stem (then in_chans must equal it).
  proj = register_module("proj", nn::Conv2d(nn::Conv2dOptions(hd, options.embed_dim(), p / s).stride(p / s)));
}

at::Tensor VOLOPatchEmbedImpl::forward(const at::Tensor& x) { return proj(conv ? conv->forward(x) : x); }

void VOLODownsampleImpl::reset() {
  proj = register_module("proj", nn::Conv2d(nn::Conv2dOptions(in_embed_dim, out_embed_dim, patch_size).stride(patch_size)));
}

at::Tensor VOLODownsampleImpl::forward(const at::Tensor& x) { return proj(x.permute({0, 3, 1, 2})).permute({0, 2, 3, 1}); }

void register_volo_modules(ModuleEntries& e) {
  e.push_back(module_entry<OutlookAttention>("volo", "OutlookAttention", "attnzoo::modules::OutlookAttention",
                                             "outlook attention: per-position k^2 x k^2 weights over the k x k window, folded (NHWC)",
                                             OutlookAttentionOptions(0, 0)));
  e.push_back(module_entry<Outlooker>("volo", "Outlooker", "attnzoo::modules::Outlooker", "outlook attention + Mlp block (NHWC)",
                                      OutlookerOptions(0, 0, 0)));
  e.push_back(module_entry<VOLOTransformer>("volo", "Transformer", "attnzoo::modules::VOLOTransformer",
                                            "MHSA + Mlp block on NHWC maps", VOLOTransformerOptions(0, 0)));
  e.push_back(module_entry<ClassAttention>("volo", "ClassAttention", "attnzoo::modules::ClassAttention",
                                           "CaiT class attention: token 0 attends to all tokens", ClassAttentionOptions(0, 0)));
  e.push_back(module_entry<ClassBlock>("volo", "ClassBlock", "attnzoo::modules::ClassBlock",
                                       "CaiT class-attention block (updates token 0)", ClassBlockOptions(0, 0)));
  e.push_back(module_entry<VOLOPatchEmbed>("volo", "PatchEmbed", "attnzoo::modules::VOLOPatchEmbed",
                                           "conv stem + patch projection (NCHW)", VOLOPatchEmbedOptions()));
  e.push_back(module_entry<OutlookAttention1D>("volo", "OutlookAttention1D", "attnzoo::modules::OutlookAttention1D",
                                               "outlook attention along a sequence [B, L, C] (key padding mask)",
                                               OutlookAttention1DOptions(0, 0), MaskedForward{}));
}

}  // namespace attnzoo::modules
