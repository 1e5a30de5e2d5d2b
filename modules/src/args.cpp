#include <attnzoo/modules/args.h>

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

}  // namespace attnzoo
