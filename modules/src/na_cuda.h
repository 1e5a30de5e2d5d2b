#pragma once
// The CUDA kernels of neighborhood attention (na_kernel.cu), reached through a table that the CUDA
// translation unit fills in when attnzoo is built against a CUDA LibTorch: na_kernel.cpp stays free of CUDA
// headers and of #ifs, and a CPU-only build simply has no table (CUDA tensors then take the ATen path).
#include <ATen/core/Tensor.h>

namespace attnzoo::modules {

/// Per-axis neighbour (-1: none) and bias indices as int64 device tensors: rows [H, kh], cols [W, kw].
struct NAIndex {
  at::Tensor row_nbr, row_pb, col_nbr, col_pb;
  int64_t kh = 1, kw = 1;
};

/// Outputs and gradients are allocated by the caller (zero-filled where the kernel accumulates: gk, grpb, gv).
/// q, k, v, attn, g, go: contiguous [B, heads, H, W, d | kh*kw] of one floating dtype on one CUDA device.
struct NACudaKernels {
  void (*qk_forward)(const at::Tensor& q, const at::Tensor& k, const at::Tensor& rpb, const NAIndex& ix, at::Tensor& out);
  void (*qk_backward)(const at::Tensor& g, const at::Tensor& q, const at::Tensor& k, const NAIndex& ix, at::Tensor& gq,
                      at::Tensor& gk, at::Tensor& grpb);
  void (*av_forward)(const at::Tensor& attn, const at::Tensor& v, const NAIndex& ix, at::Tensor& out);
  void (*av_backward)(const at::Tensor& go, const at::Tensor& attn, const at::Tensor& v, const NAIndex& ix,
                      at::Tensor& gattn, at::Tensor& gv);
};

/// nullptr unless this build has the CUDA kernels.
const NACudaKernels*& na_cuda_kernels();

}  // namespace attnzoo::modules
