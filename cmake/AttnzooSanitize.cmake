# The sanitizer build (ATTNZOO_FUZZ=ON, clang): everything compiled here runs under AddressSanitizer and
# UndefinedBehaviorSanitizer, and any report aborts (-fno-sanitize-recover), so undefined behaviour such as an
# out-of-range float-to-integer conversion fails the run. Library code carries libFuzzer's coverage
# instrumentation (fuzzer-no-link); the fuzz executables link libFuzzer itself (tests/fuzz).
if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
  message(FATAL_ERROR "ATTNZOO_FUZZ needs clang (libFuzzer): configure with -DCMAKE_CXX_COMPILER=clang++")
endif()
# vptr checks need every polymorphic type instrumented; LibTorch's are not.
set(ATTNZOO_SANITIZE_FLAGS -fsanitize=address,undefined,float-cast-overflow -fno-sanitize=vptr
    -fno-sanitize-recover=all -fno-omit-frame-pointer -g)
add_compile_options(${ATTNZOO_SANITIZE_FLAGS} -fsanitize=fuzzer-no-link)
add_link_options(-fsanitize=address,undefined)
set(ATTNZOO_PCH OFF CACHE BOOL "" FORCE)  # a few files: no shared PCH
