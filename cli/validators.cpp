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

CLI::Validator at_least(long long lo) {
  return CLI::Validator(
      [lo](std::string& value) -> std::string {
        size_t used = 0;
        long long v = 0;
        try {
          v = std::stoll(value, &used);
        } catch (const std::exception&) {
          used = 0;
        }
        if (used != value.size() || value.empty() || v < lo)
          return "must be an integer >= " + std::to_string(lo) + ", got '" + value + "'";
        return "";
      },
      "INT>=" + std::to_string(lo));
}

}  // namespace attnzoo::cli
