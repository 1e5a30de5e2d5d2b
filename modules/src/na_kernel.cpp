// CPU kernels of neighborhood attention (forward and backward) and their autograd functions.
// Layout: q, k, v [B, heads, H, W, d] contiguous; logits / weights [B, heads, H, W, kh * kw].
#include <attnzoo/modules/nat.h>

#include "na_cuda.h"

#include <attnzoo/modules/fast_kernels.h>

#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>
#include <ATen/record_function.h>
#include <torch/torch.h>

#include <limits>
#include <vector>

namespace attnzoo::modules {

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::tensor_list;

// Neighbour and bias indices of one axis: nbr[i * k + t] (-1: no neighbour, causal start), pb[i * k + t].
struct Axis {
  int64_t L = 1, k = 1, d = 1;
  bool causal = false;
  std::vector<int64_t> nbr, pb;
};

Axis make_axis(int64_t L, int64_t k, int64_t d, bool causal) {
  TORCH_CHECK(k >= 1 && d >= 1, "neighborhood attention: kernel_size and dilation must be positive, got ", k, ", ", d);
  TORCH_CHECK(causal || k % 2 == 1, "neighborhood attention: kernel_size must be odd, got ", k);
  TORCH_CHECK(L >= k * d, "neighborhood attention: axis of length ", L, " is smaller than kernel_size * dilation = ",
              k, " * ", d, " (pad the input, as the modules do)");
  Axis a;
  a.L = L, a.k = k, a.d = d, a.causal = causal;
  a.nbr.resize(L * k);
  a.pb.resize(L * k);
  const int64_t r = k / 2;
  for (int64_t i = 0; i < L; ++i) {
    const int64_t g = i % d, p = i / d, Lg = (L - g + d - 1) / d;
    if (causal) {  // the query and the k - 1 group members before it; missing ones at the start
      for (int64_t t = 0; t < k; ++t) {
        const int64_t pos = p - (k - 1) + t;
        a.nbr[i * k + t] = pos >= 0 ? pos * d + g : -1;
        a.pb[i * k + t] = (k - 1) + (pos - p);
      }
      continue;
    }
    const int64_t s = std::max<int64_t>(p - r, 0) + (p + r >= Lg ? Lg - p - r - 1 : 0);
    for (int64_t t = 0; t < k; ++t) {
      a.nbr[i * k + t] = (s + t) * d + g;
      a.pb[i * k + t] = (k - 1) + (s + t - p);
    }
  }
  return a;
}

struct Geometry {
  int64_t B, heads, H, W, D, K;
  Axis rows, cols;
};

Geometry geometry(const at::Tensor& t, std::array<int64_t, 2> kernel, std::array<int64_t, 2> dilation,
                  std::array<bool, 2> causal, int64_t last) {
  TORCH_CHECK(t.dim() == 5, "neighborhood attention: expected [B, heads, H, W, d], got ", t.sizes());
  Geometry g;
  g.B = t.size(0), g.heads = t.size(1), g.H = t.size(2), g.W = t.size(3), g.D = last;
  g.rows = make_axis(g.H, kernel[0], dilation[0], causal[0]);
  g.cols = make_axis(g.W, kernel[1], dilation[1], causal[1]);
  g.K = kernel[0] * kernel[1];
  return g;
}

template <typename T>
inline T dot(const T* a, const T* b, int64_t n) {
  T s = 0;
  for (int64_t e = 0; e < n; ++e) s += a[e] * b[e];
  return s;
}

// Calls f(n, r, c) for every existing neighbour n = ki * kw + kj of query (i, j) at key (r, c).
template <typename F>
inline void for_each_neighbor(const Geometry& g, int64_t i, int64_t j, F&& f) {
  const int64_t kh = g.rows.k, kw = g.cols.k;
  for (int64_t ki = 0; ki < kh; ++ki) {
    const int64_t r = g.rows.nbr[i * kh + ki];
    if (r < 0) continue;
    for (int64_t kj = 0; kj < kw; ++kj) {
      const int64_t c = g.cols.nbr[j * kw + kj];
      if (c >= 0) f(ki * kw + kj, r, c);
    }
  }
}

// Gather-style passes: f(bh, i, j) for every query, parallel over (batch x head x row).
template <typename F>
void over_queries(const Geometry& g, F&& f) {
  at::parallel_for(0, g.B * g.heads * g.H, 1, [&](int64_t begin, int64_t end) {
    for (int64_t idx = begin; idx < end; ++idx)
      for (int64_t j = 0; j < g.W; ++j) f(idx / g.H, idx % g.H, j);
  });
}

// Scatter-style passes (writes to the neighbours): one (batch, head) slice per task, so no races.
template <typename F>
void over_slices(const Geometry& g, F&& f) {
  at::parallel_for(0, g.B * g.heads, 1, [&](int64_t begin, int64_t end) {
    for (int64_t bh = begin; bh < end; ++bh)
      for (int64_t i = 0; i < g.H; ++i)
        for (int64_t j = 0; j < g.W; ++j) f(bh, i, j);
  });
}

// Offset of token (r, c) of slice bh, in units of `width` elements.
inline int64_t at_token(const Geometry& g, int64_t bh, int64_t r, int64_t c, int64_t width) {
  return ((bh * g.H + r) * g.W + c) * width;
}

// logits[b,h,i,j,n] = q[b,h,i,j] . k[b,h,nbr] + rpb[h, pb]; -inf where the neighbour does not exist (causal).
template <typename T>
void qk_forward(const Geometry& g, const T* q, const T* k, const T* rpb, T* out) {
  const int64_t kh = g.rows.k, kw = g.cols.k, D = g.D, P1 = 2 * kh - 1, P2 = 2 * kw - 1;
  over_queries(g, [&](int64_t bh, int64_t i, int64_t j) {
    const T* qp = q + at_token(g, bh, i, j, D);
    T* op = out + at_token(g, bh, i, j, g.K);
    for (int64_t n = 0; n < g.K; ++n) op[n] = -std::numeric_limits<T>::infinity();
    const int64_t h = bh % g.heads;
    for_each_neighbor(g, i, j, [&](int64_t n, int64_t r, int64_t c) {
      T v = dot(qp, k + at_token(g, bh, r, c, D), D);
      if (rpb) v += rpb[(h * P1 + g.rows.pb[i * kh + n / kw]) * P2 + g.cols.pb[j * kw + n % kw]];
      op[n] = v;
    });
  });
}

// grad_q[i,j] = sum_n go[i,j,n] k[nbr];  grad_k[nbr] += go[i,j,n] q[i,j]
template <typename T>
void qk_backward(const Geometry& g, const T* q, const T* k, const T* go, T* gq, T* gk) {
  const int64_t D = g.D;
  over_queries(g, [&](int64_t bh, int64_t i, int64_t j) {
    T* gqp = gq + at_token(g, bh, i, j, D);
    const T* gop = go + at_token(g, bh, i, j, g.K);
    for_each_neighbor(g, i, j, [&](int64_t n, int64_t r, int64_t c) {
      const T w = gop[n];
      const T* kp = k + at_token(g, bh, r, c, D);
      for (int64_t e = 0; e < D; ++e) gqp[e] += w * kp[e];
    });
  });
  over_slices(g, [&](int64_t bh, int64_t i, int64_t j) {
    const T* qp = q + at_token(g, bh, i, j, D);
    const T* gop = go + at_token(g, bh, i, j, g.K);
    for_each_neighbor(g, i, j, [&](int64_t n, int64_t r, int64_t c) {
      const T w = gop[n];
      T* gkp = gk + at_token(g, bh, r, c, D);
      for (int64_t e = 0; e < D; ++e) gkp[e] += w * qp[e];
    });
  });
}

// out[i,j] = sum_n attn[i,j,n] v[nbr]
template <typename T>
void av_forward(const Geometry& g, const T* attn, const T* v, T* out) {
  const int64_t D = g.D;
  over_queries(g, [&](int64_t bh, int64_t i, int64_t j) {
    T* op = out + at_token(g, bh, i, j, D);
    const T* ap = attn + at_token(g, bh, i, j, g.K);
    for (int64_t e = 0; e < D; ++e) op[e] = 0;
    for_each_neighbor(g, i, j, [&](int64_t n, int64_t r, int64_t c) {
      const T w = ap[n];
      const T* vp = v + at_token(g, bh, r, c, D);
      for (int64_t e = 0; e < D; ++e) op[e] += w * vp[e];
    });
  });
}

// grad_attn[i,j,n] = go[i,j] . v[nbr] (0 for missing neighbours);  grad_v[nbr] += attn[i,j,n] go[i,j]
template <typename T>
void av_backward(const Geometry& g, const T* attn, const T* v, const T* go, T* ga, T* gv) {
  const int64_t D = g.D;
  over_queries(g, [&](int64_t bh, int64_t i, int64_t j) {
    const T* gop = go + at_token(g, bh, i, j, D);
    T* gap = ga + at_token(g, bh, i, j, g.K);
    for (int64_t n = 0; n < g.K; ++n) gap[n] = 0;
    for_each_neighbor(g, i, j, [&](int64_t n, int64_t r, int64_t c) { gap[n] = dot(gop, v + at_token(g, bh, r, c, D), D); });
  });
  over_slices(g, [&](int64_t bh, int64_t i, int64_t j) {
    const T* gop = go + at_token(g, bh, i, j, D);
    const T* ap = attn + at_token(g, bh, i, j, g.K);
    for_each_neighbor(g, i, j, [&](int64_t n, int64_t r, int64_t c) {
      const T w = ap[n];
      T* gvp = gv + at_token(g, bh, r, c, D);
      for (int64_t e = 0; e < D; ++e) gvp[e] += w * gop[e];
    });
  });
}

void check_pair(const at::Tensor& a, const at::Tensor& b, const char* what, bool cuda = false) {
  TORCH_CHECK(cuda ? a.is_cuda() && b.is_cuda() && a.device() == b.device() : a.device().is_cpu() && b.device().is_cpu(),
              what, cuda ? ": the CUDA kernels need both tensors on one CUDA device" : ": the CPU kernels need CPU tensors");
  TORCH_CHECK(a.scalar_type() == b.scalar_type(), what, ": dtype mismatch ", a.scalar_type(), " vs ", b.scalar_type());
  TORCH_CHECK(a.dim() == 5 && b.dim() == 5 && a.size(0) == b.size(0) && a.size(1) == b.size(1) &&
                  a.size(2) == b.size(2) && a.size(3) == b.size(3),
              what, ": shapes ", a.sizes(), " and ", b.sizes(), " do not match in [B, heads, H, W]");
}

struct Config {
  std::array<int64_t, 2> kernel, dilation;
  std::array<bool, 2> causal;
};

void save(AutogradContext* ctx, const Config& c) {
  ctx->saved_data["kh"] = c.kernel[0];
  ctx->saved_data["kw"] = c.kernel[1];
  ctx->saved_data["dh"] = c.dilation[0];
  ctx->saved_data["dw"] = c.dilation[1];
  ctx->saved_data["ch"] = c.causal[0];
  ctx->saved_data["cw"] = c.causal[1];
}

Config load(AutogradContext* ctx) {
  return {{ctx->saved_data["kh"].toInt(), ctx->saved_data["kw"].toInt()},
          {ctx->saved_data["dh"].toInt(), ctx->saved_data["dw"].toInt()},
          {ctx->saved_data["ch"].toBool(), ctx->saved_data["cw"].toBool()}};
}

// The geometry of na_qk's inputs after checking them (devices, head dims, the bias table), for both devices.
Geometry checked_qk_geometry(const at::Tensor& q, const at::Tensor& k, const at::Tensor& rpb, const Config& c, bool cuda) {
  check_pair(q, k, "na_qk", cuda);
  TORCH_CHECK(q.size(4) == k.size(4), "na_qk: q and k head dims differ: ", q.size(4), " vs ", k.size(4));
  const Geometry g = geometry(q, c.kernel, c.dilation, c.causal, q.size(4));
  if (rpb.numel() > 0)
    TORCH_CHECK(rpb.dim() == 3 && rpb.size(0) == g.heads && rpb.size(1) == 2 * c.kernel[0] - 1 &&
                    rpb.size(2) == 2 * c.kernel[1] - 1 && rpb.scalar_type() == q.scalar_type() &&
                    rpb.device() == q.device(),
                "na_qk: rpb must be [", g.heads, ", ", 2 * c.kernel[0] - 1, ", ", 2 * c.kernel[1] - 1, "] of ",
                q.scalar_type(), " on ", q.device(), ", got ", rpb.sizes(), " ", rpb.scalar_type(), " on ", rpb.device());
  return g;
}

// Flat rpb index of every (i, j, n): [H * W * K], for the bias gradient.
at::Tensor rpb_index(const Geometry& g) {
  const int64_t kh = g.rows.k, kw = g.cols.k, P2 = 2 * kw - 1;
  std::vector<int64_t> idx(g.H * g.W * g.K);
  for (int64_t i = 0; i < g.H; ++i)
    for (int64_t j = 0; j < g.W; ++j)
      for (int64_t ki = 0; ki < kh; ++ki)
        for (int64_t kj = 0; kj < kw; ++kj)
          idx[((i * g.W + j) * kh + ki) * kw + kj] = g.rows.pb[i * kh + ki] * P2 + g.cols.pb[j * kw + kj];
  return torch::tensor(idx, torch::kLong);
}

}  // namespace

