#pragma once
// Depthwise 2-D convolution (groups = channels, stride 1) on our own CPU kernels, with the ATen
// composition kept beside it as the reference.
//
// LibTorch's CPU depthwise path (oneDNN, reordering plain tensors on every call) reaches a few GFLOP/s
// on the maps of VAN, BiFormer, DaViT, LITv2 and Agent attention. The kernels (forward + backward,
// float32/float64, NCHW or channels-last input) skip the taps that only read zero padding: on small maps
// a large or dilated kernel mostly overlaps the padding (VAN's 7x7 dilation-3 kernel on a 2x2 map keeps
// only its centre tap). Other dtypes, devices and strides use the reference.
#include <ATen/core/Tensor.h>

#include <array>

namespace torch::nn {
class Conv2dImpl;
}

namespace attnzoo::modules {

/// Same result as conv2d(x, weight, bias, stride 1, padding, dilation, groups = channels), differentiable
/// in x, weight and bias. weight: [C, 1, kh, kw]. The output keeps x's memory format. Runs the kernels
/// where they were measured faster than oneDNN (bench/README.md), the reference elsewhere.
at::Tensor depthwise_conv2d(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias,
                            std::array<int64_t, 2> padding, std::array<int64_t, 2> dilation);

/// The kernels, always (CPU, float32/float64; throws otherwise): for tests and benchmarks.
at::Tensor depthwise_conv2d_kernel(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias,
                                   std::array<int64_t, 2> padding, std::array<int64_t, 2> dilation);

/// A registered nn::Conv2d that is depthwise (groups == in == out channels, stride 1, numeric padding)
/// runs on depthwise_conv2d; any other conv runs its own forward. Keeps the official module (and its
/// state_dict keys) while replacing how it computes.
at::Tensor depthwise_conv2d(const at::Tensor& x, torch::nn::Conv2dImpl& conv);

/// The reference: ATen's conv2d with the taps that only read padding dropped (exact).
at::Tensor depthwise_conv2d_reference(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias,
                                      std::array<int64_t, 2> padding, std::array<int64_t, 2> dilation);

}  // namespace attnzoo::modules
