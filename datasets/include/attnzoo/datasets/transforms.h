#pragma once
// timm-equivalent image transforms. Randomness comes from an explicit generator so that a sample's
// augmentation depends only on (seed, epoch, index): reproducible whatever the worker count.
#include <ATen/core/Tensor.h>

#include <array>
#include <random>
#include <string>

namespace attnzoo::datasets {

using Rng = std::mt19937_64;

struct TransformOptions {
  int64_t img_size = 224;
  int64_t in_chans = 3;  // 1: gray output; 3: gray inputs are replicated
  std::array<double, 3> mean{0.485, 0.456, 0.406};
  std::array<double, 3> std{0.229, 0.224, 0.225};
  double crop_pct = 0.875;             // eval: resize to img_size / crop_pct, center crop
  std::string interpolation = "bicubic";  // bilinear | bicubic | nearest | area
  // Train only.
  bool random_resized_crop = true;
  std::array<double, 2> scale{0.08, 1.0};
  std::array<double, 2> ratio{3.0 / 4.0, 4.0 / 3.0};
  int64_t pad_crop = 0;                // alternative to RRC for tiny images: pad by N, random crop back
  double hflip = 0.5;
  std::string auto_augment;            // "rand-m9-mstd0.5-inc1" (timm RandAugment syntax); empty = none
  double reprob = 0.0;                 // random erasing probability (timm mode 'pixel')
};

class Transform {
 public:
  Transform(TransformOptions options, bool train);
  /// HWC uint8 -> CHW float32, normalised.
  at::Tensor operator()(const at::Tensor& image, Rng& rng) const;
  const TransformOptions& options() const { return o_; }
  bool train() const { return train_; }

 private:
  TransformOptions o_;
  bool train_;
  // Parsed RandAugment config.
  int ra_layers_ = 0;
  double ra_magnitude_ = 0, ra_mstd_ = 0, ra_prob_ = 0.5;
  bool ra_increasing_ = false;
};

/// Applies one RandAugment pass (exposed for tests). image: HWC uint8, modified in place.
void rand_augment(at::Tensor& image, int layers, double magnitude, double mstd, bool increasing, double prob, Rng& rng);

/// Mixup / CutMix with label smoothing, timm semantics (batch mode).
struct MixupOptions {
  double mixup_alpha = 0.0;
  double cutmix_alpha = 0.0;
  double prob = 1.0;         // probability of mixing a batch at all
  double switch_prob = 0.5;  // probability of cutmix when both are active
  double label_smoothing = 0.1;
  int64_t num_classes = 1000;
  bool active() const { return mixup_alpha > 0 || cutmix_alpha > 0; }
};

/// Smoothed one-hot targets [B, K]: (1 - eps) * onehot + eps / K.
at::Tensor smooth_one_hot(const at::Tensor& labels, int64_t num_classes, double smoothing);

/// Mixes the batch in place (x: [B, C, H, W]); returns soft targets [B, K].
at::Tensor mixup_batch(at::Tensor& x, const at::Tensor& labels, const MixupOptions& o, Rng& rng);

}  // namespace attnzoo::datasets