const NACudaKernels*& na_cuda_kernels() {
  static const NACudaKernels* kernels = nullptr;
  return kernels;
}

bool na_has_cuda_kernels() { return na_cuda_kernels() != nullptr; }

namespace {

// The CUDA kernels' index tables (int64 on the device) from the host's axis rules.
NAIndex cuda_index(const Geometry& g, const at::Device& device) {
  auto table = [&](const std::vector<int64_t>& v, int64_t L, int64_t k) {
    return torch::tensor(v, torch::kLong).view({L, k}).to(device);
  };
  return {table(g.rows.nbr, g.H, g.rows.k), table(g.rows.pb, g.H, g.rows.k), table(g.cols.nbr, g.W, g.cols.k),
          table(g.cols.pb, g.W, g.cols.k), g.rows.k, g.cols.k};
}

// One autograd function per op for both devices: CPU tensors run the kernels above, CUDA tensors the CUDA
// kernels (na_kernel.cu, through na_cuda_kernels()).
class NAQKFunction : public torch::autograd::Function<NAQKFunction> {
 public:
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& q, const at::Tensor& k, const at::Tensor& rpb,
                            const Config& c) {
    const Geometry g = checked_qk_geometry(q, k, rpb, c, q.is_cuda());
    const bool has_rpb = rpb.numel() > 0;
    at::Tensor out = torch::empty({g.B, g.heads, g.H, g.W, g.K}, q.options());
    if (q.is_cuda()) {
      na_cuda_kernels()->qk_forward(q, k, rpb, cuda_index(g, q.device()), out);
    } else {
      AT_DISPATCH_FLOATING_TYPES(q.scalar_type(), "na_qk", [&] {
        qk_forward<scalar_t>(g, q.data_ptr<scalar_t>(), k.data_ptr<scalar_t>(),
                             has_rpb ? rpb.data_ptr<scalar_t>() : nullptr, out.data_ptr<scalar_t>());
      });
    }
    ctx->save_for_backward({q, k});
    ctx->saved_data["has_rpb"] = has_rpb;
    save(ctx, c);
    return out;
  }
  static tensor_list backward(AutogradContext* ctx, tensor_list grads) {
    const auto saved = ctx->get_saved_variables();
    const at::Tensor &q = saved[0], &k = saved[1];
    const Config c = load(ctx);
    const Geometry g = geometry(q, c.kernel, c.dilation, c.causal, q.size(4));
    // Masked (causal) logits are -inf constants: their incoming gradient is zero; drop NaN/inf noise.
    at::Tensor go = grads[0].contiguous();
    at::Tensor gq = torch::zeros_like(q), gk = torch::zeros_like(k);
    if (q.is_cuda()) {
      at::Tensor grpb;
      if (ctx->saved_data["has_rpb"].toBool())
        grpb = torch::zeros({g.heads, 2 * c.kernel[0] - 1, 2 * c.kernel[1] - 1}, q.options());
      na_cuda_kernels()->qk_backward(go, q, k, cuda_index(g, q.device()), gq, gk, grpb);
      return {gq, gk, grpb, at::Tensor()};
    }
    AT_DISPATCH_FLOATING_TYPES(q.scalar_type(), "na_qk_backward", [&] {
      qk_backward<scalar_t>(g, q.data_ptr<scalar_t>(), k.data_ptr<scalar_t>(), go.data_ptr<scalar_t>(),
                            gq.data_ptr<scalar_t>(), gk.data_ptr<scalar_t>());
    });
    at::Tensor grpb;
    if (ctx->saved_data["has_rpb"].toBool()) {
      grpb = torch::zeros({g.heads, (2 * c.kernel[0] - 1) * (2 * c.kernel[1] - 1)}, q.options());
      grpb.index_add_(1, rpb_index(g), go.sum(0).reshape({g.heads, -1}));
      grpb = grpb.view({g.heads, 2 * c.kernel[0] - 1, 2 * c.kernel[1] - 1});
    }
    return {gq, gk, grpb, at::Tensor()};
  }
};

