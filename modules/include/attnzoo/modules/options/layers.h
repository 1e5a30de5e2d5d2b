#pragma once
// Options of the shared layers (MLPs, patch embeddings).
#include <torch/arg.h>

#include <cstdint>

namespace attnzoo::modules {

/// fc1 (1x1 conv) -> depthwise 3x3 conv -> GELU -> dropout -> fc2 (1x1 conv) -> dropout, NCHW.
/// The MLP of VAN (and PVTv2-style models). `DWConvMlp m(DWConvMlpOptions(64).hidden_features(256));`
struct DWConvMlpOptions {
  explicit DWConvMlpOptions(int64_t in_features) : in_features_(in_features) {}
  TORCH_ARG(int64_t, in_features);
  /// 0 = in_features
  TORCH_ARG(int64_t, hidden_features) = 0;
  /// 0 = in_features
  TORCH_ARG(int64_t, out_features) = 0;
  TORCH_ARG(double, drop) = 0.0;
};

/// Overlapping patch embedding: conv(k, stride, padding k/2) -> BatchNorm2d, NCHW in and out (VAN).
struct OverlapPatchEmbedOptions {
  OverlapPatchEmbedOptions(int64_t in_chans, int64_t embed_dim) : in_chans_(in_chans), embed_dim_(embed_dim) {}
  TORCH_ARG(int64_t, in_chans);
  TORCH_ARG(int64_t, embed_dim);
  TORCH_ARG(int64_t, patch_size) = 7;
  TORCH_ARG(int64_t, stride) = 4;
};

}  // namespace attnzoo::modules
