#pragma once
// Activations that keep their speed on every dense layout.
#include <ATen/core/Tensor.h>

namespace attnzoo::modules {

/// Exact GELU (nn.GELU()), same values as at::gelu. A channels-last tensor runs on its contiguous NHWC
/// view: ATen 1.13's GELU is ~5x slower on channels-last strides than on a contiguous tensor of the same
/// size (measured on [128, 128, 7, 7] and [8, 256, 56, 56], bench/README.md), and VAN runs channels-last.
at::Tensor gelu(const at::Tensor& x);

/// Returns x viewed as [B, H, W, C] when x is a 4-D channels-last tensor that is not also plain
/// contiguous (the view is then contiguous), or an undefined tensor otherwise.
at::Tensor nhwc_view(const at::Tensor& x);

}  // namespace attnzoo::modules
