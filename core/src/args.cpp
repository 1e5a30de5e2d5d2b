#include <attnzoo/core/args.h>

#include <cstdio>
#include <regex>

namespace attnzoo {

double layer_norm_eps(const std::string& spec, const std::string& owner) {
  if (spec.find("LayerNorm") == std::string::npos)
    throw std::invalid_argument(owner + ": norm_layer must be a LayerNorm (got '" + spec + "')");
  static const std::regex eps_re(R"(eps\s*=\s*([0-9.eE+-]+))");
  std::smatch m;
  if (std::regex_search(spec, m, eps_re)) return std::stod(m[1].str());
  return 1e-5;  // nn.LayerNorm's default
}

std::string layer_norm_spec(double eps) {
  if (eps == 1e-5) return "nn.LayerNorm";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", eps);
  // Shortest text that reads back as the same double (Python's repr does the same).
  for (int digits = 1; digits <= 17; ++digits) {
    std::snprintf(buf, sizeof buf, "%.*g", digits, eps);
    if (std::stod(buf) == eps) break;
  }
  return std::string("functools.partial(torch.nn.LayerNorm, eps=") + buf + ")";
}

}  // namespace attnzoo
