#include <attnzoo/train/timm_args.h>

namespace attnzoo::train {

const std::map<std::string, nlohmann::json>& timm_train_defaults() {
  static const std::map<std::string, nlohmann::json> table = [] {
    static const std::pair<const char*, const char*> rows[] = {
#include "timm_train_args.inc"
    };
    std::map<std::string, nlohmann::json> t;
    for (const auto& [key, json] : rows) t[key] = nlohmann::json::parse(json);
    return t;
  }();
  return table;
}

}  // namespace attnzoo::train
