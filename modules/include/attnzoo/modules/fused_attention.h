#pragma once
// Softmax attention, softmax((q k^T) * scale + bias) v, on attnzoo's own CPU kernel for the many small
// problems of window, head and agent attention, with the ATen composition kept beside it as the reference.
//
// ATen 1.13 computes q k^T for thousands of 49 x 32 windows as a batched GEMM that copies the transposed
// operand and calls BLAS once per matrix, then a separate softmax pass (1-10 GFLOP/s on this machine); the
// kernel keeps each problem in cache from the scores to the output (bench/README.md has the numbers).
// Forward and backward, float32/float64 on CPU; other dtypes and devices use the reference.
#include <ATen/core/Tensor.h>

namespace attnzoo::modules {

/// q [..., N, d], k [..., M, d], v [..., M, dv] with equal leading dims; bias (optional) broadcastable to
/// [..., N, M] (relative position biases, shift masks). Differentiable in q, k, v and bias. Runs the kernel
/// when attnzoo's kernels are on (modules/fast_kernels.h) and it supports the inputs (CPU), LibTorch's fused
/// SDPA for CUDA tensors on LibTorch 2.2+, the reference otherwise.
at::Tensor softmax_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, double scale,
                             const at::Tensor& bias = {});

/// The kernel, always (throws when it does not support the inputs): for tests and benchmarks.
at::Tensor softmax_attention_kernel(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, double scale,
                                    const at::Tensor& bias = {});

/// LibTorch's fused at::scaled_dot_product_attention (2.2+; the plain composition on 1.13), with the
/// leading dims flattened to the 4-D layout its fused kernels take. What softmax_attention runs on CUDA.
at::Tensor softmax_attention_sdpa(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, double scale,
                                  const at::Tensor& bias = {});

/// The reference: matmul, scale, add, softmax, matmul, in the official code's order.
at::Tensor softmax_attention_reference(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, double scale,
                                       const at::Tensor& bias = {});

}  // namespace attnzoo::modules
