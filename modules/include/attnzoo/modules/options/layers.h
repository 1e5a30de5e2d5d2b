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

/// fc1 (Linear) -> GELU -> dropout -> fc2 (Linear) -> dropout on [..., C] (timm Mlp).
/// Depthwise 3x3 conv (stride 1, padding 1, bias) under the key `dwconv`.
struct DWConvOptions {
  explicit DWConvOptions(int64_t dim) : dim_(dim) {}
  TORCH_ARG(int64_t, dim);
};

struct MlpOptions {
  explicit MlpOptions(int64_t in_features) : in_features_(in_features) {}
  TORCH_ARG(int64_t, in_features);
  TORCH_ARG(int64_t, hidden_features) = 0;  // 0 = in_features
  TORCH_ARG(int64_t, out_features) = 0;     // 0 = in_features
  TORCH_ARG(double, drop) = 0.0;
};

/// Non-overlapping patch embedding (ViT): conv(k = stride = patch_size) -> flatten to [B, N, C].
struct PatchEmbedOptions {
  PatchEmbedOptions(int64_t img_size, int64_t patch_size, int64_t in_chans, int64_t embed_dim)
      : img_size_(img_size), patch_size_(patch_size), in_chans_(in_chans), embed_dim_(embed_dim) {}
  TORCH_ARG(int64_t, img_size);
  TORCH_ARG(int64_t, patch_size);
  TORCH_ARG(int64_t, in_chans);
  TORCH_ARG(int64_t, embed_dim);
  /// Reject inputs of another size (ConViT/DeiT: the position embedding is for img_size only).
  TORCH_ARG(bool, strict_img_size) = true;
  /// LayerNorm on the tokens after the projection (Swin/LITv2 `patch_norm`), key `norm`.
  TORCH_ARG(bool, norm) = false;
};

/// Overlapping patch embedding: conv(k, stride, padding k/2) -> BatchNorm2d, NCHW in and out (VAN).
struct OverlapPatchEmbedOptions {
  OverlapPatchEmbedOptions(int64_t in_chans, int64_t embed_dim) : in_chans_(in_chans), embed_dim_(embed_dim) {}
  TORCH_ARG(int64_t, in_chans);
  TORCH_ARG(int64_t, embed_dim);
  TORCH_ARG(int64_t, patch_size) = 7;
  TORCH_ARG(int64_t, stride) = 4;
};

struct LayerNorm2dOptions {
  explicit LayerNorm2dOptions(int64_t channels) : channels_(channels) {}
  TORCH_ARG(int64_t, channels);
  TORCH_ARG(double, eps) = 1e-6;
};

struct PatchMergingOptions {
  explicit PatchMergingOptions(int64_t dim) : dim_(dim) {}
  TORCH_ARG(int64_t, dim);
  TORCH_ARG(double, eps) = 1e-5;  // of the LayerNorm(4C)
};

}  // namespace attnzoo::modules
