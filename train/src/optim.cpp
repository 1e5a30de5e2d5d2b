#include <attnzoo/train/optim.h>

#include "fused_adamw.h"

#include <attnzoo/modules/optim_hints.h>

#include <torch/nn/module.h>
#include <torch/torch.h>

#include <ATen/Dispatch.h>

#include <cmath>
#include <stdexcept>

namespace attnzoo::train {

std::vector<Param> param_groups(const torch::nn::Module& model, const std::vector<std::string>& no_decay) {
  std::vector<Param> out;
  for (const auto& p : model.named_parameters()) {
    if (!p.value().requires_grad()) continue;
    bool decay = p.value().dim() > 1;
    for (const auto& n : no_decay) {
      const std::string& k = p.key();
      if (k == n || (k.size() > n.size() && k.compare(k.size() - n.size(), n.size(), n) == 0 && k[k.size() - n.size() - 1] == '.'))
        decay = false;
    }
    out.push_back({p.key(), p.value(), decay});
  }
  return out;
}

int64_t apply_lr_hints(std::vector<Param>& params, const torch::nn::Module& model, double base_lr) {
  int64_t n = 0;
  for (const auto& h : modules::parameter_lr_hints(model))
    for (auto& p : params)
      if (p.name == h.name) {
        if (!(base_lr > 0)) throw std::invalid_argument("a per-parameter lr needs a positive base lr");
        p.lr_scale = h.lr / base_lr;
        ++n;
      }
  return n;
}

void Optimizer::zero_grad() {
  for (auto& p : params_)
    if (p.tensor.grad().defined()) p.tensor.mutable_grad().zero_();
}

at::Tensor Optimizer::state(size_t i, const std::string& key) {
  if (state_.size() != params_.size()) state_.resize(params_.size());
  for (auto& [k, t] : state_[i])
    if (k == key) return t;
  state_[i].emplace_back(key, torch::zeros_like(params_[i].tensor, torch::MemoryFormat::Preserve));
  return state_[i].back().second;
}

std::pair<at::Tensor, at::Tensor> Optimizer::update_moments(size_t i, const at::Tensor& g) {
  auto m = state(i, "exp_avg");
  auto v = state(i, "exp_avg_sq");
  m.mul_(o_.beta1).add_(g, 1 - o_.beta1);
  v.mul_(o_.beta2).addcmul_(g, g, 1 - o_.beta2);
  return {m, v};
}

checkpoint::TensorDict Optimizer::state_dict() const {
  checkpoint::TensorDict d;
  d.insert("step", torch::tensor(step_, torch::kLong));
  for (size_t i = 0; i < state_.size(); ++i)
    for (const auto& [k, t] : state_[i]) d.insert(params_[i].name + "." + k, t);
  return d;
}

void Optimizer::load_state_dict(const checkpoint::TensorDict& d) {
  const at::Tensor* s = d.find("step");
  if (!s) throw std::runtime_error("optimizer state has no 'step'");
  step_ = s->item<int64_t>();
  state_.assign(params_.size(), {});
  for (size_t i = 0; i < params_.size(); ++i) {
    const std::string prefix = params_[i].name + ".";
    for (const auto& item : d)
      if (item.key().rfind(prefix, 0) == 0 && item.key().find('.', prefix.size()) == std::string::npos) {
        if (item.value().sizes() != params_[i].tensor.sizes())
          throw std::runtime_error("optimizer state '" + item.key() + "' has the wrong shape");
        state_[i].emplace_back(item.key().substr(prefix.size()), item.value().to(params_[i].tensor.options()).clone());
      }
  }
}

namespace {

class AdamW : public Optimizer {
 public:
  using Optimizer::Optimizer;
  void step(double lr) override {
    torch::NoGradGuard ng;
    ++step_;
    const double bc1 = 1 - std::pow(o_.beta1, step_), bc2 = 1 - std::pow(o_.beta2, step_);
    for (size_t i = 0; i < params_.size(); ++i) {
      auto& p = params_[i].tensor;
      if (!p.grad().defined()) continue;
      const double wd = params_[i].decay ? o_.weight_decay : 0.0, plr = lr * params_[i].lr_scale;
      auto m = state(i, "exp_avg");
      auto v = state(i, "exp_avg_sq");
      if (o_.fused && fusable(p, p.grad(), m, v)) {
        const kernels::AdamWStep s{plr, wd, o_.beta1, o_.beta2, o_.eps, bc1, bc2};
        AT_DISPATCH_FLOATING_TYPES(p.scalar_type(), "fused_adamw", [&] {
          kernels::fused_adamw<scalar_t>(s, p.data_ptr<scalar_t>(), p.grad().data_ptr<scalar_t>(), m.data_ptr<scalar_t>(),
                                         v.data_ptr<scalar_t>(), p.numel());
        });
        continue;
      }
      if (wd > 0) p.mul_(1 - plr * wd);
      update_moments(i, p.grad());
      const auto denom = (v.sqrt() / std::sqrt(bc2)).add_(o_.eps);
      p.addcdiv_(m, denom, -plr / bc1);
    }
  }

