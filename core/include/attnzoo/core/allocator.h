#pragma once
// How the process's heap treats the large, short-lived buffers of tensor code.

namespace attnzoo {

/// Keeps freed tensor buffers in the heap for reuse instead of handing them back to the kernel.
///
/// LibTorch's CPU allocator is malloc. glibc serves blocks above its mmap threshold (128 KiB, raised
/// dynamically but not reliably) with a fresh mmap and unmaps them on free, so every activation of a
/// forward or backward pass - 1-6 MiB each at the main job's sizes - is page-faulted and zeroed by the
/// kernel on first touch: ATen's GELU or ReLU on a freshly allocated output ran 3-5x slower than on a
/// reused one (bench/README.md). Raising the mmap threshold to glibc's maximum (32 MiB) and the trim
/// threshold to 1 GiB makes such buffers come from (and return to) the heap. The price: the process keeps
/// its peak heap instead of returning freed memory to the system. Returns false where this does not
/// apply (not glibc) or glibc refused. Call once, early (the CLI does, unless --no-allocator-tuning).
bool tune_allocator_for_tensors();

}  // namespace attnzoo
