#include <attnzoo/modules/sgconv.h>

#include <attnzoo/modules/module_registry.h>

#include <torch/fft.h>
#include <torch/torch.h>

#include <cmath>

#include "module_entry.h"

namespace attnzoo::modules {

namespace nn = torch::nn;
namespace F = torch::nn::functional;

void TransposedLinearImpl::reset() {
  weight = register_parameter("weight", torch::empty({d_output, d_input}));
  bias = register_parameter("bias", torch::empty({d_output}));
  // nn.Linear's default init, as the official class does by hand.
  nn::init::kaiming_uniform_(weight, std::sqrt(5.0));
  const double bound = 1.0 / std::sqrt(static_cast<double>(d_input));
  nn::init::uniform_(bias, -bound, bound);
}

at::Tensor TransposedLinearImpl::forward(const at::Tensor& x) {
  auto out_shape = x.sizes().vec();
  out_shape[1] = d_output;
  std::vector<int64_t> bias_shape(static_cast<size_t>(x.dim() - 1), 1);
  bias_shape[0] = d_output;
  return torch::matmul(weight, x.flatten(2)).view(out_shape) + bias.view(bias_shape);
}

void TransposedLNImpl::reset() {
  m = register_parameter("m", torch::zeros({1}));
  s = register_parameter("s", torch::ones({1}));
}

at::Tensor TransposedLNImpl::forward(const at::Tensor& x) {
  const auto [std, mean] = torch::std_mean(x, {1}, /*unbiased=*/false, /*keepdim=*/true);
  return (s / std) * (x - mean + m);
}

GConvImpl::GConvImpl(const GConvOptions& o) : options(o) { reset(); }

void GConvImpl::reset() {
  const int64_t H = options.d_model(), C = options.channels(), kd = options.kernel_dim();
  TORCH_CHECK(H > 0 && C > 0 && kd > 0, "GConv: d_model, channels and kernel_dim must be positive");
  TORCH_CHECK(has_mode("cat") || has_mode("sum"), "GConv: mode '", options.mode(), "' has neither 'cat' nor 'sum'");
  TORCH_CHECK(has_mode("randn") || has_mode("cos"), "GConv: mode '", options.mode(), "' has neither 'randn' nor 'cos'");
  num_scales = options.n_scales() > 0
                   ? options.n_scales()
                   : 1 + static_cast<int64_t>(std::ceil(std::log2(static_cast<double>(options.l_max()) / static_cast<double>(kd)))) -
                         options.init_scale();
  TORCH_CHECK(num_scales >= 1, "GConv: ", num_scales, " scales (l_max ", options.l_max(), " < kernel_dim ", kd,
              "): give l_max or n_scales");
  kernel_channels = C * (options.bidirectional() ? 2 : 1);
  // Registration order = the official state_dict order: own parameters (D, decay), own buffers, then children.
  D = register_parameter("D", torch::randn({C, H}));
  if (has_mode("learnable")) {
    decay = register_parameter("decay", torch::rand({H}) * (options.decay_max() - options.decay_min()) + options.decay_min(),
                               /*requires_grad=*/!has_mode("fixed"));
    multiplier = register_buffer("multiplier", torch::tensor(1.0));
  } else {
    multiplier = register_buffer("multiplier", torch::linspace(options.decay_min(), options.decay_max(), H).view({1, -1, 1}));
  }
  kernel_norm = register_buffer("kernel_norm", torch::ones({kernel_channels, H, 1}));
  kernel_norm_initialized = register_buffer("kernel_norm_initialized", torch::tensor(false));
  if (!options.linear()) {
    dropout = register_module("dropout", nn::Dropout(options.dropout()));
    if (options.ln()) {
      norm = std::make_shared<nn::Module>("Normalization");
      if (options.transposed())
        norm->register_module("norm", TransposedLN());
      else
        norm->register_module("norm", nn::LayerNorm(nn::LayerNormOptions({H * C})));
      register_module("norm", norm);
    }
    const int64_t out = H * (options.postact() == GConvPostAct::GLU ? 2 : 1);
    std::shared_ptr<nn::Module> linear = options.transposed() ? std::shared_ptr<nn::Module>(TransposedLinear(H * C, out).ptr())
                                                              : std::shared_ptr<nn::Module>(nn::Linear(H * C, out).ptr());
    if (options.postact() == GConvPostAct::GLU) {  // nn.Sequential(linear, GLU): the linear is output_linear.0
      output_linear = std::make_shared<nn::Module>("Sequential");
      output_linear->register_module("0", linear);
    } else {
      output_linear = linear;
    }
    register_module("output_linear", output_linear);
  }
  kernel_list = register_module("kernel_list", nn::ParameterList());
  for (int64_t i = 0; i < num_scales; ++i) {
    at::Tensor k;
    if (has_mode("randn")) {
      k = torch::randn({kernel_channels, H, kd});
    } else {  // 'cos': channel h starts as cos over h periods, channels shuffled
      std::vector<at::Tensor> rows;
      for (int64_t h = 0; h < H; ++h)
        rows.push_back(torch::cos(torch::linspace(0, 2.0 * h * M_PI, kd)).expand({kernel_channels, 1, kd}));
      k = torch::cat(rows, 1).index_select(1, torch::randperm(H));
    }
    kernel_list->append(k.requires_grad_());  // ParameterList keeps the tensor's requires_grad
  }
}

at::Tensor GConvImpl::kernel(int64_t L) {
  const int64_t ns = num_scales, init = options.init_scale(), kd = options.kernel_dim();
  const auto mode = has_mode("nearest") ? F::InterpolateFuncOptions().mode(torch::kNearest)
                                        : F::InterpolateFuncOptions().mode(torch::kLinear).align_corners(false);
  auto upsample = [&](const at::Tensor& t, int64_t scale_log2) {
    if (scale_log2 == 0) return t;  // the identity (linear with scale 1 reads every tap in place)
    return F::interpolate(t, F::InterpolateFuncOptions(mode).scale_factor(std::vector<double>{std::ldexp(1.0, static_cast<int>(scale_log2))}));
  };
  std::vector<at::Tensor> parts;
  for (int64_t i = 0; i < ns; ++i) {
    const at::Tensor weight = multiplier.pow(ns - i - 1);
    const at::Tensor& sub = kernel_list[static_cast<size_t>(i)];
    if (has_mode("sum")) {
      const int64_t total = kd << (ns - 1 + init), own = kd << (i + init);
      parts.push_back(F::pad(upsample(sub, i + init), F::PadFuncOptions({0, total - own})) * weight);
    } else {
      parts.push_back(upsample(sub, std::max<int64_t>(0, i - 1) + init) * weight);
    }
  }
  at::Tensor k;
  if (has_mode("sum")) {
    k = parts[0];
    for (size_t i = 1; i < parts.size(); ++i) k = k + parts[i];
  } else {
    k = torch::cat(parts, -1);
  }
  if (decay.defined())
    k = k * torch::exp(-decay.view({1, -1, 1}) * torch::log(torch::arange(k.size(-1), k.options()) + 1).view({1, 1, -1}));
  if (!kernel_norm_initialized.item<bool>()) {
    torch::NoGradGuard ng;
    kernel_norm.copy_(k.norm(2, {-1}, true));
    kernel_norm_initialized.fill_(true);
  }
  k = k.size(-1) >= L ? k.narrow(-1, 0, L) : F::pad(k, F::PadFuncOptions({0, L - k.size(-1)}));
  k = k / kernel_norm;
  if (options.bidirectional()) {
    const int64_t half = kernel_channels / 2;
    k = F::pad(k.narrow(0, 0, half), F::PadFuncOptions({0, L})) + F::pad(k.narrow(0, half, half).flip({-1}), F::PadFuncOptions({L, 0}));
  }
  return k;
}

std::vector<ParameterLrHint> GConvImpl::parameter_lr_hints() const {
  std::vector<ParameterLrHint> out;
  for (size_t i = 0; i < kernel_list->size(); ++i) out.push_back({"kernel_list." + std::to_string(i), options.lr()});
  if (decay.defined() && decay.requires_grad()) out.push_back({"decay", options.lr()});
  return out;
}

at::Tensor GConvImpl::convolve(const at::Tensor& u, const at::Tensor& k) {
  const int64_t B = u.size(0), H = u.size(1), L = u.size(2), C = options.channels();
  const at::Tensor k_f = torch::fft::rfft(k, 2 * L), u_f = torch::fft::rfft(u, 2 * L);
  at::Tensor y = torch::fft::irfft(u_f.unsqueeze(1) * k_f.unsqueeze(0), 2 * L).narrow(-1, 0, L);  // (B, C, H, L)
  y = y + u.unsqueeze(1) * D.view({1, C, H, 1});
  return y.reshape({B, C * H, L});
}

at::Tensor GConvImpl::apply_output_linear(const at::Tensor& y) {
  nn::Module& lin = options.postact() == GConvPostAct::GLU ? *output_linear->named_children()["0"] : *output_linear;
  const at::Tensor z = options.transposed() ? lin.as<TransposedLinear>()->forward(y) : lin.as<nn::Linear>()->forward(y);
  return options.postact() == GConvPostAct::GLU ? F::glu(z, F::GLUFuncOptions(options.transposed() ? 1 : -1)) : z;
}

at::Tensor GConvImpl::forward(const at::Tensor& input, const at::Tensor& mask) {
  const int64_t H = options.d_model();
  TORCH_CHECK(input.dim() == 3 && input.size(options.transposed() ? 1 : 2) == H, "GConv: expected ",
              options.transposed() ? "(B, H, L)" : "(B, L, H)", " with H = ", H, ", got ", input.sizes());
  at::Tensor u = options.transposed() ? input : input.transpose(-1, -2);
  const int64_t B = u.size(0), L = u.size(2);
  if (mask.defined()) {
    TORCH_CHECK(mask.dim() == 2 && mask.size(0) == B && mask.size(1) == L && mask.scalar_type() == at::kBool,
                "GConv: key padding mask must be bool [", B, ", ", L, "], got ", mask.sizes());
    u = u.masked_fill(mask.view({B, 1, L}), 0.0);
  }
  at::Tensor y = convolve(u, kernel(L));
  if (!options.linear()) {
    switch (options.activation()) {
      case GConvActivation::Identity: break;
      case GConvActivation::Tanh: y = torch::tanh(y); break;
      case GConvActivation::ReLU: y = torch::relu(y); break;
      case GConvActivation::GELU: y = torch::gelu(y); break;
      case GConvActivation::SiLU: y = torch::silu(y); break;
      case GConvActivation::Sigmoid: y = torch::sigmoid(y); break;
    }
    y = dropout(y);
  }
  if (!options.transposed()) y = y.transpose(-1, -2);
  if (!options.linear()) {
    if (norm) {
      auto inner = norm->named_children()["norm"];
      y = options.transposed() ? inner->as<TransposedLN>()->forward(y) : inner->as<nn::LayerNorm>()->forward(y);
    }
    y = apply_output_linear(y);
  }
  if (mask.defined()) y = y.masked_fill(options.transposed() ? mask.view({B, 1, L}) : mask.view({B, L, 1}), 0.0);
  return y;
}

void register_sgconv_modules(ModuleEntries& e) {
  e.push_back(module_entry<GConv>("sgconv", "GConv", "attnzoo::modules::GConv",
                                  "structured global convolution: multi-scale decaying kernel, FFT convolution (O(L log L))",
                                  GConvOptions(0), MaskedForward{}));
}

}  // namespace attnzoo::modules
