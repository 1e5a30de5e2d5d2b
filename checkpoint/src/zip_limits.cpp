#include "zip_limits.h"

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <stdexcept>
#include <vector>

namespace attnzoo::checkpoint {
namespace {

uint64_t le(const std::vector<char>& b, size_t at, int n) {
  uint64_t v = 0;
  for (int k = n - 1; k >= 0; --k) v = (v << 8) | static_cast<uint8_t>(b[at + static_cast<size_t>(k)]);
  return v;
}

std::vector<char> read_range(std::ifstream& in, uint64_t offset, uint64_t n) {
  std::vector<char> b(n);
  in.seekg(static_cast<std::streamoff>(offset));
  in.read(b.data(), static_cast<std::streamsize>(n));
  if (static_cast<uint64_t>(in.gcount()) != n) b.clear();
  return b;
}

// The uncompressed size of a central-directory entry, taking the zip64 extra field when the 32-bit
// field says 0xFFFFFFFF.
uint64_t uncompressed_size(const std::vector<char>& cd, size_t at, size_t name_len, size_t extra_len) {
  const uint64_t size32 = le(cd, at + 24, 4);
  if (size32 != 0xFFFFFFFFu) return size32;
  for (size_t e = at + 46 + name_len, end = e + extra_len; e + 4 <= end;) {
    const uint64_t id = le(cd, e, 2), len = le(cd, e + 2, 2);
    if (id == 1 && len >= 8 && e + 12 <= end) return le(cd, e + 4, 8);
    e += 4 + len;
  }
  return size32;
}

}  // namespace

void check_zip_entry_sizes(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) return;
  const uint64_t file_size = static_cast<uint64_t>(in.tellg());
  const uint64_t tail_size = std::min<uint64_t>(file_size, 65535 + 22);
  const std::vector<char> tail = read_range(in, file_size - tail_size, tail_size);
  if (tail.size() < 22) return;
  size_t eocd = tail.size() - 22 + 1;
  while (eocd-- > 0)
    if (le(tail, eocd, 4) == 0x06054b50) break;
  if (eocd == static_cast<size_t>(-1)) return;
  const uint64_t cd_size = le(tail, eocd + 12, 4), cd_offset = le(tail, eocd + 16, 4);
  if (cd_offset == 0xFFFFFFFFu || cd_size > file_size || cd_offset > file_size - cd_size) return;  // zip64 layout
  const std::vector<char> cd = read_range(in, cd_offset, cd_size);
  for (size_t at = 0; at + 46 <= cd.size() && le(cd, at, 4) == 0x02014b50;) {
    const uint64_t method = le(cd, at + 10, 2);
    const size_t name_len = le(cd, at + 28, 2), extra_len = le(cd, at + 30, 2), comment_len = le(cd, at + 32, 2);
    if (at + 46 + name_len + extra_len > cd.size()) return;
    const uint64_t declared = uncompressed_size(cd, at, name_len, extra_len);
    if (method != 0 && declared > file_size)
      throw std::runtime_error(path + ": zip entry '" + std::string(cd.data() + at + 46, name_len) + "' inflates to " +
                               std::to_string(declared) + " bytes from a " + std::to_string(file_size) +
                               "-byte file (torch.save never compresses; refusing a possible zip bomb)");
    at += 46 + name_len + extra_len + comment_len;
  }
}

}  // namespace attnzoo::checkpoint
