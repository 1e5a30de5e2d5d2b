#pragma once
// Pretrained configuration of a variant: what the released weights expect (timm's PretrainedCfg).
#include <nlohmann/json.hpp>

#include <array>
#include <string>

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
  std::string url;          // where the authors released the weights (informational; never downloaded)
  std::string paper;
  bool fixed_input_size = false;

  nlohmann::json to_json() const;
};

}  // namespace attnzoo::models
