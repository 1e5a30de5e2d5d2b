// Built as a kernel source (cmake/AttnzooTarget.cmake: OpenMP, -O3, no shared PCH), one clone per ISA level.
#include "fused_adamw.h"

#include <ATen/Parallel.h>

#include <cmath>

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && !defined(__SANITIZE_ADDRESS__)
#define ATTNZOO_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define ATTNZOO_CLONES
#endif

namespace attnzoo::train::kernels {
namespace {

// The same order of operations as the reference: p *= 1 - lr wd; m = b1 m + (1 - b1) g;
// v = b2 v + (1 - b2) g^2; p -= lr / bc1 * m / (sqrt(v) / sqrt(bc2) + eps).
template <typename T>
inline __attribute__((always_inline)) void adamw_range(const AdamWStep& s, T* p, const T* g, T* m, T* v, int64_t n) {
  const T decay = T(1 - s.lr * s.weight_decay), b1 = T(s.beta1), b2 = T(s.beta2), c1 = T(1 - s.beta1),
          c2 = T(1 - s.beta2), eps = T(s.eps), step = T(s.lr / s.bias_correction1),
          inv_sqrt_bc2 = T(1 / std::sqrt(s.bias_correction2));
  for (int64_t i = 0; i < n; ++i) {
    const T gi = g[i];
    const T mi = b1 * m[i] + c1 * gi;
    const T vi = b2 * v[i] + c2 * gi * gi;
    m[i] = mi;
    v[i] = vi;
    p[i] = p[i] * decay - step * mi / (std::sqrt(vi) * inv_sqrt_bc2 + eps);
  }
}

ATTNZOO_CLONES void adamw_f32(const AdamWStep& s, float* p, const float* g, float* m, float* v, int64_t n) {
  adamw_range<float>(s, p, g, m, v, n);
}
ATTNZOO_CLONES void adamw_f64(const AdamWStep& s, double* p, const double* g, double* m, double* v, int64_t n) {
  adamw_range<double>(s, p, g, m, v, n);
}

inline void adamw_any(const AdamWStep& s, float* p, const float* g, float* m, float* v, int64_t n) {
  adamw_f32(s, p, g, m, v, n);
}
inline void adamw_any(const AdamWStep& s, double* p, const double* g, double* m, double* v, int64_t n) {
  adamw_f64(s, p, g, m, v, n);
}

}  // namespace

template <typename T>
void fused_adamw(const AdamWStep& s, T* param, const T* grad, T* exp_avg, T* exp_avg_sq, int64_t n) {
  at::parallel_for(0, n, 1 << 15, [&](int64_t b, int64_t e) {
    adamw_any(s, param + b, grad + b, exp_avg + b, exp_avg_sq + b, e - b);
  });
}

template void fused_adamw<float>(const AdamWStep&, float*, const float*, float*, float*, int64_t);
template void fused_adamw<double>(const AdamWStep&, double*, const double*, double*, double*, int64_t);

}  // namespace attnzoo::train::kernels
