#include <attnzoo/modules/halo_attn.h>

#include <attnzoo/modules/attention_capture.h>

#include <attnzoo/modules/init.h>

#include <torch/torch.h>

#include <cmath>

namespace attnzoo::modules {

namespace nn = torch::nn;
namespace F = torch::nn::functional;

HaloAttentionImpl::HaloAttentionImpl(const HaloAttentionOptions& options_) : options(options_) { reset(); }

void HaloAttentionImpl::reset() {
  const auto& o = options;
  dim_out = o.dim_out() > 0 ? o.dim_out() : o.dim();
  TORCH_CHECK(o.num_heads() > 0 && dim_out % o.num_heads() == 0, "HaloAttention: dim_out ", dim_out,
              " is not divisible by num_heads ", o.num_heads());
  TORCH_CHECK(o.stride() == 1 || o.stride() == 2, "HaloAttention: stride must be 1 or 2, got ", o.stride());
  TORCH_CHECK(o.block_size() > 0 && o.halo_size() >= 0, "HaloAttention: bad block_size ", o.block_size(),
              " / halo_size ", o.halo_size());
  dim_head_qk = o.dim_head() > 0 ? o.dim_head()
                                 : make_divisible(static_cast<double>(dim_out) * o.qk_ratio(), 8) / o.num_heads();
  dim_head_v = dim_out / o.num_heads();
  scale = std::pow(static_cast<double>(dim_head_qk), -0.5);
  win_size = o.block_size() + 2 * o.halo_size();
  block_stride = 1;
  block_size_ds = o.block_size();
  avg_pool = false;
  if (o.stride() > 1) {
    // Strided queries need the block to split evenly; otherwise attend at full resolution and pool.
    avg_pool = o.avg_down() || o.block_size() % o.stride() != 0;
    block_stride = avg_pool ? 1 : o.stride();
    block_size_ds = o.block_size() / block_stride;
  }
  q = register_module("q", nn::Conv2d(nn::Conv2dOptions(o.dim(), o.num_heads() * dim_head_qk, 1)
                                           .stride(block_stride)
                                           .bias(o.qkv_bias())));
  kv = register_module("kv", nn::Conv2d(nn::Conv2dOptions(o.dim(), o.num_heads() * (dim_head_qk + dim_head_v), 1)
                                             .bias(o.qkv_bias())));
  pos_embed = register_module(
      "pos_embed", RelPosEmbed2d(std::array<int64_t, 2>{block_size_ds, block_size_ds},
                                 std::array<int64_t, 2>{win_size, win_size}, dim_head_qk));
  reset_parameters();
}

void HaloAttentionImpl::reset_parameters() {
  const double std = std::pow(static_cast<double>(q->weight.size(1)), -0.5);  // fan-in
  trunc_normal_(q->weight, std);
  trunc_normal_(kv->weight, std);
  trunc_normal_(pos_embed->height_rel, scale);
  trunc_normal_(pos_embed->width_rel, scale);
}

namespace {
// Rows [B*heads, blocks, bsd^2, win^2]: queries in bs x bs blocks (bsd x bsd after the query stride), keys the
// block's win x win window (block + halo on every side) of the zero-padded map. Padding keys take part in the
// softmax (timm does not mask them): on the map a row near the border sums to less than one.
void set_halo_geometry(AttentionRecord& r, int64_t heads, std::array<int64_t, 2> size, int64_t bs, int64_t bsd, int64_t halo,
                       int64_t win) {
  const int64_t nh = size[0] / bs, nw = size[1] / bs;
  r.query_grid = {nh * bsd, nw * bsd};
  r.key_grid = size;
  const at::Tensor w = r.weights.view({-1, heads, nh * nw, bsd * bsd, win * win});
  r.query_map = [w, heads, size, bs, bsd, halo, win, nw](int64_t b, int64_t y, int64_t x) {
    const int64_t by = y / bsd, bx = x / bsd;
    const at::Tensor row = w[b].select(1, by * nw + bx).select(1, (y % bsd) * bsd + x % bsd).to(torch::kCPU, torch::kFloat64);
    at::Tensor map = torch::zeros({heads, size[0], size[1]}, torch::kFloat64);
    for (int64_t i = 0; i < win; ++i)
      for (int64_t j = 0; j < win; ++j) {
        const int64_t py = by * bs - halo + i, px = bx * bs - halo + j;
        if (py < 0 || px < 0 || py >= size[0] || px >= size[1]) continue;  // zero padding
        map.select(1, py).select(1, px) += row.select(1, i * win + j);
      }
    return map;
  };
}
}  // namespace

at::Tensor HaloAttentionImpl::forward(const at::Tensor& x) {
  const auto& o = options;
  TORCH_CHECK(x.dim() == 4 && x.size(1) == o.dim(), "HaloAttention: expected input [B, ", o.dim(), ", H, W], got ",
              x.sizes());
  const int64_t B = x.size(0), H = x.size(2), W = x.size(3), bs = o.block_size(), heads = o.num_heads();
  TORCH_CHECK(H % bs == 0 && W % bs == 0, "HaloAttention: input size ", H, "x", W,
              " is not a multiple of block_size ", bs);
  const int64_t nh = H / bs, nw = W / bs, nb = nh * nw, bsd = block_size_ds;

  // Queries: head-major channels (h * dqk + d); block (by, bx) holds rows by*bsd.. of the (strided) map.
  at::Tensor qb = q(x).reshape({-1, dim_head_qk, nh, bsd, nw, bsd}).permute({0, 1, 3, 5, 2, 4});
  qb = qb.reshape({B * heads, dim_head_qk, bsd * bsd, nb}).transpose(1, 3);  // [BH, nb, bsd^2, dqk]

  // Keys/values: zero-pad by the halo, overlapping win x win windows at step block_size. Each head owns
  // a contiguous (dqk + dv) channel slice split k | v (timm's reshape order).
  const int64_t hs = o.halo_size();
  at::Tensor kvw = F::pad(kv(x), F::PadFuncOptions({hs, hs, hs, hs}));
  kvw = kvw.unfold(2, win_size, bs).unfold(3, win_size, bs);
  kvw = kvw.reshape({B * heads, dim_head_qk + dim_head_v, nb, -1}).permute({0, 2, 3, 1});  // [BH, nb, win^2, dqk+dv]
  const auto kv_split = kvw.split_with_sizes({dim_head_qk, dim_head_v}, -1);
  const at::Tensor& k = kv_split[0];
  const at::Tensor& v = kv_split[1];

  at::Tensor attn;
  if (o.scale_pos_embed())
    attn = (torch::matmul(qb, k.transpose(-1, -2)) + pos_embed(qb)) * scale;
  else
    attn = torch::matmul(qb, k.transpose(-1, -2)) * scale + pos_embed(qb);
  attn = attn.softmax(-1);
  if (AttentionRecord* r = record_attention(this, "softmax", attn)) set_halo_geometry(*r, heads, {H, W}, bs, bsd, hs, win_size);

  at::Tensor out = torch::matmul(attn, v).transpose(1, 3);  // [BH, dv, bsd^2, nb]
  out = out.reshape({-1, bsd, bsd, nh, nw}).permute({0, 3, 1, 4, 2}).contiguous();
  out = out.view({B, dim_out, H / block_stride, W / block_stride});
  if (avg_pool) out = F::avg_pool2d(out, F::AvgPool2dFuncOptions(2).stride(2));
  return out;
}

}  // namespace attnzoo::modules
