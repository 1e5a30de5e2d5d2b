#include <attnzoo/core/allocator.h>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace attnzoo {

bool tune_allocator_for_tensors() {
#if defined(__GLIBC__)
  // 32 MiB: glibc's documented upper limit for M_MMAP_THRESHOLD on 64-bit (4 MiB * sizeof(long)).
  const bool mmap_ok = mallopt(M_MMAP_THRESHOLD, 32 * 1024 * 1024) == 1;
  const bool trim_ok = mallopt(M_TRIM_THRESHOLD, 1024 * 1024 * 1024) == 1;
  return mmap_ok && trim_ok;
#else
  return false;
#endif
}

}  // namespace attnzoo
