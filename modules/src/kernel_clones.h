#pragma once
// ATTNZOO_CLONES: compile a kernel once per x86-64 ISA level (AVX-512, AVX2, baseline) and let the loader
// pick the best at startup (GCC's target_clones); plain loops, no intrinsics. Off for other compilers and
// under AddressSanitizer, whose instrumentation does not combine with ifunc resolvers.
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && !defined(__SANITIZE_ADDRESS__)
#define ATTNZOO_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define ATTNZOO_CLONES
#endif
