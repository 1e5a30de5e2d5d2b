#pragma once
// The parsers of untrusted input, each wrapped as a fuzz target: bytes in, and the only acceptable
// outcomes are a result or a std::exception (the one-line error). A crash, a sanitizer report, a hang or
// an allocation beyond libFuzzer's -rss_limit_mb is a finding. The same functions replay the seed and
// regression corpora (tests/fuzz/corpus/<target>/) in the normal test suite.
#include <string>
#include <utility>
#include <vector>

namespace attnzoo::fuzz {

using Target = void (*)(const std::string& bytes);

/// name -> target: safetensors, pickle, pth, image, idx, listops, pathfinder, config.
const std::vector<std::pair<std::string, Target>>& targets();

/// Runs one input through `target`, swallowing the expected std::exception; returns its message
/// (empty when the input was accepted).
std::string run_target(Target target, const std::string& bytes);

}  // namespace attnzoo::fuzz
