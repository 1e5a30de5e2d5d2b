#include "commands.h"

#include <attnzoo/core/device.h>

namespace attnzoo::cli {

CLI::Validator device_validator() {
  return CLI::Validator(
      [](std::string& value) -> std::string {
        try {
          parse_device(value, "");
        } catch (const std::invalid_argument& e) {
          return e.what();
        }
        return "";
      },
      "DEVICE");
}

std::optional<long long> parse_integer(const std::string& text) {
  size_t used = 0;
  long long v = 0;
  try {
    v = std::stoll(text, &used);
  } catch (const std::exception&) {
    return std::nullopt;
  }
  if (used != text.size()) return std::nullopt;
  return v;
}

CLI::Validator at_least(long long lo) {
  return CLI::Validator(
      [lo](std::string& value) -> std::string {
        const std::optional<long long> v = parse_integer(value);
        if (!v || *v < lo)
          return "must be an integer >= " + std::to_string(lo) + ", got '" + value + "'";
        return "";
      },
      "INT>=" + std::to_string(lo));
}

}  // namespace attnzoo::cli
