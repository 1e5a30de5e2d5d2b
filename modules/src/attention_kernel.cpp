// Softmax attention on small problems, one (batch, head, window) problem per task. ATen 1.13 runs these as
// bmm over thousands of 49x32 matrices (a BLAS call per matrix, the transposed operand copied) plus a
// separate softmax pass, reaching 1-10 GFLOP/s on this machine. Here a problem stays in cache from QK^T to
// the output: its products are one register-blocked small GEMM each (K transposed and every operand padded
// to the vector width once per problem); exp is a branch-free polynomial for float (a few ulp) and std::exp
// for double (parity tests run in float64).
#include "attention_kernel.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "kernel_clones.h"

namespace attnzoo::modules::kernels {
namespace {

// exp(x) for x <= 0 (softmax after subtracting the row maximum): Cody-Waite reduction x = n ln2 + r and a
// degree-6 polynomial on |r| <= ln2 / 2 (relative error ~2e-7), rounding by the 1.5 * 2^23 trick so that
// the loop vectorises without -ffast-math.
inline float exp_nonpositive(float x) {
  x = std::max(x, -87.0f);
  const float shifter = 12582912.0f;  // 1.5 * 2^23
  const float t = x * 1.44269504088896341f + shifter;
  const float n = t - shifter;
  const float r = (x - n * 0.693359375f) + n * 2.12194440e-4f;
  float p = 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  const int32_t bits = (static_cast<int32_t>(n) + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, sizeof(scale));
  return p * scale;
}
inline double exp_nonpositive(double x) { return std::exp(x); }

template <typename T>
void transpose(const T* src, int64_t rows, int64_t cols, int64_t ld_dst, T* dst) {  // [rows, cols] -> [cols, ld_dst]
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) dst[c * ld_dst + r] = src[r * cols + c];
}

// Copies [rows, cols] into [rows, ld_dst], zero-filling the padding columns.
template <typename T>
void pad_columns(const T* src, int64_t rows, int64_t cols, int64_t ld_dst, T* dst) {
  for (int64_t r = 0; r < rows; ++r) {
    std::copy(src + r * cols, src + (r + 1) * cols, dst + r * ld_dst);
    std::fill(dst + r * ld_dst + cols, dst + (r + 1) * ld_dst, T(0));
  }
}

// 32-byte vectors through GCC's vector extensions: AVX2/AVX-512 registers in the x86-64-v3/v4 clones, SSE
// pairs in the default one.
template <typename T>
struct Vec {
  static constexpr int64_t W = 32 / sizeof(T);
  typedef T type __attribute__((vector_size(32)));
};

template <typename T>
inline int64_t round_up(int64_t n) {
  return (n + Vec<T>::W - 1) / Vec<T>::W * Vec<T>::W;
}

// C[rows, cols] = A[rows, K] B[K, cols], all row-major, cols a multiple of the vector width (B and C padded).
// Register-blocked: four rows of C share every vector of B loaded, so the loop is bound by FMAs, not loads.
template <typename T>
inline __attribute__((always_inline)) void small_gemm(const T* A, int64_t lda, const T* B, int64_t ldb, T* C,
                                                      int64_t ldc, int64_t rows, int64_t K, int64_t cols) {
  using V = typename Vec<T>::type;
  constexpr int64_t W = Vec<T>::W;
  int64_t n = 0;
  for (; n + 4 <= rows; n += 4) {
    const T* a = A + n * lda;
    for (int64_t j = 0; j < cols; j += W) {
      V c0 = {}, c1 = {}, c2 = {}, c3 = {};
      for (int64_t k = 0; k < K; ++k) {
        V b;
        std::memcpy(&b, B + k * ldb + j, sizeof(V));
        c0 += a[k] * b;
        c1 += a[lda + k] * b;
        c2 += a[2 * lda + k] * b;
        c3 += a[3 * lda + k] * b;
      }
      std::memcpy(C + n * ldc + j, &c0, sizeof(V));
      std::memcpy(C + (n + 1) * ldc + j, &c1, sizeof(V));
      std::memcpy(C + (n + 2) * ldc + j, &c2, sizeof(V));
      std::memcpy(C + (n + 3) * ldc + j, &c3, sizeof(V));
    }
  }
  for (; n < rows; ++n) {
    const T* a = A + n * lda;
    for (int64_t j = 0; j < cols; j += W) {
      V c0 = {};
      for (int64_t k = 0; k < K; ++k) {
        V b;
        std::memcpy(&b, B + k * ldb + j, sizeof(V));
        c0 += a[k] * b;
      }
      std::memcpy(C + n * ldc + j, &c0, sizeof(V));
    }
  }
}

template <typename T>
inline __attribute__((always_inline)) void softmax_row(T* row, int64_t M) {
  T mx = -std::numeric_limits<T>::infinity();
  for (int64_t j = 0; j < M; ++j) mx = std::max(mx, row[j]);
  T sum = 0;
  for (int64_t j = 0; j < M; ++j) row[j] = exp_nonpositive(row[j] - mx);
  for (int64_t j = 0; j < M; ++j) sum += row[j];
  const T inv = T(1) / sum;
  for (int64_t j = 0; j < M; ++j) row[j] *= inv;
}

// Per-task scratch, reused across the problems of a task (sizes: what forward_problem / backward_problem put
// in each buffer).
template <typename T>
struct Scratch {
  std::vector<T> a, b, c, d;
  explicit Scratch(const AttentionGeometry& g) {
    const int64_t Mp = round_up<T>(g.M), Np = round_up<T>(g.N), dp = round_up<T>(g.d), dvp = round_up<T>(g.dv);
    a.resize(std::max({g.d * Mp, g.dv * Mp, g.M * Np}));               // K^T, V^T, dS^T, P^T
    b.resize(std::max({g.M * dvp, g.M * dp, g.N * dp, g.N * dvp}));    // padded V, K, Q, dO
    c.resize(g.N * Mp);                                                // scores / dS
    d.resize(std::max({g.N * dvp, g.N * dp, g.M * dp, g.M * dvp}));    // product results
  }
};

template <typename T>
ATTNZOO_CLONES void forward_problem(const AttentionGeometry& g, const T* q, const T* k, const T* v, T scale,
                                    const T* bias, T* out, T* probs, Scratch<T>& s) {
  const int64_t Mp = round_up<T>(g.M), dvp = round_up<T>(g.dv);
  T* kt = s.a.data();      // [d, Mp]
  T* vp = s.b.data();      // [M, dvp]
  T* scores = s.c.data();  // [N, Mp]
  T* o = s.d.data();       // [N, dvp]
  std::fill(kt, kt + g.d * Mp, T(0));
  transpose(k, g.M, g.d, Mp, kt);
  pad_columns(v, g.M, g.dv, dvp, vp);
  small_gemm(q, g.d, kt, Mp, scores, Mp, g.N, g.d, Mp);
  for (int64_t n = 0; n < g.N; ++n) {
    T* p = scores + n * Mp;
    // (q k^T) * scale, then + bias: the order of the official code (matters at float64 rounding).
    if (bias) {
      const T* b = bias + n * g.M;
      for (int64_t j = 0; j < g.M; ++j) p[j] = p[j] * scale + b[j];
    } else {
      for (int64_t j = 0; j < g.M; ++j) p[j] *= scale;
    }
    softmax_row(p, g.M);
    if (probs) std::copy(p, p + g.M, probs + n * g.M);
  }
  small_gemm(scores, Mp, vp, dvp, o, dvp, g.N, g.M, dvp);
  for (int64_t n = 0; n < g.N; ++n) std::copy(o + n * dvp, o + n * dvp + g.dv, out + n * g.dv);
}

template <typename T>
ATTNZOO_CLONES void backward_problem(const AttentionGeometry& g, const T* q, const T* k, const T* v, T scale,
                                     const T* probs, const T* gout, T* gq, T* gk, T* gv, T* glogits,
                                     Scratch<T>& s) {
  const int64_t Mp = round_up<T>(g.M), dp = round_up<T>(g.d), dvp = round_up<T>(g.dv), Np = round_up<T>(g.N);
  // dP = dO V^T: [N, Mp]
  T* vt = s.a.data();
  std::fill(vt, vt + g.dv * Mp, T(0));
  transpose(v, g.M, g.dv, Mp, vt);
  T* ds = s.c.data();
  small_gemm(gout, g.dv, vt, Mp, ds, Mp, g.N, g.dv, Mp);
  // Softmax backward: dS = P * (dP - sum_j P dP); the logits are (q k^T) * scale (+ bias).
  for (int64_t n = 0; n < g.N; ++n) {
    const T* p = probs + n * g.M;
    T* row = ds + n * Mp;
    T dot = 0;
    for (int64_t j = 0; j < g.M; ++j) dot += p[j] * row[j];
    for (int64_t j = 0; j < g.M; ++j) row[j] = p[j] * (row[j] - dot);
    if (glogits) std::copy(row, row + g.M, glogits + n * g.M);
    for (int64_t j = 0; j < g.M; ++j) row[j] *= scale;
  }
  T* tmp = s.d.data();
  // gq = dS K: [N, dp]
  T* kp = s.b.data();
  pad_columns(k, g.M, g.d, dp, kp);
  small_gemm(ds, Mp, kp, dp, tmp, dp, g.N, g.M, dp);
  for (int64_t n = 0; n < g.N; ++n) std::copy(tmp + n * dp, tmp + n * dp + g.d, gq + n * g.d);
  // gk = dS^T Q: [M, dp]
  T* dst = s.a.data();  // [M, Np] (dS^T)
  for (int64_t n = 0; n < g.N; ++n)
    for (int64_t j = 0; j < g.M; ++j) dst[j * Np + n] = ds[n * Mp + j];
  T* qp = s.b.data();
  pad_columns(q, g.N, g.d, dp, qp);
  small_gemm(dst, Np, qp, dp, tmp, dp, g.M, g.N, dp);
  for (int64_t j = 0; j < g.M; ++j) std::copy(tmp + j * dp, tmp + j * dp + g.d, gk + j * g.d);
  // gv = P^T dO: [M, dvp]
  for (int64_t n = 0; n < g.N; ++n)
    for (int64_t j = 0; j < g.M; ++j) dst[j * Np + n] = probs[n * g.M + j];
  T* gop = s.b.data();
  pad_columns(gout, g.N, g.dv, dvp, gop);
  small_gemm(dst, Np, gop, dvp, tmp, dvp, g.M, g.N, dvp);
  for (int64_t j = 0; j < g.M; ++j) std::copy(tmp + j * dvp, tmp + j * dvp + g.dv, gv + j * g.dv);
}

// A few problems per task: each is tens of microseconds, and the per-task buffers are reused.
int64_t grain(const AttentionGeometry& g) {
  const int64_t work = std::max<int64_t>(1, g.N * g.M * (g.d + g.dv));
  return std::max<int64_t>(1, 32768 / work);
}

}  // namespace

