#pragma once
// The differences between the LibTorch versions attnzoo builds against (Debian's 1.13 and the 2.x of
// PyPI's torch wheel), in one place instead of #if's scattered through the sources.
#include <torch/version.h>

#if TORCH_VERSION_MAJOR >= 2
#include <variant>
#else
#include <c10/util/variant.h>
#endif

namespace attnzoo::compat {

// LibTorch 1.13's option variants (conv padding, ...) are c10::variant; 2.x uses std::variant.
#if TORCH_VERSION_MAJOR >= 2
using std::get_if;
using std::holds_alternative;
#else
using c10::get_if;
using c10::holds_alternative;
#endif

}  // namespace attnzoo::compat
