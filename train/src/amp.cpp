#include <attnzoo/train/amp.h>

#include <attnzoo/torch_compat.h>

#include <ATen/autocast_mode.h>
#include <c10/core/impl/LocalDispatchKeySet.h>
#include <torch/library.h>
#include <torch/torch.h>

#include <mutex>
#include <stdexcept>

namespace attnzoo::train {

namespace {

// LibTorch 1.13's CPU autocast has no policy for layer_norm, whose CPU kernel then rejects a bf16 input
// with float32 weights. Run it in float32, as CUDA autocast does (and newer PyTorch on CPU).
at::Tensor layer_norm_autocast_cpu(const at::Tensor& input, at::IntArrayRef shape, const c10::optional<at::Tensor>& weight,
                                   const c10::optional<at::Tensor>& bias, double eps, bool cudnn) {
  c10::impl::ExcludeDispatchKeyGuard no_autocast(c10::DispatchKey::AutocastCPU);
  auto f = [](const c10::optional<at::Tensor>& t) -> c10::optional<at::Tensor> {
    return t.has_value() && t->defined() && t->is_floating_point() ? c10::optional<at::Tensor>(t->to(at::kFloat)) : t;
  };
  const at::Tensor x = input.is_floating_point() ? input.to(at::kFloat) : input;
  return at::layer_norm(x, shape, f(weight), f(bias), eps, cudnn);
}

void register_cpu_autocast_fixes() {
  static std::once_flag once;
  std::call_once(once, [] {
    static auto* lib = new torch::Library(torch::Library::IMPL, "aten", c10::DispatchKey::AutocastCPU, __FILE__, __LINE__);
    lib->impl("layer_norm", TORCH_FN(layer_norm_autocast_cpu));
  });
}

}  // namespace

at::ScalarType amp_dtype(const std::string& v, const c10::Device& device) {
  if (v.empty() || v == "off" || v == "false" || v == "none") return at::ScalarType::Undefined;
  if (v == "bf16" || v == "bfloat16" || v == "true" || v == "on") return at::kBFloat16;
  if (v == "fp16" || v == "float16") {
    if (!device.is_cuda()) throw std::invalid_argument("--amp fp16 needs --device cuda (use --amp bf16 on CPU)");
    return at::kHalf;
  }
  throw std::invalid_argument("--amp must be off, bf16 or fp16, got '" + v + "'");
}

AutocastGuard::AutocastGuard(const c10::Device& device, at::ScalarType dtype) {
  if (dtype == at::ScalarType::Undefined) return;
  active_ = true;
  device_type_ = device.type();
  if (!device.is_cuda()) register_cpu_autocast_fixes();
  prev_enabled_ = compat::autocast_enabled(device_type_);
  prev_dtype_ = compat::autocast_dtype(device_type_);
  compat::set_autocast_dtype(device_type_, dtype);
  compat::set_autocast_enabled(device_type_, true);
  at::autocast::increment_nesting();
}

AutocastGuard::~AutocastGuard() {
  if (!active_) return;
  // Leaving the outermost region frees the cached low-precision weight copies.
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
  compat::set_autocast_enabled(device_type_, prev_enabled_);
  compat::set_autocast_dtype(device_type_, prev_dtype_);
}

bool GradScaler::unscale_and_check(const std::vector<at::Tensor>& params) {
  if (!enabled_) return true;
  torch::NoGradGuard ng;
  bool finite = true;
  for (const auto& p : params) {
    if (!p.grad().defined()) continue;
    at::Tensor g = p.grad();
    g.div_(scale_);
    if (finite && !torch::isfinite(g).all().item<bool>()) finite = false;
  }
  if (!finite) {
    scale_ /= 2.0;
    good_steps_ = 0;
    return false;
  }
  if (++good_steps_ >= growth_interval_) {
    scale_ *= 2.0;
    good_steps_ = 0;
  }
  return true;
}

}  // namespace attnzoo::train
