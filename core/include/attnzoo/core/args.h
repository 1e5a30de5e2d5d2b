#pragma once
// Reads constructor arguments (official Python argument names) from a JSON object and rejects the
// ones nobody asked for, so a typo in --set or a config file is an error, not a silent default.
#include <nlohmann/json.hpp>

#include <set>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

namespace attnzoo {

template <typename T>
struct is_integer_arg : std::bool_constant<std::is_integral_v<T> && !std::is_same_v<T, bool>> {};
template <typename T>
struct is_integer_arg<std::vector<T>> : is_integer_arg<T> {};

/// Integer constructor arguments from files and --set: exact integers (1e300 or 2.5 are refused, never
/// converted), |value| <= 1,048,576; sizes (dims, heads, kernel/window/patch sizes, ...) at least 1; and
/// at most 1,000 blocks over all `depths`. Throws std::invalid_argument naming `owner` and the argument.
void check_integer_arg(const std::string& owner, const std::string& key, const nlohmann::json& value);

class ArgReader {
 public:
  ArgReader(const nlohmann::json& args, std::string owner) : args_(args), owner_(std::move(owner)) {
    if (!args_.is_null() && !args_.is_object())
      throw std::invalid_argument(owner_ + ": arguments must be a JSON object, got " + args_.dump());
  }

  bool has(const std::string& key) const { return args_.is_object() && args_.contains(key); }

  template <typename T>
  T get(const std::string& key) {
    used_.insert(key);
    if (!has(key)) throw std::invalid_argument(owner_ + ": missing required argument '" + key + "'");
    return convert<T>(key);
  }
  template <typename T>
  T get(const std::string& key, const T& fallback) {
    used_.insert(key);
    if (!has(key) || args_.at(key).is_null()) return fallback;
    return convert<T>(key);
  }
  /// Marks a key as understood without reading it (official arguments this port ignores, e.g. img_size).
  void ignore(const std::string& key) { used_.insert(key); }

  /// Throws when the object holds keys that were never read.
  void finish() const {
    if (!args_.is_object()) return;
    std::string unknown;
    for (auto it = args_.begin(); it != args_.end(); ++it)
      if (!used_.count(it.key())) unknown += (unknown.empty() ? "" : ", ") + it.key();
    if (!unknown.empty()) {
      std::string known;
      for (const auto& k : used_) known += (known.empty() ? "" : ", ") + k;
      throw std::invalid_argument(owner_ + ": unknown argument(s) " + unknown + " (known: " + known + ")");
    }
  }

 private:
  template <typename T>
  T convert(const std::string& key) const {
    if constexpr (is_integer_arg<T>::value) check_integer_arg(owner_, key, args_.at(key));
    try {
      return args_.at(key).get<T>();
    } catch (const nlohmann::json::exception&) {
      throw std::invalid_argument(owner_ + ": argument '" + key + "' has the wrong type: " + args_.at(key).dump());
    }
  }
  const nlohmann::json& args_;
  std::string owner_;
  std::set<std::string> used_;
};

/// eps of a `norm_layer` argument written as Python would: "functools.partial(torch.nn.LayerNorm,
/// eps=1e-06)", "partial(nn.LayerNorm, eps=1e-6)", "nn.LayerNorm" (eps 1e-5). Other norms are rejected.
double layer_norm_eps(const std::string& spec, const std::string& owner);
/// The Python spelling of a LayerNorm with `eps`: "nn.LayerNorm" for the default 1e-5, else
/// "functools.partial(torch.nn.LayerNorm, eps=1e-06)"; layer_norm_eps reads it back exactly.
std::string layer_norm_spec(double eps);

}  // namespace attnzoo
