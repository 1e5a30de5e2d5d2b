#include <attnzoo/modules/alibi.h>

#include <c10/util/Exception.h>

#include <cmath>

namespace attnzoo::modules {

namespace {

std::vector<double> power_of_two_slopes(int64_t n) {
  const double start = std::pow(2.0, -std::pow(2.0, -(std::log2(static_cast<double>(n)) - 3)));
  std::vector<double> s;
  for (int64_t i = 0; i < n; ++i) s.push_back(start * std::pow(start, static_cast<double>(i)));
  return s;
}

}  // namespace

std::vector<double> alibi_slopes(int64_t heads) {
  TORCH_CHECK(heads > 0, "ALiBi slopes need a positive number of heads, got ", heads);
  const double lg = std::log2(static_cast<double>(heads));
  if (lg == std::floor(lg)) return power_of_two_slopes(heads);
  const int64_t closest = int64_t{1} << static_cast<int64_t>(std::floor(lg));
  std::vector<double> s = power_of_two_slopes(closest);
  const std::vector<double> next = alibi_slopes(2 * closest);
  for (size_t i = 0; i < next.size() && static_cast<int64_t>(s.size()) < heads; i += 2) s.push_back(next[i]);
  return s;
}

}  // namespace attnzoo::modules
