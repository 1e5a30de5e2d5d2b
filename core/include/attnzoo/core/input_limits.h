#pragma once
// Bounds on what a file may make attnzoo do. Every parser of untrusted input (JSON, YAML, pickle,
// safetensors headers, images, IDX) checks against these before it allocates or recurses, so a small
// hostile file ends in one error line instead of a stack overflow or a multi-gigabyte allocation.
#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <string>

namespace attnzoo {

/// Containers nested inside each other (JSON/YAML documents, pickled values). Real configs and
/// checkpoints nest fewer than 20 levels; Python's own pickle gives up near 1000.
inline constexpr int kMaxNestingDepth = 1000;

/// Values a YAML document may expand to once its aliases are resolved ("billion laughs" guard). The
/// largest recipe or model config is a few hundred values.
inline constexpr std::size_t kMaxDocumentValues = 100'000;

/// Pixels one decoded image may have unless --max-image-pixels says otherwise: Pillow's default
/// (Image.MAX_IMAGE_PIXELS = 89,478,485, about a quarter gigapixel of RGB at 3 bytes each).
inline constexpr std::int64_t kDefaultMaxImagePixels = 89'478'485;

/// Parses JSON text with a nesting limit. Errors (std::invalid_argument) name `what`, the position and
/// what is wrong: malformed text, nesting deeper than kMaxNestingDepth, invalid UTF-8.
nlohmann::json parse_json(const std::string& text, const std::string& what);

/// Throws std::invalid_argument("<what>: line L: not UTF-8 text ...") unless `text` is valid UTF-8.
void check_utf8(const std::string& text, const std::string& what);

/// Throws std::invalid_argument("<what>: nested deeper than 1000 levels") when depth > kMaxNestingDepth.
void check_nesting_depth(int depth, const std::string& what);

}  // namespace attnzoo
