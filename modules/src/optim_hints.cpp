#include <attnzoo/modules/optim_hints.h>

#include <torch/nn/module.h>

namespace attnzoo::modules {

std::vector<ParameterLrHint> parameter_lr_hints(const torch::nn::Module& model) {
  std::vector<ParameterLrHint> out;
  for (const auto& item : model.named_modules(/*name_prefix=*/"", /*include_self=*/true)) {
    const auto* hints = dynamic_cast<const ParameterHints*>(item.value().get());
    if (!hints) continue;
    const std::string prefix = item.key().empty() ? "" : item.key() + ".";
    for (const auto& h : hints->parameter_lr_hints()) out.push_back({prefix + h.name, h.lr});
  }
  return out;
}

}  // namespace attnzoo::modules
