// CUDA kernels of neighborhood attention, the GPU counterpart of na_kernel.cpp's CPU kernels (same layout,
// same neighbour rules: the index tables come from the same host code). One thread per output element; the
// scatters of the backward passes (into k, v and the bias table) use atomicAdd.
#include "na_cuda.h"

#include <ATen/Dispatch.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

#include <limits>

namespace attnzoo::modules {
namespace {

constexpr int kThreads = 256;

inline int blocks_for(int64_t n) { return static_cast<int>((n + kThreads - 1) / kThreads); }

// Shape of one launch: planes = B * heads, each H x W queries with K = kh * kw neighbours and D channels.
struct Dims {
  int64_t planes, heads, H, W, D, kh, kw;
};

Dims dims_of(const at::Tensor& t, const NAIndex& ix) {
  return {t.size(0) * t.size(1), t.size(1), t.size(2), t.size(3), t.size(4), ix.kh, ix.kw};
}

struct Tables {
  const int64_t *rn, *rp, *cn, *cp;
};

Tables tables_of(const NAIndex& ix) {
  return {ix.row_nbr.data_ptr<int64_t>(), ix.row_pb.data_ptr<int64_t>(), ix.col_nbr.data_ptr<int64_t>(),
          ix.col_pb.data_ptr<int64_t>()};
}

// Decomposes a flat index over [planes, H, W, kh, kw] and looks up the neighbour (r, c); false if missing.
struct Site {
  int64_t plane, i, j, a, b, r, c, query;
};

__device__ inline bool site_of(int64_t idx, const Dims& d, const Tables& t, Site& s) {
  s.b = idx % d.kw;
  idx /= d.kw;
  s.a = idx % d.kh;
  idx /= d.kh;
  s.j = idx % d.W;
  idx /= d.W;
  s.i = idx % d.H;
  s.plane = idx / d.H;
  s.query = (s.plane * d.H + s.i) * d.W + s.j;
  s.r = t.rn[s.i * d.kh + s.a];
  s.c = t.cn[s.j * d.kw + s.b];
  return s.r >= 0 && s.c >= 0;
}

__device__ inline int64_t key_of(const Site& s, const Dims& d) { return (s.plane * d.H + s.r) * d.W + s.c; }

__device__ inline int64_t bias_of(const Site& s, const Dims& d, const Tables& t) {
  const int64_t h = s.plane % d.heads;
  return (h * (2 * d.kh - 1) + t.rp[s.i * d.kh + s.a]) * (2 * d.kw - 1) + t.cp[s.j * d.kw + s.b];
}

template <typename T>
__global__ void qk_forward_kernel(const T* q, const T* k, const T* rpb, T* out, Dims d, Tables t, int64_t n) {
  const int64_t idx = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (idx >= n) return;
  Site s;
  if (!site_of(idx, d, t, s)) {
    out[idx] = -std::numeric_limits<T>::infinity();
    return;
  }
  const T* qp = q + s.query * d.D;
  const T* kp = k + key_of(s, d) * d.D;
  T acc = 0;
  for (int64_t e = 0; e < d.D; ++e) acc += qp[e] * kp[e];
  if (rpb) acc += rpb[bias_of(s, d, t)];
  out[idx] = acc;
}

// One thread per (query, neighbour): its share of grad k (scattered) and of the bias table.
template <typename T>
__global__ void qk_backward_scatter_kernel(const T* g, const T* q, T* gk, T* grpb, Dims d, Tables t, int64_t n) {
  const int64_t idx = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (idx >= n) return;
  Site s;
  if (!site_of(idx, d, t, s)) return;
  const T w = g[idx];
  const T* qp = q + s.query * d.D;
  T* gkp = gk + key_of(s, d) * d.D;
  for (int64_t e = 0; e < d.D; ++e) atomicAdd(gkp + e, w * qp[e]);
  if (grpb) atomicAdd(grpb + bias_of(s, d, t), w);
}

// One thread per (query, channel): sum over the neighbours of w * x[neighbour] (grad q from k, or out from v).
template <typename T>
__global__ void gather_sum_kernel(const T* w, const T* x, T* out, Dims d, Tables t, int64_t n) {
  const int64_t idx = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (idx >= n) return;
  const int64_t e = idx % d.D, query = idx / d.D;
  const int64_t j = query % d.W, i = (query / d.W) % d.H, plane = query / (d.W * d.H);
  const T* wp = w + query * d.kh * d.kw;
  T acc = 0;
  for (int64_t a = 0; a < d.kh; ++a) {
    const int64_t r = t.rn[i * d.kh + a];
    if (r < 0) continue;
    for (int64_t b = 0; b < d.kw; ++b) {
      const int64_t c = t.cn[j * d.kw + b];
      if (c < 0) continue;
      acc += wp[a * d.kw + b] * x[((plane * d.H + r) * d.W + c) * d.D + e];
    }
  }
  out[idx] = acc;
}

// One thread per (query, neighbour): grad attn = go . v[neighbour], and its share of grad v (scattered).
template <typename T>
__global__ void av_backward_kernel(const T* go, const T* attn, const T* v, T* gattn, T* gv, Dims d, Tables t, int64_t n) {
  const int64_t idx = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (idx >= n) return;
  Site s;
  if (!site_of(idx, d, t, s)) {
    gattn[idx] = 0;
    return;
  }
  const T* gop = go + s.query * d.D;
  const int64_t key = key_of(s, d) * d.D;
  const T w = attn[idx];
  T acc = 0;
  for (int64_t e = 0; e < d.D; ++e) {
    acc += gop[e] * v[key + e];
    atomicAdd(gv + key + e, w * gop[e]);
  }
  gattn[idx] = acc;
}

template <typename T>
T* ptr_or_null(const at::Tensor& t) {
  return t.defined() && t.numel() > 0 ? t.data_ptr<T>() : nullptr;
}

void qk_forward(const at::Tensor& q, const at::Tensor& k, const at::Tensor& rpb, const NAIndex& ix, at::Tensor& out) {
  const c10::cuda::CUDAGuard guard(q.device());
  const Dims d = dims_of(q, ix);
  const int64_t n = out.numel();
  if (n == 0) return;
  auto stream = c10::cuda::getCurrentCUDAStream();
  AT_DISPATCH_FLOATING_TYPES(q.scalar_type(), "na_qk_cuda", [&] {
    qk_forward_kernel<scalar_t><<<blocks_for(n), kThreads, 0, stream>>>(
        q.data_ptr<scalar_t>(), k.data_ptr<scalar_t>(), ptr_or_null<scalar_t>(rpb), out.data_ptr<scalar_t>(), d,
        tables_of(ix), n);
  });
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

void qk_backward(const at::Tensor& g, const at::Tensor& q, const at::Tensor& k, const NAIndex& ix, at::Tensor& gq,
                 at::Tensor& gk, at::Tensor& grpb) {
  const c10::cuda::CUDAGuard guard(q.device());
  const Dims d = dims_of(q, ix);
  const int64_t n_sites = g.numel(), n_q = gq.numel();
  if (n_sites == 0) return;
  auto stream = c10::cuda::getCurrentCUDAStream();
  AT_DISPATCH_FLOATING_TYPES(q.scalar_type(), "na_qk_backward_cuda", [&] {
    gather_sum_kernel<scalar_t><<<blocks_for(n_q), kThreads, 0, stream>>>(
        g.data_ptr<scalar_t>(), k.data_ptr<scalar_t>(), gq.data_ptr<scalar_t>(), d, tables_of(ix), n_q);
    qk_backward_scatter_kernel<scalar_t><<<blocks_for(n_sites), kThreads, 0, stream>>>(
        g.data_ptr<scalar_t>(), q.data_ptr<scalar_t>(), gk.data_ptr<scalar_t>(), ptr_or_null<scalar_t>(grpb), d,
        tables_of(ix), n_sites);
  });
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

void av_forward(const at::Tensor& attn, const at::Tensor& v, const NAIndex& ix, at::Tensor& out) {
  const c10::cuda::CUDAGuard guard(v.device());
  const Dims d = dims_of(v, ix);
  const int64_t n = out.numel();
  if (n == 0) return;
  auto stream = c10::cuda::getCurrentCUDAStream();
  AT_DISPATCH_FLOATING_TYPES(v.scalar_type(), "na_av_cuda", [&] {
    gather_sum_kernel<scalar_t><<<blocks_for(n), kThreads, 0, stream>>>(
        attn.data_ptr<scalar_t>(), v.data_ptr<scalar_t>(), out.data_ptr<scalar_t>(), d, tables_of(ix), n);
  });
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

void av_backward(const at::Tensor& go, const at::Tensor& attn, const at::Tensor& v, const NAIndex& ix,
                 at::Tensor& gattn, at::Tensor& gv) {
  const c10::cuda::CUDAGuard guard(v.device());
  const Dims d = dims_of(v, ix);
  const int64_t n = attn.numel();
  if (n == 0) return;
  auto stream = c10::cuda::getCurrentCUDAStream();
  AT_DISPATCH_FLOATING_TYPES(v.scalar_type(), "na_av_backward_cuda", [&] {
    av_backward_kernel<scalar_t><<<blocks_for(n), kThreads, 0, stream>>>(
        go.data_ptr<scalar_t>(), attn.data_ptr<scalar_t>(), v.data_ptr<scalar_t>(), gattn.data_ptr<scalar_t>(),
        gv.data_ptr<scalar_t>(), d, tables_of(ix), n);
  });
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

const NACudaKernels kKernels{qk_forward, qk_backward, av_forward, av_backward};
const bool kRegistered = [] {
  na_cuda_kernels() = &kKernels;
  return true;
}();

}  // namespace
}  // namespace attnzoo::modules
