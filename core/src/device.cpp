#include <attnzoo/core/device.h>

#include <ATen/Context.h>
#include <ATen/detail/CUDAHooksInterface.h>

#include <stdexcept>

namespace attnzoo {

c10::Device parse_device(const std::string& value, const std::string& flag) {
  const std::string what = (flag.empty() ? value : flag + " " + value) + ": ";
  const bool cuda = value == "cuda" || value.rfind("cuda:", 0) == 0;
  if (value != "cpu" && !cuda) throw std::invalid_argument(what + "expected cpu, cuda or cuda:N");
  if (!cuda) return c10::Device(c10::kCPU);
  if (!at::hasCUDA())
    throw std::invalid_argument(what + "this LibTorch build has no CUDA support (or no GPU is visible); use cpu");
  const int64_t count = at::detail::getCUDAHooks().getNumGPUs();
  int64_t index = 0;
  if (value != "cuda") {
    const std::string digits = value.substr(5);
    if (digits.empty() || digits.size() > 6 || digits.find_first_not_of("0123456789") != std::string::npos)
      throw std::invalid_argument(what + "expected cuda:N with a device index N");
    index = std::stoll(digits);
  }
  if (index >= count)
    throw std::invalid_argument(what + "no such GPU (" + std::to_string(count) + " visible: cuda:0 .. cuda:" +
                                std::to_string(count - 1) + ")");
  return c10::Device(c10::kCUDA, static_cast<c10::DeviceIndex>(index));
}

}  // namespace attnzoo