class NAAVFunction : public torch::autograd::Function<NAAVFunction> {
 public:
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& attn, const at::Tensor& v, const Config& c) {
    check_pair(attn, v, "na_av", v.is_cuda());
    const Geometry g = geometry(v, c.kernel, c.dilation, c.causal, v.size(4));
    TORCH_CHECK(attn.size(4) == g.K, "na_av: attention has ", attn.size(4), " weights per query, kernel needs ", g.K);
    at::Tensor out = torch::empty_like(v);
    if (v.is_cuda()) {
      na_cuda_kernels()->av_forward(attn, v, cuda_index(g, v.device()), out);
    } else {
      AT_DISPATCH_FLOATING_TYPES(v.scalar_type(), "na_av", [&] {
        av_forward<scalar_t>(g, attn.data_ptr<scalar_t>(), v.data_ptr<scalar_t>(), out.data_ptr<scalar_t>());
      });
    }
    ctx->save_for_backward({attn, v});
    save(ctx, c);
    return out;
  }
  static tensor_list backward(AutogradContext* ctx, tensor_list grads) {
    const auto saved = ctx->get_saved_variables();
    const at::Tensor &attn = saved[0], &v = saved[1];
    const Config c = load(ctx);
    const Geometry g = geometry(v, c.kernel, c.dilation, c.causal, v.size(4));
    at::Tensor go = grads[0].contiguous();
    at::Tensor ga = torch::empty_like(attn), gv = torch::zeros_like(v);
    if (v.is_cuda()) {
      na_cuda_kernels()->av_backward(go, attn, v, cuda_index(g, v.device()), ga, gv);
    } else {
      AT_DISPATCH_FLOATING_TYPES(v.scalar_type(), "na_av_backward", [&] {
        av_backward<scalar_t>(g, attn.data_ptr<scalar_t>(), v.data_ptr<scalar_t>(), go.data_ptr<scalar_t>(),
                              ga.data_ptr<scalar_t>(), gv.data_ptr<scalar_t>());
      });
    }
    return {ga, gv, at::Tensor()};
  }
};

