#pragma once
// pretty_print for modules from their Options: `attnzoo::HiLo(alpha=0.9, dim=384, ...)`, the arguments the
// Options' argument table (visit_args) names; Options without a table print the module name only.
#include <attnzoo/core/arg_table.h>

#include <ostream>
#include <type_traits>
#include <utility>

namespace attnzoo::modules {

template <class Options, class = void>
struct has_arg_table : std::false_type {};
template <class Options>
struct has_arg_table<Options, std::void_t<decltype(visit_args(std::declval<Options&>(), std::declval<ArgsToJson&>()))>>
    : std::true_type {};

template <class Options>
void print_options(std::ostream& os, const char* name, const Options& options) {
  os << name;
  if constexpr (has_arg_table<Options>::value) {
    os << "(";
    const char* sep = "";
    const nlohmann::json args = args_of(options);  // items() of a temporary would dangle
    for (const auto& [key, value] : args.items()) {
      os << sep << key << "=" << (value.is_string() ? value.template get<std::string>() : value.dump());
      sep = ", ";
    }
    os << ")";
  }
}

}  // namespace attnzoo::modules