 private:
  // The fused loop walks the storages element by element: same dtype, CPU, dense, identical strides.
  static bool fusable(const at::Tensor& p, const at::Tensor& g, const at::Tensor& m, const at::Tensor& v) {
    const bool floating = p.scalar_type() == at::kFloat || p.scalar_type() == at::kDouble;
    bool same = true;
    for (const at::Tensor* t : {&g, &m, &v})
      same = same && t->scalar_type() == p.scalar_type() && t->device().is_cpu() && t->strides() == p.strides() &&
             t->sizes() == p.sizes();
    return floating && same && p.device().is_cpu() && p.is_non_overlapping_and_dense();
  }
};

class SGD : public Optimizer {
 public:
  using Optimizer::Optimizer;
  void step(double lr) override {
    torch::NoGradGuard ng;
    ++step_;
    for (size_t i = 0; i < params_.size(); ++i) {
      auto& p = params_[i].tensor;
      if (!p.grad().defined()) continue;
      at::Tensor d = p.grad();
      if (params_[i].decay && o_.weight_decay > 0) d = d.add(p, o_.weight_decay);
      if (o_.momentum > 0) {
        auto buf = state(i, "momentum_buffer");
        if (step_ == 1) buf.copy_(d);
        else buf.mul_(o_.momentum).add_(d);
        d = o_.nesterov ? d.add(buf, o_.momentum) : buf;
      }
      p.add_(d, -lr * params_[i].lr_scale);
    }
  }
};

// LAMB (You et al. 2019) as in timm/optim/lamb.py: Adam moments with bias correction, decoupled weight
// decay added to the update, then a per-tensor trust ratio ||p|| / ||update||.
class Lamb : public Optimizer {
 public:
  using Optimizer::Optimizer;
  void step(double lr) override {
    torch::NoGradGuard ng;
    ++step_;
    const double bc1 = 1 - std::pow(o_.beta1, step_), bc2 = 1 - std::pow(o_.beta2, step_);
    for (size_t i = 0; i < params_.size(); ++i) {
      auto& p = params_[i].tensor;
      if (!p.grad().defined()) continue;
      auto [m, v] = update_moments(i, p.grad());
      at::Tensor update = (m / bc1) / ((v / bc2).sqrt() + o_.eps);
      if (params_[i].decay && o_.weight_decay > 0) update.add_(p, o_.weight_decay);
      const double wn = p.norm().item<double>(), un = update.norm().item<double>();
      const double trust = (wn > 0 && un > 0) ? wn / un : 1.0;
      p.add_(update, -lr * params_[i].lr_scale * trust);
    }
  }
};

}  // namespace

std::unique_ptr<Optimizer> make_optimizer(std::vector<Param> params, const OptimizerOptions& o) {
  if (o.name == "adamw") return std::make_unique<AdamW>(std::move(params), o);
  if (o.name == "sgd") return std::make_unique<SGD>(std::move(params), o);
  if (o.name == "lamb") return std::make_unique<Lamb>(std::move(params), o);
  throw std::invalid_argument("--opt " + o.name + ": expected adamw, sgd or lamb");
}

double clip_grad_norm(const std::vector<Param>& params, double max_norm) {
  torch::NoGradGuard ng;
  double total = 0;
  for (const auto& p : params)
    if (p.tensor.grad().defined()) total += p.tensor.grad().pow(2).sum().item<double>();
  total = std::sqrt(total);
  if (max_norm > 0 && total > max_norm) {
    const double scale = max_norm / (total + 1e-6);
    for (const auto& p : params)
      if (p.tensor.grad().defined()) p.tensor.mutable_grad().mul_(scale);
  }
  return total;
}

}  // namespace attnzoo::train
