#pragma once
// Per-parameter learning rates a module asks for, as the official S4-style layers do with an `_optim` attribute on
// their parameters (SGConv's kernels and decay: lr 0.001). The trainers read them with parameter_lr_hints() and
// give those parameters that learning rate under the same schedule (timm / PyTorch parameter groups: each group's
// lr follows the schedule in proportion to its own base lr).
#include <string>
#include <vector>

namespace torch::nn {
class Module;
}

namespace attnzoo::modules {

struct ParameterLrHint {
  std::string name;  // the parameter's name relative to the module that gives the hint
  double lr;         // its base learning rate
};

/// Mixed into a module (beside torch::nn::Cloneable) whose parameters want their own learning rate.
class ParameterHints {
 public:
  virtual ~ParameterHints() = default;
  virtual std::vector<ParameterLrHint> parameter_lr_hints() const = 0;
};

/// Every hint of the modules in `model`, named as in model.named_parameters().
std::vector<ParameterLrHint> parameter_lr_hints(const torch::nn::Module& model);

}  // namespace attnzoo::modules
