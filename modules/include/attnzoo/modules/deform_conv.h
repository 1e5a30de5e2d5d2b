#pragma once
// 2-D deformable convolution (Dai et al. 2017; v2 modulation mask, Zhu et al. 2019) with the semantics
// of torchvision.ops.deform_conv2d, written with differentiable ATen ops so autograd supplies the
// backward pass (input, offset, mask, weight, bias). TorchVision's C++ library is not packaged here.
// A sampling point outside (-1, H) x (-1, W) reads zero; so does a non-finite offset (torchvision's
// CPU kernel would crash on NaN), and huge offsets are handled without overflow.
#include <ATen/core/Tensor.h>

#include <array>

#include <torch/arg.h>
#include <torch/nn/cloneable.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/pimpl.h>

namespace attnzoo::modules {

/// input [B, C, H, W]; weight [Cout, C / groups, kh, kw]; offset [B, 2 * offset_groups * kh * kw, Ho, Wo]
/// (dy, dx per tap, taps row-major); mask (optional, undefined = none) [B, offset_groups * kh * kw, Ho, Wo];
/// bias optional.
at::Tensor deform_conv2d(const at::Tensor& input, const at::Tensor& weight, const at::Tensor& offset, const at::Tensor& mask,
                         const at::Tensor& bias, std::array<int64_t, 2> stride, std::array<int64_t, 2> padding,
                         std::array<int64_t, 2> dilation, int64_t groups = 1);

/// mmcv/LITv2 DeformConv2dPack: offsets predicted by `conv_offset` (zero-initialised, so the layer starts
/// as a plain conv). Keys: weight, bias, conv_offset.{weight,bias}.
struct DeformConv2dPackOptions {
  DeformConv2dPackOptions(int64_t in_channels, int64_t out_channels, int64_t kernel_size)
      : in_channels_(in_channels), out_channels_(out_channels), kernel_size_(kernel_size) {}
  TORCH_ARG(int64_t, in_channels);
  TORCH_ARG(int64_t, out_channels);
  TORCH_ARG(int64_t, kernel_size);
  TORCH_ARG(int64_t, stride) = 1;
  TORCH_ARG(int64_t, padding) = 0;
};

class DeformConv2dPackImpl : public torch::nn::Cloneable<DeformConv2dPackImpl> {
 public:
  explicit DeformConv2dPackImpl(const DeformConv2dPackOptions& options) : options(options) { reset(); }
  DeformConv2dPackImpl(int64_t in_channels, int64_t out_channels, int64_t kernel_size)
      : DeformConv2dPackImpl(DeformConv2dPackOptions(in_channels, out_channels, kernel_size)) {}
  void reset() override;
  void pretty_print(std::ostream& os) const override;
  at::Tensor forward(const at::Tensor& x);
  DeformConv2dPackOptions options;
  at::Tensor weight, bias;
  torch::nn::Conv2d conv_offset{nullptr};
};
TORCH_MODULE(DeformConv2dPack);

}  // namespace attnzoo::modules
