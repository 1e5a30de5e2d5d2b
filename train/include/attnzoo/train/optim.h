#pragma once
// Optimizers with timm's conventions and a state that serialises to named tensors (so the whole
// training state fits in one safetensors checkpoint): AdamW, SGD (momentum, Nesterov), LAMB.
// Parameter groups: weight decay off for norms, biases (any 1-D tensor) and the model's
// no_weight_decay() names, as timm's param_groups_weight_decay does.
#include <attnzoo/checkpoint/tensor_dict.h>

#include <memory>
#include <string>
#include <vector>

namespace torch::nn {
class Module;
}

namespace attnzoo::train {

struct OptimizerOptions {
  std::string name = "adamw";  // adamw | sgd | lamb
  double weight_decay = 0.05;
  double momentum = 0.9;        // sgd
  bool nesterov = true;         // sgd (timm's "sgd" is Nesterov)
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;  // adamw, lamb
  /// adamw: one fused pass per parameter (CPU, float32/64, dense) instead of the ATen ops, which stay
  /// as the reference (false) and for every other tensor.
  bool fused = true;
};

struct Param {
  std::string name;
  at::Tensor tensor;
  bool decay = true;
  /// This parameter's learning rate over the scheduled one (timm's group "lr_scale"): a module's own lr hint
  /// (modules/optim_hints.h) divided by the base lr.
  double lr_scale = 1.0;
};

/// Splits the model's trainable parameters into decay / no-decay (1-D tensors and names matching
/// `no_decay`, exactly or as a suffix after a '.').
std::vector<Param> param_groups(const torch::nn::Module& model, const std::vector<std::string>& no_decay);

/// Sets lr_scale = hint lr / base_lr on the parameters the model's modules give an lr of their own
/// (modules::parameter_lr_hints; SGConv's kernels). Returns how many parameters got one.
int64_t apply_lr_hints(std::vector<Param>& params, const torch::nn::Module& model, double base_lr);

class Optimizer {
 public:
  Optimizer(std::vector<Param> params, OptimizerOptions options) : params_(std::move(params)), o_(std::move(options)) {}
  virtual ~Optimizer() = default;
  /// One update with learning rate `lr` from the gradients in .grad().
  virtual void step(double lr) = 0;
  void zero_grad();
  /// Named state tensors ("<param>.exp_avg", ..., "step").
  checkpoint::TensorDict state_dict() const;
  /// Restores a state written by state_dict(); throws naming the first missing entry.
  void load_state_dict(const checkpoint::TensorDict& state);
  const std::vector<Param>& params() const { return params_; }
  const OptimizerOptions& options() const { return o_; }
  int64_t steps() const { return step_; }

 protected:
  // Returned by value: tensors are shared handles, and a reference into the vector would dangle
  // when a later call appends to it.
  at::Tensor state(size_t i, const std::string& key);
  /// Adam's moment updates for parameter i (AdamW, LAMB): m = b1 m + (1-b1) g, v = b2 v + (1-b2) g^2.
  std::pair<at::Tensor, at::Tensor> update_moments(size_t i, const at::Tensor& grad);
  std::vector<Param> params_;
  OptimizerOptions o_;
  int64_t step_ = 0;
  std::vector<std::vector<std::pair<std::string, at::Tensor>>> state_;
};

/// Creates the optimizer named in options.name; throws std::invalid_argument for unknown names.
std::unique_ptr<Optimizer> make_optimizer(std::vector<Param> params, const OptimizerOptions& options);

/// Clips the global L2 norm of the gradients; returns the norm before clipping.
double clip_grad_norm(const std::vector<Param>& params, double max_norm);

}  // namespace attnzoo::train
