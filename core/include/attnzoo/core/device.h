#pragma once
// --device values: "cpu", "cuda" or "cuda:N", checked against what this LibTorch build and machine have,
// so a bad value is one line naming the flag instead of a dispatcher dump at the first tensor.
#include <c10/core/Device.h>

#include <string>

namespace attnzoo {

/// Parses and checks a device; throws std::invalid_argument("<flag> <value>: ...") naming what is allowed
/// (an empty flag leaves just "<value>: ...", for validators that name the flag themselves).
c10::Device parse_device(const std::string& value, const std::string& flag = "--device");

}  // namespace attnzoo
