#pragma once
// Checks a zip archive's central directory before any entry is inflated.
#include <string>

namespace attnzoo::checkpoint {

/// Throws std::runtime_error("<path>: ...") when an entry declares more uncompressed bytes than the whole
/// file holds while being compressed: torch.save stores its entries uncompressed, so such an entry can only
/// be a zip bomb (a 1 MB file inflating to gigabytes). Archives this cannot parse are left to the reader.
void check_zip_entry_sizes(const std::string& path);

}  // namespace attnzoo::checkpoint
