#pragma once
// UniRepLKNet (AILab-CVC/UniRepLKNet unireplknet.py), one class per official class:
//  - GRN                  `GRNwithNHWC`
//  - SEBlock              squeeze-excite with `down` / `up` 1x1 convs
//  - DilatedReparamBlock  large depthwise kernel + parallel dilated branches; merge_dilated_branches() folds them
//  - UniRepLKNetBlock     the block; reparameterize() folds every BN, the layer scale and the GRN bias
//  - DilatedReparamBlock1D  attnzoo's 1-D form (sequences, time series; `replk` sequence attention)
// The re-parameterisations give the same outputs as the training form (eval mode) to float64 rounding.
#include <attnzoo/modules/batch_norm.h>
#include <attnzoo/modules/drop_path.h>
#include <attnzoo/modules/options/unireplknet.h>
#include <attnzoo/modules/pretty_print.h>

#include <torch/nn/cloneable.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

#include <utility>

namespace attnzoo::modules {

class GRNImpl : public torch::nn::Cloneable<GRNImpl> {
 public:
  explicit GRNImpl(const GRNOptions& options) : options(options) { reset(); }
  explicit GRNImpl(int64_t dim) : GRNImpl(GRNOptions(dim)) {}
  void reset() override;
  void pretty_print(std::ostream& os) const override { print_options(os, "attnzoo::GRN", options); }
  /// x [B, H, W, C].
  at::Tensor forward(const at::Tensor& x);
  /// Drops beta (reparameterisation moves it into the next linear).
  void remove_bias();

  GRNOptions options;
  at::Tensor gamma, beta;
};
TORCH_MODULE(GRN);

class SEBlockImpl : public torch::nn::Cloneable<SEBlockImpl> {
 public:
  explicit SEBlockImpl(const SEBlockOptions& options) : options(options) { reset(); }
  SEBlockImpl(int64_t input_channels, int64_t internal_neurons) : SEBlockImpl(SEBlockOptions(input_channels, internal_neurons)) {}
  void reset() override;
  void pretty_print(std::ostream& os) const override { print_options(os, "attnzoo::SEBlock", options); }
  at::Tensor forward(const at::Tensor& x);

  SEBlockOptions options;
  torch::nn::Conv2d down{nullptr}, up{nullptr};
};
TORCH_MODULE(SEBlock);

class DilatedReparamBlockImpl : public torch::nn::Cloneable<DilatedReparamBlockImpl> {
 public:
  explicit DilatedReparamBlockImpl(const DilatedReparamBlockOptions& options);
  DilatedReparamBlockImpl(int64_t channels, int64_t kernel_size)
      : DilatedReparamBlockImpl(DilatedReparamBlockOptions(channels, kernel_size)) {}
  void reset() override;
  void pretty_print(std::ostream& os) const override { print_options(os, "attnzoo::DilatedReparamBlock", options); }
  /// x [B, C, H, W].
  at::Tensor forward(const at::Tensor& x);
  /// Folds every branch and its BN into lk_origin (with bias); afterwards the block is the deploy form.
  void merge_dilated_branches();
  bool merged() const { return !origin_bn; }

  DilatedReparamBlockOptions options;
  torch::nn::Conv2d lk_origin{nullptr};
  BatchNorm2d origin_bn{nullptr};
  std::vector<std::pair<torch::nn::Conv2d, BatchNorm2d>> branches;
};
TORCH_MODULE(DilatedReparamBlock);

class UniRepLKNetBlockImpl : public torch::nn::Cloneable<UniRepLKNetBlockImpl> {
 public:
  explicit UniRepLKNetBlockImpl(const UniRepLKNetBlockOptions& options);
  UniRepLKNetBlockImpl(int64_t dim, int64_t kernel_size) : UniRepLKNetBlockImpl(UniRepLKNetBlockOptions(dim, kernel_size)) {}
  void reset() override;
  void pretty_print(std::ostream& os) const override { print_options(os, "attnzoo::UniRepLKNetBlock", options); }
  /// x [B, C, H, W].
  at::Tensor forward(const at::Tensor& x);
  /// The official reparameterize(): merged dilated branches, BNs folded into the convs / the second linear,
  /// the layer scale and the GRN bias folded into it too. Eval-mode outputs are unchanged.
  void reparameterize();

  UniRepLKNetBlockOptions options;
  at::Tensor gamma;
  DilatedReparamBlock dilated{nullptr};  // dwconv for kernel_size >= 7
  torch::nn::Conv2d dwconv{nullptr};     // dwconv for kernel_size 3 / 5
  BatchNorm2d norm{nullptr};
  SEBlock se{nullptr};
  torch::nn::Linear fc1{nullptr};        // pwconv1.1
  GRN grn{nullptr};                      // act.1
  torch::nn::Linear fc2{nullptr};        // pwconv2.0
  BatchNorm2d fc2_norm{nullptr};  // pwconv2.2
  DropPath drop_path{nullptr};

 private:
  std::shared_ptr<torch::nn::Module> pwconv2_;
};
TORCH_MODULE(UniRepLKNetBlock);

class DilatedReparamBlock1DImpl : public torch::nn::Cloneable<DilatedReparamBlock1DImpl> {
 public:
  explicit DilatedReparamBlock1DImpl(const DilatedReparamBlock1DOptions& options);
  DilatedReparamBlock1DImpl(int64_t channels, int64_t kernel_size)
      : DilatedReparamBlock1DImpl(DilatedReparamBlock1DOptions(channels, kernel_size)) {}
  void reset() override;
  void pretty_print(std::ostream& os) const override { print_options(os, "attnzoo::DilatedReparamBlock1D", options); }
  /// x [B, L, C], key padding mask [B, L] (true = padding): padded tokens are zeroed before the convolution and
  /// in the output.
  at::Tensor forward(const at::Tensor& x, const at::Tensor& mask = {});
  void merge_dilated_branches();
  bool merged() const { return !origin_bn; }

  DilatedReparamBlock1DOptions options;
  torch::nn::Conv1d lk_origin{nullptr};
  torch::nn::BatchNorm1d origin_bn{nullptr};
  std::vector<std::pair<torch::nn::Conv1d, torch::nn::BatchNorm1d>> branches;
};
TORCH_MODULE(DilatedReparamBlock1D);

/// fuse_bn: the conv weight and bias that equal conv followed by `bn` in eval mode (weight [C, 1, k...]).
std::pair<at::Tensor, at::Tensor> fuse_conv_bn(const at::Tensor& weight, const at::Tensor& bias, const at::Tensor& running_mean,
                                               const at::Tensor& running_var, const at::Tensor& bn_weight,
                                               const at::Tensor& bn_bias, double eps);
/// A depthwise kernel [C, 1, k...] with dilation r as the equivalent undilated kernel (zeros between the taps),
/// zero-padded (centred) to `size` taps per spatial dim.
at::Tensor undilate_kernel(const at::Tensor& kernel, int64_t r, int64_t size);

}  // namespace attnzoo::modules
