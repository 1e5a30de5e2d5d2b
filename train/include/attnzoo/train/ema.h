#pragma once
// Exponential moving average of a model's state (timm ModelEmaV2): every floating-point entry of the
// state dict (parameters and buffers) follows ema = decay * ema + (1 - decay) * value; integer
// buffers are copied.
#include <attnzoo/checkpoint/tensor_dict.h>

namespace torch::nn {
class Module;
}

namespace attnzoo::train {

class ModelEma {
 public:
  ModelEma(const torch::nn::Module& model, double decay);
  void update(const torch::nn::Module& model);
  const checkpoint::TensorDict& state() const { return state_; }
  void load(const checkpoint::TensorDict& state);
  double decay() const { return decay_; }

 private:
  double decay_;
  checkpoint::TensorDict state_;
};

}  // namespace attnzoo::train
