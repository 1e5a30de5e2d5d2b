#pragma once
// Helpers for the per-family register_<family>_modules() functions: an entry whose constructor
// arguments are an Options' argument table (visit_args), and the forward adapters the parity harness
// and `attnzoo forward --module` call modules through.
#include <attnzoo/core/arg_table.h>
#include <attnzoo/modules/module_registry.h>

#include <ATen/core/Tensor.h>
#include <c10/util/Exception.h>

#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

namespace attnzoo::modules {

/// forward(x): one NCHW / NLC tensor in, one out.
struct UnaryForward {
  static std::vector<std::string> inputs() { return {"x"}; }
  static std::vector<std::string> forward_args() { return {}; }
  template <typename Holder>
  BuiltModule operator()(Holder m) const {
    return {m.ptr(), [m](const std::vector<at::Tensor>& in, const nlohmann::json&) mutable {
              TORCH_CHECK(in.size() == 1, "module takes one input tensor, got ", in.size());
              return std::vector<at::Tensor>{m->forward(in[0])};
            }};
  }
};

/// forward(tokens, {H, W}): the map size from extra {"size": [H, W]}.
struct SizedForward {
  static std::vector<std::string> inputs() { return {"x"}; }
  static std::vector<std::string> forward_args() { return {"size"}; }
  template <typename Holder>
  BuiltModule operator()(Holder m) const {
    return {m.ptr(), [m](const std::vector<at::Tensor>& in, const nlohmann::json& extra) mutable {
              TORCH_CHECK(in.size() == 1, "module takes one input tensor, got ", in.size());
              if (!extra.contains("size")) throw std::invalid_argument("this block needs the map size: extra {\"size\": [H, W]}");
              const auto s = extra.at("size").get<std::vector<int64_t>>();
              TORCH_CHECK(s.size() == 2, "size must be [H, W]");
              return std::vector<at::Tensor>{m->forward(in[0], {s[0], s[1]})};
            }};
  }
};

/// forward(tokens, H, W) on an H x W map: extra {"H", "W"}, else the fixed size given here, else the
/// square side sqrt(N) (the official classification code's assumption).
struct MapForward {
  int64_t fixed_h = 0, fixed_w = 0;
  static std::vector<std::string> inputs() { return {"x"}; }
  static std::vector<std::string> forward_args() { return {"H", "W"}; }
  template <typename Holder>
  BuiltModule operator()(Holder m) const {
    const int64_t fh = fixed_h, fw = fixed_w;
    return {m.ptr(), [m, fh, fw](const std::vector<at::Tensor>& in, const nlohmann::json& extra) mutable {
              TORCH_CHECK(in.size() == 1, "module takes one input tensor, got ", in.size());
              int64_t H = fh, W = fw;
              if (extra.contains("H")) {
                H = extra.at("H").get<int64_t>();
                W = extra.at("W").get<int64_t>();
              } else if (H == 0) {
                H = W = static_cast<int64_t>(std::llround(std::sqrt(static_cast<double>(in[0].size(1)))));
              }
              return std::vector<at::Tensor>{m->forward(in[0], H, W)};
            }};
  }
};

/// forward(x, mask): x and an optional second input, a boolean (or 0/1 integer) attention mask.
struct MaskedForward {
  static std::vector<std::string> inputs() { return {"x", "mask"}; }
  static std::vector<std::string> forward_args() { return {}; }
  template <typename Holder>
  BuiltModule operator()(Holder m) const {
    return {m.ptr(), [m](const std::vector<at::Tensor>& in, const nlohmann::json&) mutable {
              TORCH_CHECK(in.size() == 1 || in.size() == 2, "module takes x and an optional mask, got ", in.size(), " inputs");
              const at::Tensor mask = in.size() == 2 ? in[1].to(at::kBool) : at::Tensor();
              return std::vector<at::Tensor>{m->forward(in[0], mask)};
            }};
  }
};

/// An entry built from `Options`' argument table; `prototype` holds the official class's defaults.
template <class Module, class Options, class Forward = UnaryForward>
ModuleEntry module_entry(const std::string& family, const std::string& official, std::string cpp_name,
                         std::string description, Options prototype, Forward forward = {}) {
  const std::string owner = family + "." + official;
  ModuleEntry e{family, official, std::move(cpp_name), std::move(description), {}, args_of(prototype),
                Forward::inputs(), Forward::forward_args()};
  e.build = [owner, prototype, forward](const nlohmann::json& config) {
    return forward(Module(options_from_args(config, owner, prototype)));
  };
  return e;
}

/// `config` without `key` (an argument the entry reads itself, e.g. the map size of a block).
nlohmann::json without_arg(const nlohmann::json& config, const std::string& key);

}  // namespace attnzoo::modules
