#pragma once
// Options of SGConv, structured global convolution (Li et al., "What Makes Convolutional Models Great on Long
// Sequence Modeling?", ICLR 2023, arXiv 2210.09298), official code ctlllll/SGConv gconv_standalone.py GConv.
#include <attnzoo/core/args.h>

#include <torch/arg.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace attnzoo::modules {

/// The pointwise activation between the convolution and the output linear (gconv_standalone.Activation).
enum class GConvActivation { Identity, Tanh, ReLU, GELU, SiLU, Sigmoid };
inline const std::vector<std::pair<std::string, GConvActivation>> kGConvActivationNames = {
    {"id", GConvActivation::Identity}, {"identity", GConvActivation::Identity}, {"linear", GConvActivation::Identity},
    {"tanh", GConvActivation::Tanh},   {"relu", GConvActivation::ReLU},         {"gelu", GConvActivation::GELU},
    {"swish", GConvActivation::SiLU},  {"silu", GConvActivation::SiLU},         {"sigmoid", GConvActivation::Sigmoid}};

/// The activation after the output linear: none, or GLU (the linear then has 2 * d_model outputs).
enum class GConvPostAct { None, GLU };
inline const std::vector<std::pair<std::string, GConvPostAct>> kGConvPostActNames = {{"none", GConvPostAct::None},
                                                                                     {"glu", GConvPostAct::GLU}};

/// GConv: a global convolution over the whole sequence (FFT, length 2L) whose kernel is built from num_scales
/// sub-kernels of kernel_dim taps, sub-kernel i upsampled by 2^max(0, i-1) and weighted by
/// multiplier^(num_scales - i - 1) (decay_min..decay_max over the channels), normalised by its norm at the first
/// forward; + D skip, activation, optional norm, output linear. Keys D, [decay], multiplier, kernel_norm,
/// kernel_norm_initialized, [norm.norm.*], output_linear(.0).{weight,bias}, kernel_list.{i}.
struct GConvOptions {
  explicit GConvOptions(int64_t d_model) : d_model_(d_model) {}
  TORCH_ARG(int64_t, d_model);
  TORCH_ARG(int64_t, d_state) = 64;  // unused by the computation, as in the official code
  TORCH_ARG(int64_t, l_max) = 1;     // sets the default num_scales
  TORCH_ARG(int64_t, channels) = 1;
  TORCH_ARG(bool, bidirectional) = false;
  TORCH_ARG(GConvActivation, activation) = GConvActivation::GELU;
  TORCH_ARG(bool, ln) = false;
  TORCH_ARG(GConvPostAct, postact) = GConvPostAct::None;
  TORCH_ARG(double, dropout) = 0.0;
  TORCH_ARG(bool, transposed) = true;  // input (B, H, L); false: (B, L, H)
  TORCH_ARG(bool, linear) = false;     // the convolution alone (no activation, norm, output linear)
  /// 'cat' or 'sum' of the scales, 'randn' or 'cos' init, optional 'learnable' (+ 'fixed') decay, 'nearest'
  /// upsampling (else linear), e.g. "cat_randn".
  TORCH_ARG(std::string, mode) = "cat_randn";
  TORCH_ARG(int64_t, kernel_dim) = 64;
  TORCH_ARG(int64_t, n_scales) = 0;  // None: 1 + ceil(log2(l_max / kernel_dim)) - init_scale
  TORCH_ARG(int64_t, init_scale) = 0;
  TORCH_ARG(double, decay_min) = 2.0;
  TORCH_ARG(double, decay_max) = 2.0;
  /// The learning rate of the kernels and the learnable decay (the official `_optim` hint; attnzoo's trainers
  /// honour it through modules/optim_hints.h).
  TORCH_ARG(double, lr) = 0.001;
};

template <class V>
void visit_args(GConvOptions& o, V& v) {
  v.required("d_model", o.d_model());
  v.arg("d_state", o.d_state());
  v.arg("l_max", o.l_max());
  v.arg("channels", o.channels());
  v.arg("bidirectional", o.bidirectional());
  v.choice("activation", o.activation(), kGConvActivationNames);
  v.arg("ln", o.ln());
  v.choice("postact", o.postact(), kGConvPostActNames);
  v.fixed("initializer", nullptr);
  v.fixed("weight_norm", false);
  v.fixed("hyper_act", nullptr);
  v.arg("dropout", o.dropout());
  v.arg("transposed", o.transposed());
  v.ignored("verbose", false);
  v.ignored("shift", false);  // unused by the official forward
  v.arg("linear", o.linear());
  v.arg("mode", o.mode());
  v.arg("kernel_dim", o.kernel_dim());
  v.nullable("n_scales", o.n_scales(), int64_t{0});
  v.arg("init_scale", o.init_scale());
  v.arg("decay_min", o.decay_min());
  v.arg("decay_max", o.decay_max());
  v.arg("lr", o.lr());
}

}  // namespace attnzoo::modules
