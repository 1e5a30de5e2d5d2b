#pragma once
// Small file helpers shared by the checkpoint readers and writers.
#include <string>

namespace attnzoo {

/// The whole file as bytes; throws std::runtime_error("<path>: cannot open ...") when unreadable.
std::string read_file_bytes(const std::string& path);

/// Writes `bytes` to `path` atomically: a temporary file beside it, fsync, then rename(2).
void write_file_atomic(const std::string& path, const std::string& bytes);

}  // namespace attnzoo
