#pragma once
// Raw CPU kernels of the stride-1 depthwise 2-D convolution (private to attnzoo_modules); the autograd
// function and the dispatch live in depthwise.cpp. Pointers are to contiguous data: x [B, C, H, W]
// (NCHW) or [B, H, W, C] (NHWC), w [C, KH, KW], bias [C] or null, y / gy [B, C, Ho, Wo] or NHWC.
#include <cstdint>

namespace attnzoo::modules::kernels {

struct DepthwiseGeometry {
  int64_t B, C, H, W;    // input
  int64_t KH, KW;        // kernel
  int64_t ph, pw;        // zero padding
  int64_t dh, dw;        // dilation
  int64_t Ho, Wo;        // output (stride 1)
};

template <typename T>
void depthwise_forward(const DepthwiseGeometry& g, bool nhwc, const T* x, const T* w, const T* bias, T* y);

/// gx (may be null: not needed) is overwritten; gw (may be null) is overwritten with the weight gradient.
template <typename T>
void depthwise_backward(const DepthwiseGeometry& g, bool nhwc, const T* x, const T* w, const T* gy, T* gx, T* gw);

}  // namespace attnzoo::modules::kernels