bool use_cuda_kernels(const at::Tensor& t) {
  return t.is_cuda() && na_cuda_kernels() != nullptr && fast_kernels_enabled() &&
         (t.scalar_type() == at::kFloat || t.scalar_type() == at::kDouble);
}

}  // namespace

namespace {

// Device-agnostic paths from ATen ops (gather the neighbours, then reduce): correct and differentiable on
// any device (CUDA included); the CPU kernels above avoid their k^2 * d copies.
struct AtenIndex {
  at::Tensor R, C, rmask, cmask, rp, cp;
};
AtenIndex aten_index(const at::Tensor& like, std::array<int64_t, 2> kernel, std::array<int64_t, 2> dilation,
                     std::array<bool, 2> causal) {
  const int64_t H = like.size(2), W = like.size(3);
  auto [rn, rp] = na_axis_indices(H, kernel[0], dilation[0], causal[0]);
  auto [cn, cp] = na_axis_indices(W, kernel[1], dilation[1], causal[1]);
  const auto dev = like.device();
  AtenIndex ix;
  ix.rmask = rn.lt(0).view({H, 1, kernel[0], 1}).to(dev);
  ix.cmask = cn.lt(0).view({1, W, 1, kernel[1]}).to(dev);
  ix.R = rn.clamp_min(0).view({H, 1, kernel[0], 1}).to(dev);
  ix.C = cn.clamp_min(0).view({1, W, 1, kernel[1]}).to(dev);
  ix.rp = rp.view({H, 1, kernel[0], 1}).to(dev);
  ix.cp = cp.view({1, W, 1, kernel[1]}).to(dev);
  return ix;
}

}  // namespace

