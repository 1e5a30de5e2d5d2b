#pragma once
// Pretrained configuration of a variant: what the released weights expect (timm's PretrainedCfg).
#include <attnzoo/checkpoint/hub.h>

#include <nlohmann/json.hpp>

#include <array>
#include <string>
#include <vector>

namespace attnzoo::models {

inline constexpr std::array<double, 3> kImagenetMean{0.485, 0.456, 0.406};
inline constexpr std::array<double, 3> kImagenetStd{0.229, 0.224, 0.225};

struct PretrainedCfg {
  std::array<int64_t, 3> input_size{3, 224, 224};
  std::string interpolation = "bicubic";
  double crop_pct = 0.875;
  std::array<double, 3> mean = kImagenetMean;
  std::array<double, 3> std = kImagenetStd;
  int64_t num_classes = 1000;
  std::string first_conv;
  std::string classifier = "head";
  std::string paper;
  bool fixed_input_size = false;

  // The released weights (issue #15), from the authors' README / model code; `url` empty = none released.
  std::string url;      // where the authors released them (`--download` fetches it)
  std::string file;     // the name they are looked up under; empty = the URL's last path segment
  double top1 = 0;      // ImageNet-1k top-1 (%) the authors publish for them; 0 = not published
  std::string license;  // of the weights, as the authors state it
  /// The same weights published elsewhere, tried after `url` (timm's Hugging Face copies, in timm's layout:
  /// the family's filter_checkpoint maps them to the official keys).
  std::vector<checkpoint::WeightsSource> mirrors;

  bool has_weights() const { return !url.empty(); }
  /// `file`, else the URL's last path segment ("…/van_tiny_754.pth.tar" -> "van_tiny_754.pth.tar").
  std::string weights_file() const;
  /// Sets the released weights' fields in one call (the family files each describe their releases).
  PretrainedCfg& weights(std::string url_, double top1_, std::string license_, std::string file_ = "");
  /// Adds a mirror of the released weights (looked up locally under `file`).
  PretrainedCfg& mirror(std::string url_, std::string file_);
  /// The release, then its mirrors.
  std::vector<checkpoint::WeightsSource> weight_sources() const;

  nlohmann::json to_json() const;
};

}  // namespace attnzoo::models
