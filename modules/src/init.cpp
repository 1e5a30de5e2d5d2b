#include <attnzoo/modules/init.h>

#include <torch/torch.h>

#include <cmath>

namespace attnzoo::modules {

void trunc_normal_(at::Tensor& t, double std, double mean, double a, double b) {
  torch::NoGradGuard ng;
  t.normal_(mean, std);
  // Resample the (rare) values outside [a, b] until none is left.
  for (int round = 0; round < 100; ++round) {
    auto out = (t < a).logical_or(t > b);
    const int64_t n = out.sum().item<int64_t>();
    if (n == 0) return;
    t.masked_scatter_(out, torch::empty({n}, t.options()).normal_(mean, std));
  }
  t.clamp_(a, b);
}

void init_vit_weights(torch::nn::Module& root, bool conv_fan_out) {
  torch::NoGradGuard ng;
  // include_self=false: this runs inside constructors, before the module is owned by a shared_ptr.
  for (auto& m : root.modules(/*include_self=*/false)) {
    if (auto* lin = m->as<torch::nn::Linear>()) {
      trunc_normal_(lin->weight, 0.02);
      if (lin->bias.defined()) lin->bias.zero_();
    } else if (auto* ln = m->as<torch::nn::LayerNorm>()) {
      if (ln->weight.defined()) ln->weight.fill_(1.0);
      if (ln->bias.defined()) ln->bias.zero_();
    } else if (auto* conv = m->as<torch::nn::Conv2d>()) {
      if (!conv_fan_out) continue;
      const auto& k = conv->options.kernel_size();
      const double fan_out = static_cast<double>(k->at(0) * k->at(1) * conv->options.out_channels()) /
                             static_cast<double>(conv->options.groups());
      conv->weight.normal_(0.0, std::sqrt(2.0 / fan_out));
      if (conv->bias.defined()) conv->bias.zero_();
    }
  }
}

}  // namespace attnzoo::modules
