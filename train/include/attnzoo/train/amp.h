#pragma once
// Automatic mixed precision: autocast regions and dynamic loss scaling (torch.cuda.amp / torch.autocast
// equivalents, which LibTorch 1.13's C++ frontend does not wrap).
#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include <string>
#include <vector>

namespace attnzoo::train {

/// Parses an --amp value: "" / "off" (disabled), "bf16" / "bfloat16", "fp16" / "float16". fp16 is CUDA only.
at::ScalarType amp_dtype(const std::string& value, const c10::Device& device);

/// Enables autocast to `dtype` on `device`'s type for its lifetime (no-op when dtype is Undefined):
/// matmuls / convs / linears run in the low precision, reductions and losses stay float32.
class AutocastGuard {
 public:
  AutocastGuard(const c10::Device& device, at::ScalarType dtype);
  ~AutocastGuard();
  AutocastGuard(const AutocastGuard&) = delete;
  AutocastGuard& operator=(const AutocastGuard&) = delete;

 private:
  bool active_ = false, prev_enabled_ = false;
  c10::DeviceType device_type_ = c10::DeviceType::CPU;
  at::ScalarType prev_dtype_ = at::ScalarType::Undefined;
};

/// Dynamic loss scaling for fp16 (GradScaler): scale the loss, unscale the gradients, skip the update and
/// halve the scale on inf/NaN gradients, double it after `growth_interval` clean steps.
class GradScaler {
 public:
  explicit GradScaler(bool enabled, double init_scale = 65536.0, int64_t growth_interval = 2000)
      : enabled_(enabled), scale_(init_scale), growth_interval_(growth_interval) {}
  bool enabled() const { return enabled_; }
  double scale() const { return scale_; }
  at::Tensor scale_loss(const at::Tensor& loss) const { return enabled_ ? loss * scale_ : loss; }
  /// Divides the gradients by the scale; returns false (and shrinks the scale) when any is not finite:
  /// the caller then skips the optimizer step.
  bool unscale_and_check(const std::vector<at::Tensor>& params);

 private:
  bool enabled_;
  double scale_;
  int64_t growth_interval_, good_steps_ = 0;
};

}  // namespace attnzoo::train
