#pragma once
// BatchNorm2d with LibTorch's options and its parameter and buffer names (weight, bias, running_mean, running_var,
// num_batches_tracked), which can also normalise with the statistics of the whole data-parallel batch
// (torch.nn.SyncBatchNorm; timm's --sync-bn) while a SyncBatchNormScope is open. Our own module because
// LibTorch's BatchNorm2dImpl cannot be subclassed across shared libraries and its forward has no hook.
#include <torch/nn/cloneable.h>
#include <torch/nn/options/batchnorm.h>
#include <torch/nn/pimpl.h>

#include <functional>
#include <ostream>

namespace attnzoo::modules {

/// Sums a tensor over every process of the data-parallel group, in place.
using AllReduceSum = std::function<void(at::Tensor&)>;

/// While open (on the thread that opened it, and for the backward of what it saw), every BatchNorm2d in training
/// mode uses the batch statistics of all processes: the per-channel sums are all-reduced in the forward and their
/// gradients in the backward, so N processes with B images each train as one process with N*B images. Every
/// process must run the same layers in the same order (data-parallel replicas do). Scopes nest; the innermost wins.
class SyncBatchNormScope {
 public:
  explicit SyncBatchNormScope(AllReduceSum all_reduce_sum);
  ~SyncBatchNormScope();
  SyncBatchNormScope(const SyncBatchNormScope&) = delete;
  SyncBatchNormScope& operator=(const SyncBatchNormScope&) = delete;

 private:
  int64_t id_, previous_;
};

/// The batch norm of `x` [B, C, ...] over every dimension but 1, as torch.nn.BatchNorm*d computes it (training:
/// batch statistics, the running ones updated with `momentum`, or the cumulative average when momentum is unset);
/// inside a SyncBatchNormScope with `training`, the statistics of every process. Undefined weight/bias: no affine;
/// undefined running buffers: batch statistics always.
at::Tensor batch_norm(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias, at::Tensor& running_mean,
                      at::Tensor& running_var, at::Tensor& num_batches_tracked, bool training,
                      c10::optional<double> momentum, double eps);

class BatchNorm2dImpl : public torch::nn::Cloneable<BatchNorm2dImpl> {
 public:
  explicit BatchNorm2dImpl(const torch::nn::BatchNormOptions& options);
  explicit BatchNorm2dImpl(int64_t num_features) : BatchNorm2dImpl(torch::nn::BatchNormOptions(num_features)) {}
  void reset() override;
  void pretty_print(std::ostream& os) const override;
  at::Tensor forward(const at::Tensor& x);

  torch::nn::BatchNormOptions options;
  at::Tensor weight, bias, running_mean, running_var, num_batches_tracked;
};
TORCH_MODULE(BatchNorm2d);

}  // namespace attnzoo::modules
