#include <attnzoo/core/input_limits.h>

#include <stdexcept>

namespace attnzoo {
namespace {

// Length of the UTF-8 sequence starting at s[i] (1-4), or 0 when it is not a valid, shortest-form one.
std::size_t utf8_sequence_length(const std::string& s, std::size_t i) {
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = byte(i);
  if (c < 0x80) return 1;
  std::size_t n = 0;
  std::uint32_t cp = 0;
  if ((c & 0xE0) == 0xC0) n = 2, cp = c & 0x1F;
  else if ((c & 0xF0) == 0xE0) n = 3, cp = c & 0x0F;
  else if ((c & 0xF8) == 0xF0) n = 4, cp = c & 0x07;
  else return 0;
  if (i + n > s.size()) return 0;
  for (std::size_t k = 1; k < n; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (byte(i + k) & 0x3F);
  }
  static const std::uint32_t kMinForLength[5] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kMinForLength[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return n;
}

}  // namespace

void check_nesting_depth(int depth, const std::string& what) {
  if (depth > kMaxNestingDepth)
    throw std::invalid_argument(what + ": nested deeper than " + std::to_string(kMaxNestingDepth) + " levels");
}

void check_utf8(const std::string& text, const std::string& what) {
  std::size_t line = 1;
  for (std::size_t i = 0; i < text.size();) {
    const std::size_t n = utf8_sequence_length(text, i);
    if (n == 0)
      throw std::invalid_argument(what + ": line " + std::to_string(line) + ": not UTF-8 text (byte " +
                                  std::to_string(i) + ")");
    if (text[i] == '\n') ++line;
    i += n;
  }
}

nlohmann::json parse_json(const std::string& text, const std::string& what) {
  check_utf8(text, what);
  // The parser itself keeps its own stack; the limit protects everything that walks the result
  // recursively afterwards (dump, comparison, our converters).
  const nlohmann::json::parser_callback_t limit_depth = [&](int depth, nlohmann::json::parse_event_t event,
                                                           nlohmann::json&) {
    if (event == nlohmann::json::parse_event_t::object_start || event == nlohmann::json::parse_event_t::array_start)
      check_nesting_depth(depth + 1, what);
    return true;
  };
  try {
    return nlohmann::json::parse(text, limit_depth);
  } catch (const nlohmann::json::exception& e) {  // parse_error, or out_of_range for numbers like 1e400
    throw std::invalid_argument(what + ": malformed JSON: " + e.what());
  }
}

}  // namespace attnzoo
