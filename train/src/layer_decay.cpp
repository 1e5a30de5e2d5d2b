#include <attnzoo/train/layer_decay.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <regex>

namespace attnzoo::train {

namespace {

constexpr double kMatchPrevGroup = 99999;  // timm's MATCH_PREV_GROUP

std::vector<double> group_key(const std::string& name, const std::vector<std::pair<models::GroupMatch, std::regex>>& m) {
  for (const auto& [spec, re] : m) {
    std::smatch r;
    if (!std::regex_search(name, r, re, std::regex_constants::match_continuous)) continue;  // Python's re.match
    std::vector<double> key{static_cast<double>(spec.ordinal)};
    for (size_t i = 1; i < r.size(); ++i) key.push_back(std::stod(r[i].str()));
    key.insert(key.end(), spec.suffix.begin(), spec.suffix.end());
    return key;
  }
  return {std::numeric_limits<double>::infinity()};  // neck, head: after everything
}

std::vector<int64_t> matched_layer_ids(const std::vector<std::string>& names, const std::vector<models::GroupMatch>& matcher) {
  std::vector<std::pair<models::GroupMatch, std::regex>> compiled;
  for (const auto& g : matcher) compiled.emplace_back(g, std::regex(g.regex));
  std::vector<std::vector<double>> keys;
  for (const auto& n : names) keys.push_back(group_key(n, compiled));
  std::vector<std::vector<double>> sorted = keys;
  std::sort(sorted.begin(), sorted.end());
  sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());
  std::map<std::vector<double>, int64_t> id;
  int64_t lid = -1;
  for (const auto& k : sorted) {
    if (lid < 0 || k.back() != kMatchPrevGroup) ++lid;
    id[k] = lid;
  }
  std::vector<int64_t> out;
  for (const auto& k : keys) out.push_back(id[k]);
  return out;
}

std::vector<int64_t> auto_layer_ids(const std::vector<std::string>& names, const std::string& head_prefix) {
  constexpr int64_t kPerLayer = 12;
  auto in_head = [&](const std::string& n) { return head_prefix.empty() || n.rfind(head_prefix, 0) == 0; };
  int64_t trunk = 0;
  for (const auto& n : names) trunk += in_head(n) ? 0 : 1;
  const int64_t trunk_layers = (trunk + kPerLayer - 1) / kPerLayer;
  std::vector<int64_t> out;
  int64_t seen = 0;
  for (const auto& n : names) out.push_back(in_head(n) ? trunk_layers : seen++ / kPerLayer);
  return out;
}

}  // namespace

std::vector<int64_t> layer_ids(const std::vector<std::string>& names, const std::vector<models::GroupMatch>& matcher,
                               const std::string& head_prefix) {
  return matcher.empty() ? auto_layer_ids(names, head_prefix) : matched_layer_ids(names, matcher);
}

int64_t apply_layer_decay(std::vector<Param>& params, const models::ClassifierImpl& model, double layer_decay) {
  // timm numbers the layers over every named parameter of the model, trainable or not.
  std::vector<std::string> names;
  for (const auto& p : model.named_parameters()) names.push_back(p.key());
  const std::vector<int64_t> ids = layer_ids(names, model.group_matcher(), model.pretrained_cfg().classifier);
  std::map<std::string, int64_t> layer_of;
  int64_t last = 0;
  for (size_t i = 0; i < names.size(); ++i) {
    layer_of[names[i]] = ids[i];
    last = std::max(last, ids[i]);
  }
  for (auto& p : params) {
    const auto it = layer_of.find(p.name);
    const int64_t layer = it == layer_of.end() ? last : it->second;
    p.lr_scale *= std::pow(layer_decay, static_cast<double>(last - layer));
  }
  return last + 1;
}

}  // namespace attnzoo::train
