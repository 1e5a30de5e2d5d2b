#pragma once
// Natural ordering of names ("van_b2" < "van_b10", "class9" < "class10"), shared by the model registry
// and the ImageFolder class/file order. Header-only; lives in the lowest library so both can use it.
#include <algorithm>
#include <cctype>
#include <string>

namespace attnzoo {

inline bool natural_less(const std::string& a, const std::string& b) {
  auto digit = [](char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; };
  size_t i = 0, j = 0;
  while (i < a.size() && j < b.size()) {
    if (digit(a[i]) && digit(b[j])) {
      size_t ie = i, je = j;
      while (ie < a.size() && digit(a[ie])) ++ie;
      while (je < b.size() && digit(b[je])) ++je;
      // Compare the numbers without leading zeros: first by length, then lexically.
      const size_t za = std::min(a.find_first_not_of('0', i), ie), zb = std::min(b.find_first_not_of('0', j), je);
      if (ie - za != je - zb) return ie - za < je - zb;
      const int c = a.compare(za, ie - za, b, zb, je - zb);
      if (c != 0) return c < 0;
      i = ie;
      j = je;
    } else {
      if (a[i] != b[j]) return a[i] < b[j];
      ++i;
      ++j;
    }
  }
  return a.size() - i < b.size() - j;
}

}  // namespace attnzoo
