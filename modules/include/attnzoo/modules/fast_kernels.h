#pragma once
// Process-wide switch between attnzoo's own CPU kernels (the default) and the reference ATen
// compositions kept beside each of them: for same-minute A/B benchmarks (`attnzoo bench
// --reference-kernels`), for debugging, and for the tests that compare the two.

namespace attnzoo::modules {

void set_fast_kernels(bool enabled);
bool fast_kernels_enabled();

}  // namespace attnzoo::modules
