#include <attnzoo/modules/batch_norm.h>

#include <torch/autograd.h>
#include <torch/torch.h>

#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>

namespace attnzoo::modules {
namespace {

// Open scopes by id. The backward of a synchronised forward finds its all-reduce here by the id saved in its
// autograd context (an IValue cannot hold a std::function), so it also works on autograd's device threads.
std::mutex scopes_mutex;
std::map<int64_t, std::shared_ptr<AllReduceSum>> scopes;
int64_t next_scope_id = 0;
thread_local int64_t current_scope = -1;

std::shared_ptr<AllReduceSum> scope_reducer(int64_t id) {
  std::lock_guard<std::mutex> lock(scopes_mutex);
  const auto it = scopes.find(id);
  if (it == scopes.end())
    throw std::logic_error("SyncBatchNorm: the backward ran after its SyncBatchNormScope was closed: keep the scope "
                           "open until backward() returns");
  return it->second;
}

// Sum over the processes whose backward sums the gradients over the processes too: every process's loss depends on
// every process's statistics.
struct AllReduceSumFunction : public torch::autograd::Function<AllReduceSumFunction> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& x, int64_t scope) {
    ctx->saved_data["scope"] = scope;
    at::Tensor y = x.contiguous().clone();
    (*scope_reducer(scope))(y);
    return y;
  }
  static torch::autograd::tensor_list backward(torch::autograd::AutogradContext* ctx, torch::autograd::tensor_list grads) {
    at::Tensor g = grads[0].contiguous().clone();
    (*scope_reducer(ctx->saved_data["scope"].toInt()))(g);
    return {g, at::Tensor()};
  }
};

std::vector<int64_t> reduced_dims(const at::Tensor& x) {
  std::vector<int64_t> dims{0};
  for (int64_t d = 2; d < x.dim(); ++d) dims.push_back(d);
  return dims;
}

// One synchronised training-mode batch norm: the global mean from all-reduced sums and counts, then the global
// (biased) variance from all-reduced squared deviations from it, which stays exact where sum(x^2) - n*mean^2 would
// cancel. Statistics in float32 at least (as cuDNN's for half inputs).
at::Tensor synchronised_batch_norm(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias,
                                   at::Tensor& running_mean, at::Tensor& running_var, c10::optional<double> momentum,
                                   const at::Tensor& num_batches_tracked, double eps, int64_t scope) {
  const int64_t C = x.size(1);
  const auto dims = reduced_dims(x);
  const at::Tensor xs = (x.scalar_type() == at::kHalf || x.scalar_type() == at::kBFloat16) ? x.to(torch::kFloat) : x;
  std::vector<int64_t> shape(static_cast<size_t>(x.dim()), 1);
  shape[1] = C;
  const at::Tensor local_count = torch::full({1}, static_cast<double>(x.numel() / std::max<int64_t>(C, 1)), xs.options());
  const at::Tensor sums = AllReduceSumFunction::apply(torch::cat({xs.sum(dims), local_count}), scope);
  const double count = sums[C].item<double>();
  TORCH_CHECK(count > 1, "SyncBatchNorm: expected more than 1 value per channel over all processes, got ", count);
  const at::Tensor mean = sums.narrow(0, 0, C) / count;
  const at::Tensor centered = xs - mean.view(shape);
  const at::Tensor var = AllReduceSumFunction::apply(centered.square().sum(dims), scope) / count;
  at::Tensor y = centered * torch::rsqrt(var + eps).view(shape);
  if (weight.defined()) y = y * weight.view(shape);
  if (bias.defined()) y = y + bias.view(shape);
  if (running_mean.defined()) {
    torch::NoGradGuard no_grad;
    // torch's cumulative average when momentum is unset (reads the counter only then: a device sync on CUDA).
    const double m = momentum ? *momentum : 1.0 / num_batches_tracked.item<double>();
    running_mean.mul_(1 - m).add_(mean.detach().to(running_mean.dtype()), m);
    running_var.mul_(1 - m).add_(var.detach().to(running_var.dtype()) * (count / (count - 1)), m);
  }
  return y.to(x.scalar_type());
}

}  // namespace

SyncBatchNormScope::SyncBatchNormScope(AllReduceSum all_reduce_sum) : previous_(current_scope) {
  std::lock_guard<std::mutex> lock(scopes_mutex);
  id_ = next_scope_id++;
  scopes[id_] = std::make_shared<AllReduceSum>(std::move(all_reduce_sum));
  current_scope = id_;
}

SyncBatchNormScope::~SyncBatchNormScope() {
  std::lock_guard<std::mutex> lock(scopes_mutex);
  scopes.erase(id_);
  current_scope = previous_;
}

at::Tensor batch_norm(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias, at::Tensor& running_mean,
                      at::Tensor& running_var, at::Tensor& num_batches_tracked, bool training,
                      c10::optional<double> momentum, double eps) {
  const bool track = running_mean.defined();
  if (training && track && num_batches_tracked.defined()) {
    torch::NoGradGuard no_grad;
    num_batches_tracked.add_(1);
  }
  if (training && current_scope >= 0)
    return synchronised_batch_norm(x, weight, bias, running_mean, running_var, momentum, num_batches_tracked, eps,
                                   current_scope);
  // torch.nn.BatchNorm's factor: momentum, or the cumulative moving average 1 / num_batches_tracked when unset.
  double factor = momentum.value_or(0.0);
  if (training && track && !momentum) factor = 1.0 / num_batches_tracked.item<double>();
  return torch::batch_norm(x, weight, bias, running_mean, running_var, training || !track, factor, eps,
                           /*cudnn_enabled=*/true);
}

BatchNorm2dImpl::BatchNorm2dImpl(const torch::nn::BatchNormOptions& options_) : options(options_) { reset(); }

void BatchNorm2dImpl::reset() {
  const int64_t C = options.num_features();
  if (options.affine()) {
    weight = register_parameter("weight", torch::ones({C}));
    bias = register_parameter("bias", torch::zeros({C}));
  }
  if (options.track_running_stats()) {
    running_mean = register_buffer("running_mean", torch::zeros({C}));
    running_var = register_buffer("running_var", torch::ones({C}));
    num_batches_tracked = register_buffer("num_batches_tracked", torch::zeros({}, torch::kLong));
  }
}

void BatchNorm2dImpl::pretty_print(std::ostream& os) const {
  os << "attnzoo::BatchNorm2d(" << options.num_features() << ", eps=" << options.eps()
     << ", momentum=" << (options.momentum() ? std::to_string(*options.momentum()) : "None")
     << ", affine=" << options.affine() << ", track_running_stats=" << options.track_running_stats() << ")";
}

at::Tensor BatchNorm2dImpl::forward(const at::Tensor& x) {
  TORCH_CHECK(x.dim() == 4 && x.size(1) == options.num_features(), "BatchNorm2d: expected input [B, ",
              options.num_features(), ", H, W], got ", x.sizes());
  return batch_norm(x, weight, bias, running_mean, running_var, num_batches_tracked, is_training(), options.momentum(),
                    options.eps());
}

}  // namespace attnzoo::modules
