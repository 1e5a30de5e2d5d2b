#pragma once
// The differences between the LibTorch versions attnzoo builds against (Debian's 1.13 and the 2.x of
// PyPI's torch wheel), in one place instead of #if's scattered through the sources.
#include <ATen/Functions.h>
#include <ATen/autocast_mode.h>
#include <c10/core/DeviceType.h>
#include <torch/version.h>

#if TORCH_VERSION_MAJOR >= 2
#include <variant>
#else
#include <c10/util/variant.h>
#endif

// c10d: the Gloo / NCCL process groups derive from c10d::ProcessGroup in 1.x and from c10d::Backend in
// 2.x; both offer the collectives attnzoo uses (include the c10d headers where the alias is used).
namespace c10d {
#if TORCH_VERSION_MAJOR >= 2
class Backend;
#else
class ProcessGroup;
#endif
}  // namespace c10d

namespace attnzoo::compat {

#if TORCH_VERSION_MAJOR >= 2
using C10dBackend = c10d::Backend;
#else
using C10dBackend = c10d::ProcessGroup;
#endif

// LibTorch 1.13's option variants (conv padding, ...) are c10::variant; 2.x uses std::variant.
#if TORCH_VERSION_MAJOR >= 2
using std::get_if;
using std::holds_alternative;
#else
using c10::get_if;
using c10::holds_alternative;
#endif

// Autocast state per device type: 1.13 has one function pair per device (set_enabled / set_cpu_enabled,
// set_autocast_gpu_dtype / set_autocast_cpu_dtype); 2.4+ takes the device type and deprecates the old ones.
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
inline bool autocast_enabled(c10::DeviceType d) { return at::autocast::is_autocast_enabled(d); }
inline void set_autocast_enabled(c10::DeviceType d, bool on) { at::autocast::set_autocast_enabled(d, on); }
inline at::ScalarType autocast_dtype(c10::DeviceType d) { return at::autocast::get_autocast_dtype(d); }
inline void set_autocast_dtype(c10::DeviceType d, at::ScalarType t) { at::autocast::set_autocast_dtype(d, t); }
#else
inline bool autocast_enabled(c10::DeviceType d) {
  return d == c10::DeviceType::CUDA ? at::autocast::is_enabled() : at::autocast::is_cpu_enabled();
}
inline void set_autocast_enabled(c10::DeviceType d, bool on) {
  d == c10::DeviceType::CUDA ? at::autocast::set_enabled(on) : at::autocast::set_cpu_enabled(on);
}
inline at::ScalarType autocast_dtype(c10::DeviceType d) {
  return d == c10::DeviceType::CUDA ? at::autocast::get_autocast_gpu_dtype() : at::autocast::get_autocast_cpu_dtype();
}
inline void set_autocast_dtype(c10::DeviceType d, at::ScalarType t) {
  d == c10::DeviceType::CUDA ? at::autocast::set_autocast_gpu_dtype(t) : at::autocast::set_autocast_cpu_dtype(t);
}
#endif

// Fused scaled-dot-product attention: 2.1+ has at::scaled_dot_product_attention with an explicit scale
// (flash attention on CPU for float/double since 2.2; flash / memory-efficient kernels on CUDA). 1.13's
// private at::_scaled_dot_product_attention has no scale argument: there sdpa() is the plain composition.
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 2)
inline constexpr bool kHasFusedSdpa = true;
inline at::Tensor sdpa(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& mask, double scale) {
  return at::scaled_dot_product_attention(q, k, v, mask.defined() ? c10::optional<at::Tensor>(mask) : c10::nullopt,
                                          /*dropout_p=*/0.0, /*is_causal=*/false, scale);
}
#else
inline constexpr bool kHasFusedSdpa = false;
inline at::Tensor sdpa(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& mask, double scale) {
  at::Tensor logits = at::matmul(q, k.transpose(-2, -1)) * scale;
  if (mask.defined()) logits = logits + mask;
  return at::matmul(logits.softmax(-1), v);
}
#endif

}  // namespace attnzoo::compat
