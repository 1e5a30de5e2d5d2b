#pragma once
// Options of UniRepLKNet's modules (Ding et al., "UniRepLKNet: A Universal Perception Large-Kernel ConvNet...",
// CVPR 2024, arXiv 2311.15599), official code AILab-CVC/UniRepLKNet unireplknet.py.
#include <attnzoo/core/args.h>

#include <torch/arg.h>

#include <cstdint>
#include <utility>
#include <vector>

namespace attnzoo::modules {

/// The parallel dilated branches (kernel size, dilation) of a DilatedReparamBlock with this large kernel
/// (unireplknet.py's table: 5, 7, 9, 11, 13, 15, 17). Throws for other sizes.
std::vector<std::pair<int64_t, int64_t>> dilated_reparam_branches(int64_t kernel_size);

/// GRNwithNHWC: global response normalisation on NHWC (ConvNeXt V2). Keys gamma, beta [1, 1, 1, dim].
struct GRNOptions {
  explicit GRNOptions(int64_t dim) : dim_(dim) {}
  TORCH_ARG(int64_t, dim);
  TORCH_ARG(bool, use_bias) = true;
};

template <class V>
void visit_args(GRNOptions& o, V& v) {
  v.required("dim", o.dim());
  v.arg("use_bias", o.use_bias());
}

/// SEBlock: squeeze (global average) -> down 1x1 conv -> ReLU -> up 1x1 conv -> sigmoid gate. Keys down, up.
struct SEBlockOptions {
  SEBlockOptions(int64_t input_channels, int64_t internal_neurons)
      : input_channels_(input_channels), internal_neurons_(internal_neurons) {}
  TORCH_ARG(int64_t, input_channels);
  TORCH_ARG(int64_t, internal_neurons);
};

template <class V>
void visit_args(SEBlockOptions& o, V& v) {
  v.required("input_channels", o.input_channels());
  v.required("internal_neurons", o.internal_neurons());
}

/// DilatedReparamBlock: a depthwise kernel_size conv + BN in parallel with depthwise dilated small-kernel conv +
/// BN branches (training form), which merge_dilated_branches() folds into one large depthwise conv with bias
/// (deploy form). Keys lk_origin, origin_bn, dil_conv_k{k}_{r}, dil_bn_k{k}_{r} (deploy: lk_origin with bias).
struct DilatedReparamBlockOptions {
  DilatedReparamBlockOptions(int64_t channels, int64_t kernel_size) : channels_(channels), kernel_size_(kernel_size) {}
  TORCH_ARG(int64_t, channels);
  TORCH_ARG(int64_t, kernel_size);
  TORCH_ARG(bool, deploy) = false;
};

template <class V>
void visit_args(DilatedReparamBlockOptions& o, V& v) {
  v.required("channels", o.channels());
  v.required("kernel_size", o.kernel_size());
  v.arg("deploy", o.deploy());
  v.fixed("use_sync_bn", false);
  v.ignored("attempt_use_lk_impl", true);  // the CUDA iGEMM kernel: same numbers
}

/// UniRepLKNetBlock: x + drop_path(gamma * pwconv2(GRN(GELU(pwconv1(SE(BN(dwconv(x)))))))). dwconv: none (0), a
/// depthwise 3 / 5 conv, or a DilatedReparamBlock (>= 7). Keys gamma, dwconv.*, norm, se.{down, up},
/// pwconv1.1, act.1.{gamma, beta}, pwconv2.{0, 2} (deploy: pwconv2.0 with bias, no norm / gamma / GRN beta).
struct UniRepLKNetBlockOptions {
  UniRepLKNetBlockOptions(int64_t dim, int64_t kernel_size) : dim_(dim), kernel_size_(kernel_size) {}
  TORCH_ARG(int64_t, dim);
  TORCH_ARG(int64_t, kernel_size);
  TORCH_ARG(double, drop_path) = 0.0;
  TORCH_ARG(double, layer_scale_init_value) = 1e-6;  // None / 0: no gamma
  TORCH_ARG(bool, deploy) = false;
  TORCH_ARG(double, ffn_factor) = 4.0;
};

template <class V>
void visit_args(UniRepLKNetBlockOptions& o, V& v) {
  v.required("dim", o.dim());
  v.required("kernel_size", o.kernel_size());
  v.arg("drop_path", o.drop_path());
  v.nullable("layer_scale_init_value", o.layer_scale_init_value(), 0.0);
  v.arg("deploy", o.deploy());
  v.ignored("attempt_use_lk_impl", true);
  v.ignored("with_cp", false);  // activation checkpointing: memory only
  v.fixed("use_sync_bn", false);
  v.arg("ffn_factor", o.ffn_factor());
}

/// attnzoo's 1-D form of the DilatedReparamBlock for sequences / time series: depthwise Conv1d large kernel + BN
/// with the same dilated branches (or merged), on x [B, L, C] with a key padding mask. Keys as the 2-D block.
struct DilatedReparamBlock1DOptions {
  DilatedReparamBlock1DOptions(int64_t channels, int64_t kernel_size) : channels_(channels), kernel_size_(kernel_size) {}
  TORCH_ARG(int64_t, channels);
  TORCH_ARG(int64_t, kernel_size);
  TORCH_ARG(bool, deploy) = false;
};

template <class V>
void visit_args(DilatedReparamBlock1DOptions& o, V& v) {
  v.required("channels", o.channels());
  v.required("kernel_size", o.kernel_size());
  v.arg("deploy", o.deploy());
}

}  // namespace attnzoo::modules
