#include <attnzoo/modules/fast_kernels.h>

#include <atomic>

namespace attnzoo::modules {
namespace {
std::atomic<bool> g_fast_kernels{true};
}  // namespace

void set_fast_kernels(bool enabled) { g_fast_kernels = enabled; }
bool fast_kernels_enabled() { return g_fast_kernels; }

}  // namespace attnzoo::modules
