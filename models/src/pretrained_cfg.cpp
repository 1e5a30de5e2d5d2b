#include <attnzoo/models/pretrained_cfg.h>

#include <attnzoo/checkpoint/hub.h>

namespace attnzoo::models {

nlohmann::json PretrainedCfg::to_json() const {
  nlohmann::json j = {{"input_size", input_size}, {"interpolation", interpolation}, {"crop_pct", crop_pct},
                      {"mean", mean},             {"std", std},                     {"num_classes", num_classes},
                      {"first_conv", first_conv}, {"classifier", classifier},       {"fixed_input_size", fixed_input_size}};
  if (!paper.empty()) j["paper"] = paper;
  if (has_weights()) {
    j["url"] = url;
    j["file"] = weights_file();
    if (const std::string h = checkpoint::hash_prefix_of(weights_file()); !h.empty()) j["sha256_prefix"] = h;
    if (top1 > 0) j["top1"] = top1;
    if (!license.empty()) j["license"] = license;
    for (const auto& m : mirrors) j["mirrors"].push_back({{"url", m.url}, {"file", m.file_name}});
  }
  return j;
}

std::string PretrainedCfg::weights_file() const {
  if (!file.empty()) return file;
  const std::string path = url.substr(0, url.find_first_of("?#"));
  return path.substr(path.find_last_of('/') + 1);
}

PretrainedCfg& PretrainedCfg::weights(std::string url_, double top1_, std::string license_, std::string file_) {
  url = std::move(url_);
  top1 = top1_;
  license = std::move(license_);
  file = std::move(file_);
  return *this;
}

PretrainedCfg& PretrainedCfg::mirror(std::string url_, std::string file_) {
  mirrors.push_back({std::move(file_), std::move(url_)});
  return *this;
}

std::vector<checkpoint::WeightsSource> PretrainedCfg::weight_sources() const {
  std::vector<checkpoint::WeightsSource> out{{weights_file(), url}};
  out.insert(out.end(), mirrors.begin(), mirrors.end());
  return out;
}

}  // namespace attnzoo::models