at::Tensor na_qk_aten(const at::Tensor& q, const at::Tensor& k, const at::Tensor& rpb, std::array<int64_t, 2> kernel,
                      std::array<int64_t, 2> dilation, std::array<bool, 2> causal) {
  using torch::indexing::Slice;
  const auto ix = aten_index(q, kernel, dilation, causal);
  at::Tensor logits = (q.unsqueeze(4).unsqueeze(4) * k.index({Slice(), Slice(), ix.R, ix.C})).sum(-1);  // [B,h,H,W,kh,kw]
  if (rpb.defined()) logits = logits + rpb.index({Slice(), ix.rp, ix.cp}).unsqueeze(0);
  logits = logits.masked_fill(ix.rmask.logical_or(ix.cmask), -std::numeric_limits<double>::infinity());
  return logits.flatten(4);
}

at::Tensor na_av_aten(const at::Tensor& attn, const at::Tensor& v, std::array<int64_t, 2> kernel,
                      std::array<int64_t, 2> dilation, std::array<bool, 2> causal) {
  using torch::indexing::Slice;
  const auto ix = aten_index(v, kernel, dilation, causal);
  const auto s = attn.sizes();
  const at::Tensor a = attn.view({s[0], s[1], s[2], s[3], kernel[0], kernel[1], 1});
  return (a * v.index({Slice(), Slice(), ix.R, ix.C})).sum({4, 5});
}

