// CPU kernels of the stride-1 depthwise 2-D convolution (forward and backward), for NCHW and NHWC.
//
// Why our own: LibTorch's CPU path sends a depthwise conv to oneDNN, which reorders plain NCHW input
// and weights into blocked layouts on every call and runs at a few GFLOP/s on the maps of VAN, BiFormer,
// DaViT, LITv2 and Agent attention (6.7 GFLOP/s for LKA at 56x56x64). These loops skip the taps that
// only read padding (exact), keep each plane (NCHW) or each pixel's channel vector (NHWC) in cache,
// and are compiled for AVX-512, AVX2 and baseline x86-64, picked at load time (GCC target_clones).
//
// Built as a kernel source (cmake/AttnzooTarget.cmake: OpenMP, -O3, no shared PCH): the hot loops are
// plain C++ that GCC vectorises; no intrinsics.
#include "depthwise_kernel.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <vector>

#include "kernel_clones.h"

namespace attnzoo::modules::kernels {
namespace {

// Output columns [x0, x1) whose tap at column offset `off` (input column = output column + off) lies inside
// a row of width W.
inline void valid_cols(int64_t off, int64_t Wo, int64_t W, int64_t& x0, int64_t& x1) {
  x0 = std::max<int64_t>(0, -off);
  x1 = std::min<int64_t>(Wo, W - off);
}

// ---------------------------------------------------------------------------------------------------
// NCHW: one (batch, channel) plane at a time; rows are vectorised along W.

template <typename T>
inline __attribute__((always_inline)) void nchw_plane_forward(const DepthwiseGeometry& g, const T* x, const T* w, T bias,
                                                              T* y) {
  for (int64_t oy = 0; oy < g.Ho; ++oy) {
    T* yrow = y + oy * g.Wo;
    for (int64_t ox = 0; ox < g.Wo; ++ox) yrow[ox] = bias;
    for (int64_t kh = 0; kh < g.KH; ++kh) {
      const int64_t iy = oy + kh * g.dh - g.ph;
      if (iy < 0 || iy >= g.H) continue;
      const T* xrow = x + iy * g.W;
      for (int64_t kw = 0; kw < g.KW; ++kw) {
        const int64_t off = kw * g.dw - g.pw;
        int64_t x0, x1;
        valid_cols(off, g.Wo, g.W, x0, x1);
        const T wv = w[kh * g.KW + kw];
        for (int64_t ox = x0; ox < x1; ++ox) yrow[ox] += wv * xrow[ox + off];
      }
    }
  }
}

// grad_w of one plane added into gw[KH * KW]: each tap is a dot product of shifted rows.
template <typename T>
inline __attribute__((always_inline)) void nchw_plane_grad_weight(const DepthwiseGeometry& g, const T* gy, const T* x, T* gw) {
  for (int64_t kh = 0; kh < g.KH; ++kh)
    for (int64_t kw = 0; kw < g.KW; ++kw) {
      const int64_t off = kw * g.dw - g.pw;
      int64_t x0, x1;
      valid_cols(off, g.Wo, g.W, x0, x1);
      if (x0 >= x1) continue;
      T acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};  // 8 partial sums: a vectorisable reduction without -ffast-math
      for (int64_t oy = 0; oy < g.Ho; ++oy) {
        const int64_t iy = oy + kh * g.dh - g.ph;
        if (iy < 0 || iy >= g.H) continue;
        const T* gyrow = gy + oy * g.Wo;
        const T* xrow = x + iy * g.W + off;
        int64_t ox = x0;
        for (; ox + 8 <= x1; ox += 8)
          for (int e = 0; e < 8; ++e) acc[e] += gyrow[ox + e] * xrow[ox + e];
        for (; ox < x1; ++ox) acc[0] += gyrow[ox] * xrow[ox];
      }
      T s = 0;
      for (int e = 0; e < 8; ++e) s += acc[e];
      gw[kh * g.KW + kw] += s;
    }
}

// ---------------------------------------------------------------------------------------------------
// NHWC: one output pixel at a time, its C channels vectorised; weights transposed to [KH * KW, C].

template <typename T>
inline __attribute__((always_inline)) void nhwc_row_forward(const DepthwiseGeometry& g, const T* x, const T* wt,
                                                            const T* bias, int64_t oy, T* yrow) {
  const int64_t C = g.C;
  for (int64_t ox = 0; ox < g.Wo; ++ox) {
    T* yp = yrow + ox * C;
    for (int64_t c = 0; c < C; ++c) yp[c] = bias ? bias[c] : T(0);
    for (int64_t kh = 0; kh < g.KH; ++kh) {
      const int64_t iy = oy + kh * g.dh - g.ph;
      if (iy < 0 || iy >= g.H) continue;
      for (int64_t kw = 0; kw < g.KW; ++kw) {
        const int64_t ix = ox + kw * g.dw - g.pw;
        if (ix < 0 || ix >= g.W) continue;
        const T* xp = x + (iy * g.W + ix) * C;
        const T* wp = wt + (kh * g.KW + kw) * C;
        for (int64_t c = 0; c < C; ++c) yp[c] += wp[c] * xp[c];
      }
    }
  }
}

// Adds one output row's contribution to gwt[KH * KW, C].
template <typename T>
inline __attribute__((always_inline)) void nhwc_row_grad_weight(const DepthwiseGeometry& g, const T* gyrow, const T* x,
                                                                int64_t oy, T* gwt) {
  const int64_t C = g.C;
  for (int64_t kh = 0; kh < g.KH; ++kh) {
    const int64_t iy = oy + kh * g.dh - g.ph;
    if (iy < 0 || iy >= g.H) continue;
    for (int64_t kw = 0; kw < g.KW; ++kw) {
      const int64_t off = kw * g.dw - g.pw;
      int64_t x0, x1;
      valid_cols(off, g.Wo, g.W, x0, x1);
      T* gp = gwt + (kh * g.KW + kw) * C;
      for (int64_t ox = x0; ox < x1; ++ox) {
        const T* gyp = gyrow + ox * C;
        const T* xp = x + (iy * g.W + ox + off) * C;
        for (int64_t c = 0; c < C; ++c) gp[c] += gyp[c] * xp[c];
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------------
// Per-ISA entry points (non-template: target_clones needs plain functions). Each inlines the bodies above.

#define ATTNZOO_DW_ENTRY_POINTS(T)                                                                                        \
  ATTNZOO_CLONES void nchw_forward_planes(const DepthwiseGeometry& g, const T* x, const T* w, const T* b, T* y,          \
                                          int64_t p0, int64_t p1) {                                                       \
    for (int64_t p = p0; p < p1; ++p) {                                                                                   \
      const int64_t c = p % g.C;                                                                                          \
      nchw_plane_forward<T>(g, x + p * g.H * g.W, w + c * g.KH * g.KW, b ? b[c] : T(0), y + p * g.Ho * g.Wo);            \
    }                                                                                                                     \
  }                                                                                                                       \
  ATTNZOO_CLONES void nchw_grad_weight_channels(const DepthwiseGeometry& g, const T* gy, const T* x, T* gw, int64_t c0,  \
                                                int64_t c1) {                                                             \
    for (int64_t c = c0; c < c1; ++c)                                                                                     \
      for (int64_t b = 0; b < g.B; ++b) {                                                                                 \
        const int64_t p = b * g.C + c;                                                                                    \
        nchw_plane_grad_weight<T>(g, gy + p * g.Ho * g.Wo, x + p * g.H * g.W, gw + c * g.KH * g.KW);                    \
      }                                                                                                                   \
  }                                                                                                                       \
  ATTNZOO_CLONES void nhwc_forward_rows(const DepthwiseGeometry& g, const T* x, const T* wt, const T* b, T* y,           \
                                        int64_t r0, int64_t r1) {                                                         \
    for (int64_t r = r0; r < r1; ++r) {                                                                                   \
      const int64_t n = r / g.Ho, oy = r % g.Ho;                                                                          \
      nhwc_row_forward<T>(g, x + n * g.H * g.W * g.C, wt, b, oy, y + r * g.Wo * g.C);                                    \
    }                                                                                                                     \
  }                                                                                                                       \
  ATTNZOO_CLONES void nhwc_grad_weight_rows(const DepthwiseGeometry& g, const T* gy, const T* x, T* gwt, int64_t r0,     \
                                            int64_t r1) {                                                                 \
    for (int64_t r = r0; r < r1; ++r) {                                                                                   \
      const int64_t n = r / g.Ho, oy = r % g.Ho;                                                                          \
      nhwc_row_grad_weight<T>(g, gy + r * g.Wo * g.C, x + n * g.H * g.W * g.C, oy, gwt);                                 \
    }                                                                                                                     \
  }

ATTNZOO_DW_ENTRY_POINTS(float)
ATTNZOO_DW_ENTRY_POINTS(double)
#undef ATTNZOO_DW_ENTRY_POINTS

// Grain sizes: enough work per task to amortise the thread hand-off (~10 us).
int64_t grain(int64_t work_per_item) { return std::max<int64_t>(1, 32768 / std::max<int64_t>(1, work_per_item)); }

}  // namespace

template <typename T>
void depthwise_forward(const DepthwiseGeometry& g, bool nhwc, const T* x, const T* w, const T* b, T* y) {
  const int64_t taps = g.KH * g.KW;
  if (!nhwc) {
    at::parallel_for(0, g.B * g.C, grain(g.Ho * g.Wo * taps),
                     [&](int64_t p0, int64_t p1) { nchw_forward_planes(g, x, w, b, y, p0, p1); });
    return;
  }
  std::vector<T> wt(taps * g.C);  // [C, taps] -> [taps, C]
  for (int64_t c = 0; c < g.C; ++c)
    for (int64_t t = 0; t < taps; ++t) wt[t * g.C + c] = w[c * taps + t];
  at::parallel_for(0, g.B * g.Ho, grain(g.Wo * g.C * taps),
                   [&](int64_t r0, int64_t r1) { nhwc_forward_rows(g, x, wt.data(), b, y, r0, r1); });
}

template <typename T>
void depthwise_backward(const DepthwiseGeometry& g, bool nhwc, const T* x, const T* w, const T* gy, T* gx, T* gw) {
  const int64_t taps = g.KH * g.KW;
  if (gx) {
    // The input gradient is the forward conv of gy with the flipped kernel and the complementary padding
    // d (k - 1) - p (a "full" correlation): the same kernels, no second implementation.
    DepthwiseGeometry t = g;
    t.H = g.Ho, t.W = g.Wo, t.Ho = g.H, t.Wo = g.W;
    t.ph = g.dh * (g.KH - 1) - g.ph, t.pw = g.dw * (g.KW - 1) - g.pw;
    std::vector<T> flipped(g.C * taps);
    for (int64_t c = 0; c < g.C; ++c)
      for (int64_t k = 0; k < taps; ++k) flipped[c * taps + k] = w[c * taps + taps - 1 - k];
    depthwise_forward<T>(t, nhwc, gy, flipped.data(), nullptr, gx);
  }
  if (!nhwc) {
    if (gw) {
      std::fill(gw, gw + g.C * taps, T(0));
      at::parallel_for(0, g.C, grain(g.B * g.Ho * g.Wo * taps),
                       [&](int64_t c0, int64_t c1) { nchw_grad_weight_channels(g, gy, x, gw, c0, c1); });
    }
    return;
  }
  if (gw) {
    // A fixed number of row chunks, each with its own [taps, C] partial sum, reduced in chunk order: the
    // result does not depend on the thread count, and the partial sums stay small.
    constexpr int64_t kChunks = 32;
    const int64_t rows = g.B * g.Ho, chunks = std::min(rows, kChunks), chunk = (rows + chunks - 1) / chunks;
    const int64_t width = taps * g.C;
    std::vector<T> partial(chunks * width, T(0));
    at::parallel_for(0, chunks, 1, [&](int64_t k0, int64_t k1) {
      for (int64_t k = k0; k < k1; ++k)
        nhwc_grad_weight_rows(g, gy, x, partial.data() + k * width, k * chunk, std::min(rows, (k + 1) * chunk));
    });
    for (int64_t k = 1; k < chunks; ++k) {
      const T* src = partial.data() + k * width;
      T* dst = partial.data();
      for (int64_t i = 0; i < width; ++i) dst[i] += src[i];
    }
    for (int64_t c = 0; c < g.C; ++c)
      for (int64_t t = 0; t < taps; ++t) gw[c * taps + t] = partial[t * g.C + c];
  }
}

template void depthwise_forward<float>(const DepthwiseGeometry&, bool, const float*, const float*, const float*, float*);
template void depthwise_forward<double>(const DepthwiseGeometry&, bool, const double*, const double*, const double*, double*);
template void depthwise_backward<float>(const DepthwiseGeometry&, bool, const float*, const float*, const float*, float*,
                                        float*);
template void depthwise_backward<double>(const DepthwiseGeometry&, bool, const double*, const double*, const double*,
                                         double*, double*);

}  // namespace attnzoo::modules::kernels
