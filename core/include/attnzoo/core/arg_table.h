#pragma once
// One table of constructor arguments per Options struct, written once, beside the struct:
//
//   template <class V>
//   void visit_args(VANOptions& o, V& v) {
//     v.arg("embed_dims", o.embed_dims());          // optional: the Options' value is the default
//     v.required("dim", o.dim());                   // must be given
//     v.nullable("qk_scale", o.qk_scale(), 0.0);    // Python None <-> the Options' "unset" value
//     v.norm_layer("norm_layer", o.norm_eps());     // Python's partial(nn.LayerNorm, eps=...) <-> eps
//     v.ignored("img_size", 224);                   // accepted and unused, as in the official code
//     v.fixed("attn_backend", "torch");             // accepted only with the one value this port has
//     v.fixed_norm_layer("norm_layer", 1e-5);       // a LayerNorm, only with this eps
//     v.choice("layer", o.layer(), kLayerNames);    // a closed set of names <-> an enum
//     v.parsed("agent_num", o.agent_num(), parse);  // JSON that needs more than a type conversion
//   }
//
// Everything else derives from that table: `options_from_args` (JSON / YAML / --set -> Options, unknown
// keys rejected with the list of known ones) and `args_of` (Options -> JSON: the defaults of a model
// family, what `attnzoo info` prints, what a checkpoint records). The visitor finds `visit_args` by
// argument-dependent lookup, so the table lives in the Options' own namespace and header.
#include <attnzoo/core/args.h>

#include <nlohmann/json.hpp>

#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace attnzoo {

/// Visitor that fills Options from a JSON object of official constructor arguments.
class ArgsFromJson {
 public:
  explicit ArgsFromJson(ArgReader& reader, std::string owner) : r_(reader), owner_(std::move(owner)) {}
  template <class T>
  void arg(const char* name, T& field) {
    field = r_.get<T>(name, field);
  }
  template <class T>
  void required(const char* name, T& field) {
    field = r_.get<T>(name);
  }
  template <class T>
  void nullable(const char* name, T& field, const T& none) {
    if (r_.has(name)) field = r_.get<nlohmann::json>(name).is_null() ? none : r_.get<T>(name);
  }
  void ignored(const char* name, const nlohmann::json& /*shown_default*/) { r_.ignore(name); }
  void norm_layer(const char* name, double& eps) {
    const auto spec = r_.get<nlohmann::json>(name, nullptr);  // None: the Options' default
    if (!spec.is_null()) eps = layer_norm_eps(r_.get<std::string>(name), owner_);
  }
  /// An argument whose JSON needs more than a type conversion (e.g. numbers given as strings).
  template <class T, class Parse>
  void parsed(const char* name, T& field, Parse parse) {
    const auto j = r_.get<nlohmann::json>(name, nullptr);
    if (j.is_null()) return;
    try {
      field = parse(j);
    } catch (const std::exception& e) {
      throw std::invalid_argument(owner_ + ": argument '" + name + "' is malformed: " + j.dump() + " (" + e.what() + ")");
    }
  }
  template <class T>
  void choice(const char* name, T& field, const std::vector<std::pair<std::string, T>>& names) {
    if (!r_.has(name) || r_.get<nlohmann::json>(name).is_null()) return;
    const auto given = r_.get<std::string>(name);
    std::string known;
    for (const auto& [text, value] : names) {
      if (text == given) {
        field = value;
        return;
      }
      known += (known.empty() ? "" : ", ") + text;
    }
    throw std::invalid_argument(owner_ + ": argument '" + name + "' must be one of " + known + ", got '" + given + "'");
  }
  void fixed(const char* name, const nlohmann::json& only) {
    const auto given = r_.get<nlohmann::json>(name, only);
    if (given != only)
      throw std::invalid_argument(owner_ + ": argument '" + name + "' supports only " + only.dump() + ", got " + given.dump());
  }
  void fixed_norm_layer(const char* name, double eps) {
    double given = eps;
    norm_layer(name, given);
    if (given != eps)
      throw std::invalid_argument(owner_ + ": argument '" + name + "' supports only " + layer_norm_spec(eps));
  }

 private:
  ArgReader& r_;
  std::string owner_;
};

/// Visitor that writes Options as a JSON object of official constructor arguments.
class ArgsToJson {
 public:
  template <class T>
  void arg(const char* name, const T& field) {
    j_[name] = field;
  }
  template <class T>
  void required(const char* name, const T& field) {
    j_[name] = field;
  }
  template <class T>
  void nullable(const char* name, const T& field, const T& none) {
    j_[name] = field == none ? nlohmann::json(nullptr) : nlohmann::json(field);
  }
  void ignored(const char* name, const nlohmann::json& shown_default) { j_[name] = shown_default; }
  void norm_layer(const char* name, double eps) { j_[name] = layer_norm_spec(eps); }
  template <class T, class Parse>
  void parsed(const char* name, const T& field, Parse) {
    j_[name] = field;
  }
  template <class T>
  void choice(const char* name, const T& field, const std::vector<std::pair<std::string, T>>& names) {
    for (const auto& [text, value] : names)
      if (value == field) j_[name] = text;
  }
  void fixed(const char* name, const nlohmann::json& only) { j_[name] = only; }
  void fixed_norm_layer(const char* name, double eps) { norm_layer(name, eps); }
  nlohmann::json take() { return std::move(j_); }

 private:
  nlohmann::json j_ = nlohmann::json::object();
};

/// Options from official constructor arguments; `prototype` holds the defaults (for Options whose
/// constructor takes required arguments, any placeholder: `visit_args` marks them required).
template <class Options>
Options options_from_args(const nlohmann::json& args, const std::string& owner, Options prototype) {
  ArgReader reader(args, owner);
  ArgsFromJson visitor(reader, owner);
  visit_args(prototype, visitor);
  reader.finish();
  return prototype;
}

template <class Options, class = std::enable_if_t<std::is_default_constructible_v<Options>>>
Options options_from_args(const nlohmann::json& args, const std::string& owner) {
  return options_from_args(args, owner, Options{});
}

/// The official constructor arguments that `options` stands for.
template <class Options>
nlohmann::json args_of(Options options) {
  ArgsToJson visitor;
  visit_args(options, visitor);
  return visitor.take();
}

}  // namespace attnzoo
