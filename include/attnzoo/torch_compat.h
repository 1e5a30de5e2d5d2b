#pragma once
// The differences between the LibTorch versions attnzoo builds against (Debian's 1.13 and the 2.x of
// PyPI's torch wheel), in one place instead of #if's scattered through the sources.
#include <torch/version.h>

#if TORCH_VERSION_MAJOR >= 2
#include <variant>
#else
#include <c10/util/variant.h>
#endif

// c10d: the Gloo / NCCL process groups derive from c10d::ProcessGroup in 1.x and from c10d::Backend in
// 2.x; both offer the collectives attnzoo uses (include the c10d headers where the alias is used).
namespace c10d {
#if TORCH_VERSION_MAJOR >= 2
class Backend;
#else
class ProcessGroup;
#endif
}  // namespace c10d

namespace attnzoo::compat {

#if TORCH_VERSION_MAJOR >= 2
using C10dBackend = c10d::Backend;
#else
using C10dBackend = c10d::ProcessGroup;
#endif

// LibTorch 1.13's option variants (conv padding, ...) are c10::variant; 2.x uses std::variant.
#if TORCH_VERSION_MAJOR >= 2
using std::get_if;
using std::holds_alternative;
#else
using c10::get_if;
using c10::holds_alternative;
#endif

}  // namespace attnzoo::compat
