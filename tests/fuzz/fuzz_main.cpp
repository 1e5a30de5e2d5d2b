// libFuzzer entry point; ATTNZOO_FUZZ_TARGET names which of fuzz_targets.h's targets this binary drives.
#include "fuzz_targets.h"

#include <cstdint>
#include <cstdlib>
#include <cstdio>

namespace {

attnzoo::fuzz::Target chosen() {
  static const attnzoo::fuzz::Target t = [] {
    for (const auto& [name, target] : attnzoo::fuzz::targets())
      if (name == ATTNZOO_FUZZ_TARGET) return target;
    std::fprintf(stderr, "no fuzz target named %s\n", ATTNZOO_FUZZ_TARGET);
    std::abort();
  }();
  return t;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  attnzoo::fuzz::run_target(chosen(), std::string(reinterpret_cast<const char*>(data), size));
  return 0;
}