template <typename T>
void attention_forward(const AttentionGeometry& g, const T* q, const T* k, const T* v, T scale, const T* bias,
                       const int64_t* bias_offsets, T* out, T* probs) {
  at::parallel_for(0, g.L, grain(g), [&](int64_t i0, int64_t i1) {
    Scratch<T> scratch(g);
    for (int64_t i = i0; i < i1; ++i)
      forward_problem(g, q + i * g.N * g.d, k + i * g.M * g.d, v + i * g.M * g.dv, scale,
                      bias ? bias + bias_offsets[i] : nullptr, out + i * g.N * g.dv,
                      probs ? probs + i * g.N * g.M : nullptr, scratch);
  });
}

template <typename T>
void attention_backward(const AttentionGeometry& g, const T* q, const T* k, const T* v, T scale, const T* probs,
                        const T* gout, T* gq, T* gk, T* gv, T* glogits) {
  at::parallel_for(0, g.L, grain(g), [&](int64_t i0, int64_t i1) {
    Scratch<T> scratch(g);
    for (int64_t i = i0; i < i1; ++i) {
      const int64_t nd = i * g.N * g.d, md = i * g.M * g.d, mv = i * g.M * g.dv, nm = i * g.N * g.M;
      backward_problem(g, q + nd, k + md, v + mv, scale, probs + nm, gout + i * g.N * g.dv, gq + nd, gk + md,
                       gv + mv, glogits ? glogits + nm : nullptr, scratch);
    }
  });
}

template void attention_forward<float>(const AttentionGeometry&, const float*, const float*, const float*, float,
                                       const float*, const int64_t*, float*, float*);
template void attention_forward<double>(const AttentionGeometry&, const double*, const double*, const double*, double,
                                        const double*, const int64_t*, double*, double*);
template void attention_backward<float>(const AttentionGeometry&, const float*, const float*, const float*, float,
                                        const float*, const float*, float*, float*, float*, float*);
template void attention_backward<double>(const AttentionGeometry&, const double*, const double*, const double*, double,
                                         const double*, const double*, double*, double*, double*, double*);

}  // namespace attnzoo::modules::kernels
