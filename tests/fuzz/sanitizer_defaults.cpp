// Defaults the sanitizer runtimes read at start-up, compiled into every sanitized executable, so that
// ctest, scripts/fuzz.sh and a developer's shell all run them the same way.
extern "C" {

// LibTorch 1.13's PyTorchStreamReader leaks its miniz state when it throws on a malformed archive (found
// by fuzz_pth; outside attnzoo's code, a few hundred bytes per refused file).
const char* __lsan_default_suppressions() { return "leak:libtorch_cpu.so\n"; }

const char* __asan_default_options() { return "detect_leaks=1:abort_on_error=1"; }

const char* __ubsan_default_options() { return "print_stacktrace=1:halt_on_error=1"; }

}  // extern "C"
