#include <attnzoo/models/config.h>

#include <attnzoo/core/file_util.h>

#include <yaml-cpp/yaml.h>

#include <regex>
#include <stdexcept>

namespace attnzoo::models {
namespace {

nlohmann::json scalar(const YAML::Node& n) {
  const std::string s = n.Scalar();
  if (n.Tag() == "!") return s;  // quoted: always a string
  static const std::regex int_re(R"([-+]?[0-9]+)");
  static const std::regex float_re(R"([-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?)");
  if (std::regex_match(s, int_re)) {
    try {
      return std::stoll(s);
    } catch (const std::out_of_range&) {
      return std::stod(s);
    }
  }
  if (std::regex_match(s, float_re)) return std::stod(s);
  if (s == "true" || s == "True" || s == "TRUE") return true;
  if (s == "false" || s == "False" || s == "FALSE") return false;
  if (s == "null" || s == "~" || s == "Null" || s.empty()) return nullptr;
  if (s == ".inf" || s == ".Inf") return std::numeric_limits<double>::infinity();
  return s;
}

nlohmann::json convert(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined: return nullptr;
    case YAML::NodeType::Scalar: return scalar(n);
    case YAML::NodeType::Sequence: {
      nlohmann::json a = nlohmann::json::array();
      for (const auto& x : n) a.push_back(convert(x));
      return a;
    }
    case YAML::NodeType::Map: {
      nlohmann::json o = nlohmann::json::object();
      for (const auto& kv : n) o[kv.first.as<std::string>()] = convert(kv.second);
      return o;
    }
  }
  return nullptr;
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

nlohmann::json yaml_to_json(const std::string& text, const std::string& what) {
  try {
    return convert(YAML::Load(text));
  } catch (const YAML::Exception& e) {
    throw std::invalid_argument(what + ": malformed YAML at line " + std::to_string(e.mark.line + 1) + ": " + e.msg);
  }
}

nlohmann::json read_config_file(const std::string& path) {
  const std::string text = attnzoo::read_file_bytes(path);
  nlohmann::json j;
  if (ends_with(path, ".json")) {
    try {
      j = nlohmann::json::parse(text);
    } catch (const nlohmann::json::parse_error& e) {
      throw std::invalid_argument(path + ": malformed JSON: " + e.what());
    }
  } else {
    j = yaml_to_json(text, path);  // YAML is a superset of JSON
  }
  if (j.is_null()) return nlohmann::json::object();
  if (!j.is_object()) throw std::invalid_argument(path + ": expected a mapping of key: value at the top level");
  return j;
}

nlohmann::json apply_overrides(nlohmann::json base, const std::vector<std::string>& items) {
  if (base.is_null()) base = nlohmann::json::object();
  for (const auto& item : items) {
    const auto eq = item.find('=');
    if (eq == std::string::npos || eq == 0)
      throw std::invalid_argument("--set " + item + ": expected key=value");
    const std::string key = item.substr(0, eq);
    const std::string raw = item.substr(eq + 1);
    nlohmann::json value;
    try {
      value = nlohmann::json::parse(raw);
    } catch (const nlohmann::json::parse_error&) {
      value = yaml_to_json(raw, "--set " + item);  // e.g. [1, 2, 3] without quotes, bare words
    }
    nlohmann::json* node = &base;
    size_t start = 0;
    for (size_t dot; (dot = key.find('.', start)) != std::string::npos; start = dot + 1) {
      node = &(*node)[key.substr(start, dot - start)];
      if (!node->is_object()) *node = nlohmann::json::object();
    }
    (*node)[key.substr(start)] = value;
  }
  return base;
}

}  // namespace attnzoo::models
