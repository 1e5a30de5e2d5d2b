#include <attnzoo/core/args.h>

#include <cmath>
#include <cstdio>
#include <regex>

namespace attnzoo {
namespace {

// Arguments that size something: zero or negative values are never meaningful.
bool is_size_argument(const std::string& key) {
  static const std::set<std::string> sizes = {
      "dim", "dims", "embed_dim", "embed_dims", "num_heads", "heads", "in_chans", "img_size", "patch_size",
      "patch_sizes", "num_stages", "window_size", "mlp_ratio", "mlp_ratios", "head_dim",
      "hidden_dim", "hidden_features", "in_features", "out_features", "channels", "stem_chs", "block_size"};
  return sizes.count(key) > 0;
}

void collect_integers(const nlohmann::json& v, std::vector<double>& out, bool& not_integer) {
  if (v.is_number()) {
    const double x = v.get<double>();
    if (v.is_number_float() && (std::floor(x) != x || std::fabs(x) > 9007199254740992.0)) not_integer = true;
    out.push_back(x);
  } else if (v.is_array()) {
    for (const auto& x : v) {
      if (x.is_array())
        for (const auto& y : x) collect_integers(y, out, not_integer);  // lists of lists: two levels at most
      else
        collect_integers(x, out, not_integer);
    }
  }
}

}  // namespace

void check_integer_arg(const std::string& owner, const std::string& key, const nlohmann::json& value) {
  std::vector<double> xs;
  bool not_integer = false;
  collect_integers(value, xs, not_integer);
  const std::string what = owner + ": argument '" + key + "' ";
  if (not_integer) throw std::invalid_argument(what + "must be integer(s), got " + value.dump());
  constexpr double kMaxInteger = 1 << 20;
  double total = 0;
  for (double x : xs) {
    if (std::fabs(x) > kMaxInteger)
      throw std::invalid_argument(what + "is out of range: " + value.dump() + " (|value| <= 1048576)");
    if (is_size_argument(key) && x < 1) throw std::invalid_argument(what + "must be at least 1, got " + value.dump());
    // kernel_size 0 means "no convolution" in UniRepLKNetBlock; the modules that need a kernel check it themselves.
    if (key == "kernel_size" && x < 0) throw std::invalid_argument(what + "must not be negative, got " + value.dump());
    if ((key == "depths" || key == "depth") && x < 0)
      throw std::invalid_argument(what + "must not be negative, got " + value.dump());
    total += x;
  }
  if ((key == "depths" || key == "depth") && total > 1000)
    throw std::invalid_argument(what + "asks for " + std::to_string(static_cast<long long>(total)) +
                                " blocks; at most 1000 are allowed");
}


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
