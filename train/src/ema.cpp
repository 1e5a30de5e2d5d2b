#include <attnzoo/train/ema.h>

#include <attnzoo/checkpoint/state_dict.h>

#include <torch/torch.h>

namespace attnzoo::train {

ModelEma::ModelEma(const torch::nn::Module& model, double decay) : decay_(decay) {
  for (const auto& item : checkpoint::state_dict(model)) state_.insert(item.key(), item.value().detach().clone());
}

void ModelEma::update(const torch::nn::Module& model) {
  torch::NoGradGuard ng;
  for (const auto& item : checkpoint::state_dict(model)) {
    at::Tensor& e = state_[item.key()];
    if (e.is_floating_point()) e.mul_(decay_).add_(item.value().detach(), 1.0 - decay_);
    else e.copy_(item.value());
  }
}

void ModelEma::load(const checkpoint::TensorDict& state) {
  torch::NoGradGuard ng;
  for (auto& item : state_) {
    const at::Tensor* src = state.find(item.key());
    if (!src) throw std::runtime_error("EMA state has no '" + item.key() + "'");
    item.value().copy_(*src);
  }
}

}  // namespace attnzoo::train
