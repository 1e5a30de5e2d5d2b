#include <attnzoo/core/config.h>

#include <attnzoo/core/file_util.h>
#include <attnzoo/core/input_limits.h>

#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/yaml.h>

#include <regex>
#include <stdexcept>

namespace attnzoo {
namespace {

// YAML -> JSON with the bounds of input_limits.h: aliases make a YAML document a graph, so a recursive
// alias (`x: &a [*a]`) would recurse forever and nested aliases ("billion laughs") expand exponentially.
class YamlConverter {
 public:
  explicit YamlConverter(const std::string& what) : what_(what) {}

  nlohmann::json convert(const YAML::Node& n, int depth = 0) {
    if (depth > kMaxNestingDepth)
      throw std::invalid_argument(what_ + ": nested deeper than " + std::to_string(kMaxNestingDepth) +
                                  " levels (a recursive YAML alias?)");
    if (++values_ > kMaxDocumentValues)
      throw std::invalid_argument(what_ + ": the document expands to more than " + std::to_string(kMaxDocumentValues) +
                                  " values (nested YAML aliases?)");
    switch (n.Type()) {
      case YAML::NodeType::Null:
      case YAML::NodeType::Undefined: return nullptr;
      case YAML::NodeType::Scalar: return scalar(n);
      case YAML::NodeType::Sequence: {
        nlohmann::json a = nlohmann::json::array();
        for (const auto& x : n) a.push_back(convert(x, depth + 1));
        return a;
      }
      case YAML::NodeType::Map: {
        nlohmann::json o = nlohmann::json::object();
        for (const auto& kv : n) {
          if (!kv.first.IsScalar())
            throw std::invalid_argument(what_ + ": line " + std::to_string(kv.first.Mark().line + 1) +
                                        ": a mapping key must be a plain value");
          o[kv.first.Scalar()] = convert(kv.second, depth + 1);
        }
        return o;
      }
    }
    return nullptr;
  }

 private:
  nlohmann::json scalar(const YAML::Node& n) const {
    const std::string s = n.Scalar();
    if (n.Tag() == "!") return s;  // quoted: always a string
    static const std::regex int_re(R"([-+]?[0-9]+)");
    static const std::regex float_re(R"([-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?)");
    try {
      if (std::regex_match(s, int_re)) {
        try {
          return std::stoll(s);
        } catch (const std::out_of_range&) {
          return std::stod(s);
        }
      }
      if (std::regex_match(s, float_re)) return std::stod(s);
    } catch (const std::out_of_range&) {
      throw std::invalid_argument(what_ + ": line " + std::to_string(n.Mark().line + 1) + ": " + s +
                                  " is beyond the range of a 64-bit float");
    }
    if (s == "true" || s == "True" || s == "TRUE") return true;
    if (s == "false" || s == "False" || s == "FALSE") return false;
    if (s == "null" || s == "~" || s == "Null" || s.empty()) return nullptr;
    if (s == ".inf" || s == ".Inf") return std::numeric_limits<double>::infinity();
    return s;
  }

  std::string what_;
  std::size_t values_ = 0;
};

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

nlohmann::json yaml_to_json(const std::string& text, const std::string& what) {
  check_utf8(text, what);
  try {
    return YamlConverter(what).convert(YAML::Load(text));
  } catch (const YAML::DeepRecursion&) {
    throw std::invalid_argument(what + ": nested deeper than the YAML parser allows");
  } catch (const YAML::Exception& e) {
    throw std::invalid_argument(what + ": malformed YAML at line " + std::to_string(e.mark.line + 1) + ": " + e.msg);
  }
}

nlohmann::json read_config_file(const std::string& path) {
  const std::string text = attnzoo::read_file_bytes(path);
  nlohmann::json j;
  if (ends_with(path, ".json")) {
    j = parse_json(text, path);
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
      value = parse_json(raw, "--set " + item);
    } catch (const std::invalid_argument&) {
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

namespace {

// Whether `s` written unquoted reads back as the same string (not a number, bool, null, or a syntax error).
bool plain_round_trips(const std::string& s) {
  if (s.empty()) return false;
  try {
    const nlohmann::json back = yaml_to_json("x: " + s, "json_to_yaml");
    return back.is_object() && back.size() == 1 && back.contains("x") && back["x"] == s;
  } catch (const std::exception&) {
    return false;
  }
}

void emit(YAML::Emitter& out, const nlohmann::json& v) {
  switch (v.type()) {
    case nlohmann::json::value_t::object:
      out << YAML::BeginMap;
      for (auto it = v.begin(); it != v.end(); ++it) {
        out << YAML::Key << it.key() << YAML::Value;
        emit(out, it.value());
      }
      out << YAML::EndMap;
      break;
    case nlohmann::json::value_t::array:
      out << YAML::Flow << YAML::BeginSeq;  // short lists (mean, scale, depths) on one line
      for (const auto& x : v) emit(out, x);
      out << YAML::EndSeq;
      break;
    case nlohmann::json::value_t::string: {
      // Quoted when YAML would read it back as something else ("", "1e-3", "null", "a: b", ...).
      const std::string s = v.get<std::string>();
      if (plain_round_trips(s)) out << s;
      else out << YAML::DoubleQuoted << s;
      break;
    }
    case nlohmann::json::value_t::boolean: out << v.get<bool>(); break;
    case nlohmann::json::value_t::null: out << YAML::Null; break;
    case nlohmann::json::value_t::number_integer: out << v.get<int64_t>(); break;
    case nlohmann::json::value_t::number_unsigned: out << v.get<uint64_t>(); break;
    default: out << v.dump(); break;  // nlohmann's shortest round-trip form ("0.003", "1e-05", "2.0")
  }
}

}  // namespace

std::string json_to_yaml(const nlohmann::json& value) {
  YAML::Emitter out;
  emit(out, value);
  return std::string(out.c_str()) + "\n";
}

}  // namespace attnzoo
