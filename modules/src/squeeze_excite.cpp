#include <attnzoo/modules/squeeze_excite.h>

#include <attnzoo/modules/conv_norm_act.h>

#include <cmath>

namespace attnzoo::modules {

namespace nn = torch::nn;

SEModuleImpl::SEModuleImpl(const SEModuleOptions& options_) : options(options_) {
  check_activation(options.act_layer(), "SEModule");
  reset();
}

void SEModuleImpl::reset() {
  const int64_t c = options.channels();
  // timm: make_divisible(channels * rd_ratio, rd_divisor, round_limit=0.), i.e. never rounded up.
  const int64_t rd = options.rd_channels() > 0
                         ? options.rd_channels()
                         : make_divisible(static_cast<double>(c) * options.rd_ratio(), options.rd_divisor(), 0, 0.0);
  fc1 = register_module("fc1", nn::Conv2d(nn::Conv2dOptions(c, rd, 1).bias(options.bias())));
  fc2 = register_module("fc2", nn::Conv2d(nn::Conv2dOptions(rd, c, 1).bias(options.bias())));
}

at::Tensor SEModuleImpl::forward(const at::Tensor& x) {
  TORCH_CHECK(x.dim() == 4 && x.size(1) == options.channels(), "SEModule: expected input [B, ", options.channels(),
              ", H, W], got ", x.sizes());
  at::Tensor s = x.mean({2, 3}, /*keepdim=*/true);
  s = fc2(apply_activation(fc1(s), options.act_layer()));
  return x * torch::sigmoid(s);
}

EcaModuleImpl::EcaModuleImpl(const EcaModuleOptions& options_) : options(options_) { reset(); }

int64_t EcaModuleImpl::kernel_size() const {
  if (options.kernel_size() > 0) return options.kernel_size();
  // math.log(channels, 2) is log(c) / log(2) in Python; same expression, same rounding.
  const auto t = static_cast<int64_t>(
      std::abs(std::log(static_cast<double>(options.channels())) / std::log(2.0) + options.beta()) / options.gamma());
  return std::max<int64_t>(t % 2 ? t : t + 1, 3);
}

void EcaModuleImpl::reset() {
  const int64_t k = kernel_size();
  TORCH_CHECK(k % 2 == 1, "EcaModule: kernel_size must be odd, got ", k);
  conv = register_module("conv", nn::Conv1d(nn::Conv1dOptions(1, 1, k).padding((k - 1) / 2).bias(false)));
}

at::Tensor EcaModuleImpl::forward(const at::Tensor& x) {
  TORCH_CHECK(x.dim() == 4 && x.size(1) == options.channels(), "EcaModule: expected input [B, ", options.channels(),
              ", H, W], got ", x.sizes());
  at::Tensor y = x.mean({2, 3}).view({x.size(0), 1, -1});
  y = torch::sigmoid(conv(y)).view({x.size(0), -1, 1, 1});
  return x * y;
}

}  // namespace attnzoo::modules
