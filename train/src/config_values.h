#pragma once
// Reading one recipe/flag value into a config field, shared by the image and LRA trainers: the JSON type
// must fit the field, integers must be exact integers within the field's type, and every number must lie
// in the range the key allows. Errors name the flag (values from flags) or the file and key.
#include <nlohmann/json.hpp>

#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

namespace attnzoo::train {

/// Allowed values of a numeric key: [lo, hi], plus -1 when it means "default" (e.g. num_classes).
struct ValueRange {
  double lo, hi;
  bool minus_one_is_default = false;
};
using RangeTable = std::map<std::string, ValueRange>;

/// "--batch-size" for values that came from flags (what == "flags"), else "recipe.yaml: batch_size".
inline std::string value_label(const std::string& what, const std::string& key) {
  if (what != "flags") return what + ": " + key;
  std::string flag = key;
  for (auto& c : flag)
    if (c == '_') c = '-';
  return "--" + flag;
}

/// A recipe key or flag name as its config field: dashes become underscores; `set` is model_args.
inline std::string recipe_field(std::string key) {
  for (auto& c : key)
    if (c == '-') c = '_';
  return key == "set" ? "model_args" : key;
}

/// Merges a recipe's model_args / --set mapping into `model_args` (later keys win).
inline void merge_model_args(const nlohmann::json& v, nlohmann::json& model_args, const std::string& what) {
  if (!v.is_object()) throw std::invalid_argument(value_label(what, "model_args") + ": must be a mapping");
  for (auto a = v.begin(); a != v.end(); ++a) model_args[a.key()] = a.value();
}

inline std::string number_text(double x) {
  if (std::floor(x) == x && std::fabs(x) < 1e15) return std::to_string(static_cast<long long>(x));
  std::ostringstream os;
  os << x;
  return os.str();
}

/// The number in `v`, checked against `range` (when given) and against [lo, hi] of the field's type.
inline double checked_number(const nlohmann::json& v, bool integral, double type_lo, double type_hi,
                             const ValueRange* range, const std::string& label) {
  if (!v.is_number()) throw std::invalid_argument(label + ": expected a number, got " + v.dump());
  const double x = v.get<double>();
  const bool is_default = range && range->minus_one_is_default && x == -1;
  const double lo = range ? std::max(range->lo, type_lo) : type_lo, hi = range ? std::min(range->hi, type_hi) : type_hi;
  const bool integer_ok = !integral || (std::isfinite(x) && std::floor(x) == x);
  if (!is_default && (!std::isfinite(x) || !integer_ok || x < lo || x > hi))
    throw std::invalid_argument(label + ": " + v.dump() + " is not " + (integral ? "an integer" : "a number") + " in [" +
                                number_text(lo) + ", " + number_text(hi) + "]" +
                                (range && range->minus_one_is_default ? " (or -1 for the default)" : ""));
  return x;
}

template <typename T>
struct is_std_vector : std::false_type {};
template <typename T>
struct is_std_vector<std::vector<T>> : std::true_type {};

template <typename T>
void read_value(const nlohmann::json& v, T& field, const std::string& key, const std::string& what,
                const RangeTable& ranges) {
  const std::string label = value_label(what, key);
  const auto found = ranges.find(key);
  const ValueRange* range = found == ranges.end() ? nullptr : &found->second;
  if constexpr (std::is_same_v<T, bool>) {
    if (!v.is_boolean()) throw std::invalid_argument(label + ": expected true or false, got " + v.dump());
    field = v.get<bool>();
  } else if constexpr (std::is_integral_v<T>) {
    // Exactly representable integers only: 2^53 bounds what a double (YAML's 1e300) can say exactly.
    const double limit = 9007199254740992.0;
    const double lo = std::max<double>(static_cast<double>(std::numeric_limits<T>::min()), -limit);
    const double hi = std::min<double>(static_cast<double>(std::numeric_limits<T>::max()), limit);
    field = static_cast<T>(checked_number(v, true, lo, hi, range, label));
  } else if constexpr (std::is_floating_point_v<T>) {
    field = static_cast<T>(checked_number(v, false, -std::numeric_limits<double>::max(),
                                          std::numeric_limits<double>::max(), range, label));
  } else if constexpr (std::is_same_v<T, std::string>) {
    if (!v.is_string()) throw std::invalid_argument(label + ": expected text, got " + v.dump());
    field = v.get<std::string>();
  } else if constexpr (is_std_vector<T>::value) {  // lists of any length (decay_milestones); a number is one item
    const nlohmann::json items = v.is_array() ? v : nlohmann::json::array({v});
    if (items.size() > 10000) throw std::invalid_argument(label + ": more than 10000 values");
    field.assign(items.size(), typename T::value_type{});
    for (size_t i = 0; i < items.size(); ++i) read_value(items[i], field[i], key, what, ranges);
  } else {  // fixed-size arrays of numbers (mean, std, scale, ratio)
    if (!v.is_array() || v.size() != field.size())
      throw std::invalid_argument(label + ": expected " + std::to_string(field.size()) + " numbers, got " + v.dump());
    for (size_t i = 0; i < field.size(); ++i) read_value(v[i], field[i], key, what, ranges);
  }
}

}  // namespace attnzoo::train
