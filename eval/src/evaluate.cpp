#include <attnzoo/eval/evaluate.h>

#include <torch/torch.h>

#include <chrono>

namespace attnzoo::eval {

std::pair<int64_t, int64_t> topk_correct(const at::Tensor& logits, const at::Tensor& labels) {
  const int64_t k = std::min<int64_t>(5, logits.size(1));
  const auto top = std::get<1>(logits.topk(k, 1));
  const auto hit = top.eq(labels.view({-1, 1}));
  return {hit.narrow(1, 0, 1).sum().item<int64_t>(), hit.sum().item<int64_t>()};
}

EvalResult evaluate(models::ClassifierImpl& model, datasets::Loader& loader, const at::Device& device,
                    const std::function<void(int64_t, int64_t)>& progress) {
  // Inference mode, not just no-grad: no version counters or autograd metadata on any tensor.
  c10::InferenceMode guard;
  const bool was_training = model.is_training();
  model.eval();
  EvalResult r;
  int64_t c1 = 0, c5 = 0;
  double loss_sum = 0;
  const auto t0 = std::chrono::steady_clock::now();
  loader.start_epoch(0);
  const int64_t total = loader.num_batches();
  while (auto b = loader.next()) {
    const auto x = b->images.to(device), y = b->labels.to(device);
    const auto logits = model.forward(x);
    TORCH_CHECK(logits.size(1) > y.max().item<int64_t>(), "the model has ", logits.size(1),
                " classes but the data has labels up to ", y.max().item<int64_t>());
    loss_sum += torch::nn::functional::cross_entropy(logits, y, torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum)).item<double>();
    auto [a, b5] = topk_correct(logits, y);
    c1 += a;
    c5 += b5;
    r.count += y.size(0);
    if (progress) progress(b->index + 1, total);
  }
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (r.count > 0) {
    r.top1 = 100.0 * c1 / r.count;
    r.top5 = 100.0 * c5 / r.count;
    r.loss = loss_sum / r.count;
  }
  if (was_training) model.train();
  return r;
}

}  // namespace attnzoo::eval
