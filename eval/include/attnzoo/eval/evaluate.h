#pragma once
// Evaluation of a classifier over a loader: top-1 / top-5 accuracy, mean cross-entropy, throughput.
#include <attnzoo/datasets/loader.h>
#include <attnzoo/models/classifier.h>

#include <functional>

namespace attnzoo::eval {

struct EvalResult {
  double top1 = 0, top5 = 0, loss = 0;  // accuracies in percent
  int64_t count = 0;
  double seconds = 0;
  double images_per_second() const { return seconds > 0 ? count / seconds : 0; }
};

/// Runs the model in eval mode without gradients. `progress(batch, total)` is called after each batch.
EvalResult evaluate(models::ClassifierImpl& model, datasets::Loader& loader, const at::Device& device,
                    const std::function<void(int64_t, int64_t)>& progress = nullptr);

/// Counts of correct top-k predictions (k = 1 and 5, or fewer when there are fewer classes).
std::pair<int64_t, int64_t> topk_correct(const at::Tensor& logits, const at::Tensor& labels);

}  // namespace attnzoo::eval
