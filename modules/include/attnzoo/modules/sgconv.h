#pragma once
// SGConv, structured global convolution (ctlllll/SGConv gconv_standalone.py): GConv, and its pieces
// TransposedLinear / TransposedLN. GConv's forward returns (y, kernel) as the official one does with
// return_kernel; forward(x, mask) is attnzoo's 1-D form for sequence backbones (key padding mask: padded tokens are
// zeroed before the convolution and in the output).
#include <attnzoo/modules/optim_hints.h>
#include <attnzoo/modules/options/sgconv.h>
#include <attnzoo/modules/pretty_print.h>

#include <torch/nn/cloneable.h>
#include <torch/nn/modules/container/parameterlist.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/dropout.h>
#include <torch/nn/modules/normalization.h>
#include <torch/nn/pimpl.h>

#include <utility>

namespace attnzoo::modules {

/// Linear over dim 1 of (B, D, L...): weight [d_output, d_input], bias [d_output].
class TransposedLinearImpl : public torch::nn::Cloneable<TransposedLinearImpl> {
 public:
  TransposedLinearImpl(int64_t d_input, int64_t d_output) : d_input(d_input), d_output(d_output) { reset(); }
  void reset() override;
  at::Tensor forward(const at::Tensor& x);
  int64_t d_input, d_output;
  at::Tensor weight, bias;
};
TORCH_MODULE(TransposedLinear);

/// The scalar LayerNorm over dim 1 of (B, D, L): (s / std) * (x - mean + m). Keys m, s.
class TransposedLNImpl : public torch::nn::Cloneable<TransposedLNImpl> {
 public:
  TransposedLNImpl() { reset(); }
  void reset() override;
  at::Tensor forward(const at::Tensor& x);
  at::Tensor m, s;
};
TORCH_MODULE(TransposedLN);

class GConvImpl : public torch::nn::Cloneable<GConvImpl>, public ParameterHints {
 public:
  explicit GConvImpl(const GConvOptions& options);
  explicit GConvImpl(int64_t d_model) : GConvImpl(GConvOptions(d_model)) {}
  void reset() override;
  void pretty_print(std::ostream& os) const override { print_options(os, "attnzoo::GConv", options); }
  /// u (B, H, L) (transposed) or (B, L, H) -> the same shape.
  at::Tensor forward(const at::Tensor& u, const at::Tensor& mask = {});
  /// The convolution kernel for length L, (channels [x2 bidirectional], H, L [2L bidirectional]), normalised; the
  /// first call (training or not) records the norm of the composed kernel, as the official forward does.
  at::Tensor kernel(int64_t L);
  /// The global convolution (FFT) of u (B, H, L) with kernel(L) plus the D skip: (B, C * H, L).
  at::Tensor convolve(const at::Tensor& u, const at::Tensor& k);
  /// kernel_list.{i} and a trainable decay at options.lr.
  std::vector<ParameterLrHint> parameter_lr_hints() const override;

  GConvOptions options;
  int64_t num_scales = 0, kernel_channels = 0;
  at::Tensor D, decay, multiplier, kernel_norm, kernel_norm_initialized;
  torch::nn::Dropout dropout{nullptr};
  std::shared_ptr<torch::nn::Module> norm;  // TransposedLN (under norm.norm) or LayerNorm; null without ln
  std::shared_ptr<torch::nn::Module> output_linear;
  torch::nn::ParameterList kernel_list{nullptr};

 private:
  bool has_mode(const char* word) const { return options.mode().find(word) != std::string::npos; }
  at::Tensor apply_output_linear(const at::Tensor& y);
};
TORCH_MODULE(GConv);

}  // namespace attnzoo::modules
