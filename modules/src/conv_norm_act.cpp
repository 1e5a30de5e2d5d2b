#include <attnzoo/modules/conv_norm_act.h>

#include <attnzoo/modules/activation.h>

#include <torch/torch.h>

#include <cmath>
#include <stdexcept>

namespace attnzoo::modules {

namespace nn = torch::nn;

int64_t make_divisible(double v, int64_t divisor, int64_t min_value, double round_limit) {
  if (min_value <= 0) min_value = divisor;
  // int(v + divisor / 2) // divisor * divisor, as Python computes it for positive v.
  int64_t nv = static_cast<int64_t>(v + static_cast<double>(divisor) / 2.0) / divisor * divisor;
  nv = std::max(min_value, nv);
  if (static_cast<double>(nv) < round_limit * v) nv += divisor;
  return nv;
}

at::Tensor apply_activation(const at::Tensor& x, const std::string& act) {
  if (act == "relu") return torch::relu(x);
  if (act == "silu" || act == "swish") return torch::silu(x);
  if (act == "gelu") return modules::gelu(x);
  if (act == "gelu_tanh") return torch::gelu(x, "tanh");
  if (act == "tanh") return torch::tanh(x);
  if (act == "sigmoid") return torch::sigmoid(x);
  if (act == "identity" || act.empty()) return x;
  throw std::invalid_argument("unknown activation '" + act +
                              "' (known: relu, silu, swish, gelu, gelu_tanh, tanh, sigmoid, identity)");
}

void check_activation(const std::string& act, const std::string& owner) {
  static const char* known[] = {"relu", "silu", "swish", "gelu", "gelu_tanh", "tanh", "sigmoid", "identity", ""};
  for (const char* k : known)
    if (act == k) return;
  throw std::invalid_argument(owner + ": unknown act_layer '" + act +
                              "' (known: relu, silu, swish, gelu, gelu_tanh, tanh, sigmoid, identity)");
}

ConvNormActImpl::ConvNormActImpl(const ConvNormActOptions& options_) : options(options_) {
  check_activation(options.act_layer(), "ConvNormAct");
  reset();
}

void ConvNormActImpl::reset() {
  const auto& o = options;
  TORCH_CHECK(o.in_channels() % o.groups() == 0 && o.out_channels() % o.groups() == 0, "ConvNormAct: channels ",
              o.in_channels(), " -> ", o.out_channels(), " not divisible by groups ", o.groups());
  TORCH_CHECK(o.kernel_size() >= 1, "ConvNormAct: kernel_size must be at least 1, got ", o.kernel_size());
  const int64_t pad = ((o.stride() - 1) + o.dilation() * (o.kernel_size() - 1)) / 2;
  conv = register_module("conv", nn::Conv2d(nn::Conv2dOptions(o.in_channels(), o.out_channels(), o.kernel_size())
                                                 .stride(o.stride())
                                                 .padding(pad)
                                                 .dilation(o.dilation())
                                                 .groups(o.groups())
                                                 .bias(o.bias())));
  bn = register_module("bn", BatchNorm2d(o.out_channels()));
}

at::Tensor ConvNormActImpl::forward(const at::Tensor& x) {
  at::Tensor y = bn(conv(x));
  return options.apply_act() ? apply_activation(y, options.act_layer()) : y;
}

BatchNormAct2dImpl::BatchNormAct2dImpl(const BatchNormAct2dOptions& options_) : options(options_) {
  check_activation(options.act_layer(), "BatchNormAct2d");
  reset();
}

void BatchNormAct2dImpl::reset() {
  const int64_t num_features = options.num_features();
  weight = register_parameter("weight", torch::ones({num_features}));
  bias = register_parameter("bias", torch::zeros({num_features}));
  running_mean = register_buffer("running_mean", torch::zeros({num_features}));
  running_var = register_buffer("running_var", torch::ones({num_features}));
  num_batches_tracked = register_buffer("num_batches_tracked", torch::zeros({}, torch::kLong));
}

void BatchNormAct2dImpl::pretty_print(std::ostream& os) const {
  os << "attnzoo::BatchNormAct2d(" << options.num_features() << ", act_layer=" << options.act_layer() << ")";
}

at::Tensor BatchNormAct2dImpl::forward(const at::Tensor& x) {
  const int64_t num_features = options.num_features();
  TORCH_CHECK(x.dim() == 4 && x.size(1) == num_features, "BatchNormAct2d: expected input [B, ", num_features,
              ", H, W], got ", x.sizes());
  at::Tensor y = batch_norm(x, weight, bias, running_mean, running_var, num_batches_tracked, is_training(), options.momentum(),
                            options.eps());  // synchronised inside a SyncBatchNormScope
  return apply_activation(y, options.act_layer());
}

}  // namespace attnzoo::modules