at::Tensor na_qk(const at::Tensor& q, const at::Tensor& k, const at::Tensor& rpb, std::array<int64_t, 2> kernel,
                 std::array<int64_t, 2> dilation, std::array<bool, 2> causal) {
  TORCH_CHECK(!(rpb.defined() && (causal[0] || causal[1])), "na_qk: causal neighborhood attention takes no rpb");
  if (!q.device().is_cpu() && !use_cuda_kernels(q)) return na_qk_aten(q, k, rpb, kernel, dilation, causal);
  // Visible to profilers and eval's FLOP counter: MACs = numel(q) * kh * kw.
  // (The inputs must outlive the guard: RecordFunction keeps a view of them.)
  const std::vector<c10::IValue> record_inputs{q, k, c10::IValue(kernel[0] * kernel[1])};
  RECORD_FUNCTION("attnzoo::na_qk", record_inputs);
  // No bias: an empty placeholder (autograd functions do not take undefined tensors).
  return NAQKFunction::apply(q.contiguous(), k.contiguous(),
                             rpb.defined() ? rpb.contiguous() : torch::empty({0}, q.options()),
                             Config{kernel, dilation, causal});
}

at::Tensor na_av(const at::Tensor& attn, const at::Tensor& v, std::array<int64_t, 2> kernel,
                 std::array<int64_t, 2> dilation, std::array<bool, 2> causal) {
  if (!v.device().is_cpu() && !use_cuda_kernels(v)) return na_av_aten(attn, v, kernel, dilation, causal);
  const std::vector<c10::IValue> record_inputs{attn, v};
  RECORD_FUNCTION("attnzoo::na_av", record_inputs);  // MACs = numel(attn) * d
  return NAAVFunction::apply(attn.contiguous(), v.contiguous(), Config{kernel, dilation, causal});
}

std::array<at::Tensor, 2> na_axis_indices(int64_t length, int64_t kernel, int64_t dilation, bool causal) {
  const Axis a = make_axis(length, kernel, dilation, causal);
  return {torch::tensor(a.nbr, torch::kLong).view({length, kernel}), torch::tensor(a.pb, torch::kLong).view({length, kernel})};
}

at::Tensor na_reference(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& rpb,
                        std::array<int64_t, 2> kernel, std::array<int64_t, 2> dilation, std::array<bool, 2> causal) {
  const int64_t H = q.size(2), W = q.size(3);
  auto [rn, rp] = na_axis_indices(H, kernel[0], dilation[0], causal[0]);
  auto [cn, cp] = na_axis_indices(W, kernel[1], dilation[1], causal[1]);
  const at::Tensor rmask = rn.lt(0), cmask = cn.lt(0);
  rn = rn.clamp_min(0);
  cn = cn.clamp_min(0);
  // [B, h, H, W, kh, kw, d]: every query's keys and values, copied (the memory the kernels avoid).
  using torch::indexing::Slice;
  const at::Tensor R = rn.view({H, 1, kernel[0], 1}), C = cn.view({1, W, 1, kernel[1]});
  const at::Tensor kn = k.index({Slice(), Slice(), R, C}), vn = v.index({Slice(), Slice(), R, C});
  at::Tensor logits = (q.unsqueeze(4).unsqueeze(4) * kn).sum(-1);  // [B, h, H, W, kh, kw]
  if (rpb.defined()) {
    const at::Tensor bias = rpb.index({Slice(), rp.view({H, 1, kernel[0], 1}), cp.view({1, W, 1, kernel[1]})});
    logits = logits + bias.unsqueeze(0);
  }
  const at::Tensor mask = rmask.view({H, 1, kernel[0], 1}).logical_or(cmask.view({1, W, 1, kernel[1]}));
  logits = logits.masked_fill(mask, -std::numeric_limits<double>::infinity());
  const auto sizes = logits.sizes().vec();
  const at::Tensor attn = logits.flatten(4).softmax(-1).view(sizes);
  return (attn.unsqueeze(-1) * vn).sum({4, 5});
}

}  // namespace attnzoo::modules
