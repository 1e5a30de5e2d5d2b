#include <attnzoo/models/pretrained_cfg.h>

namespace attnzoo::models {

nlohmann::json PretrainedCfg::to_json() const {
  nlohmann::json j = {{"input_size", input_size}, {"interpolation", interpolation}, {"crop_pct", crop_pct},
                      {"mean", mean},             {"std", std},                     {"num_classes", num_classes},
                      {"first_conv", first_conv}, {"classifier", classifier},       {"fixed_input_size", fixed_input_size}};
  if (!url.empty()) j["url"] = url;
  if (!paper.empty()) j["paper"] = paper;
  return j;
}

}  // namespace attnzoo::models
