// attnzoo::modules::BatchNorm2d: LibTorch's BatchNorm2d numbers and state_dict, and SyncBatchNorm: two replicas
// (threads here, processes in test_distributed.cpp) that each see half a batch normalise, back-propagate and update
// their running statistics exactly as one BatchNorm seeing the whole batch.
#include <attnzoo/modules/batch_norm.h>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <condition_variable>
#include <mutex>
#include <thread>

using namespace attnzoo;

namespace {

// An in-process all-reduce for `parties` threads: each call blocks until every party has added its tensor, then
// every party gets the sum. Collectives happen in the same order on every party, as over a real process group.
class ThreadAllReduce {
 public:
  explicit ThreadAllReduce(int parties) : parties_(parties) {}
  void sum(at::Tensor& t) {
    std::unique_lock<std::mutex> lock(m_);
    const int64_t generation = generation_;
    total_ = arrived_ == 0 ? t.clone() : total_ + t;
    if (++arrived_ == parties_) {
      result_ = total_;
      arrived_ = 0;
      ++generation_;
      cv_.notify_all();
    } else {
      cv_.wait(lock, [&] { return generation_ != generation; });
    }
    t.copy_(result_);
  }

 private:
  const int parties_;
  std::mutex m_;
  std::condition_variable cv_;
  int arrived_ = 0;
  int64_t generation_ = 0;
  at::Tensor total_, result_;
};

TEST(BatchNorm2d, MatchesLibTorchsBatchNorm2d) {
  torch::manual_seed(0);
  torch::nn::BatchNorm2d theirs(torch::nn::BatchNormOptions(5).momentum(0.3));
  modules::BatchNorm2d ours(torch::nn::BatchNormOptions(5).momentum(0.3));
  {
    torch::NoGradGuard no_grad;
    theirs->weight.uniform_(0.5, 1.5);
    theirs->bias.uniform_(-1, 1);
    ours->weight.copy_(theirs->weight);
    ours->bias.copy_(theirs->bias);
  }
  std::vector<std::string> keys_theirs, keys_ours;
  for (const auto& p : theirs->named_parameters()) keys_theirs.push_back(p.key());
  for (const auto& b : theirs->named_buffers()) keys_theirs.push_back(b.key());
  for (const auto& p : ours->named_parameters()) keys_ours.push_back(p.key());
  for (const auto& b : ours->named_buffers()) keys_ours.push_back(b.key());
  EXPECT_EQ(keys_ours, keys_theirs);
  const at::Tensor x = torch::randn({4, 5, 3, 2}, torch::kDouble);
  theirs->to(torch::kDouble);
  ours->to(torch::kDouble);
  for (int step = 0; step < 2; ++step) EXPECT_TRUE(ours(x * (step + 1)).allclose(theirs(x * (step + 1)), 1e-12, 1e-12));
  EXPECT_TRUE(ours->running_mean.allclose(theirs->running_mean, 1e-12, 1e-12));
  EXPECT_TRUE(ours->running_var.allclose(theirs->running_var, 1e-12, 1e-12));
  EXPECT_EQ(ours->num_batches_tracked.item<int64_t>(), 2);
  ours->eval();
  theirs->eval();
  EXPECT_TRUE(ours(x).allclose(theirs(x), 1e-12, 1e-12));
  EXPECT_THROW(ours(torch::randn({2, 4, 3, 3})), c10::Error);
}

TEST(SyncBatchNorm, TwoReplicasWithHalfBatchesEqualOneFullBatch) {
  torch::manual_seed(1);
  const auto options = torch::nn::BatchNormOptions(3).momentum(0.2);
  const at::Tensor x = torch::randn({6, 3, 4, 5}, torch::kDouble) * 3 + 2;
  const at::Tensor w = torch::randn({6, 3, 4, 5}, torch::kDouble);  // the loss: sum(w * y^2), not balanced
  auto make = [&] {
    modules::BatchNorm2d bn(options);
    bn->to(torch::kDouble);
    torch::NoGradGuard no_grad;
    bn->weight.copy_(torch::tensor({0.5, 1.0, 2.0}, torch::kDouble));
    bn->bias.copy_(torch::tensor({0.1, -0.2, 0.3}, torch::kDouble));
    return bn;
  };
  // Reference: one BatchNorm over the whole batch.
  modules::BatchNorm2d full = make();
  const at::Tensor xf = x.clone().requires_grad_(true);
  const at::Tensor yf = full(xf);
  (w * yf.square()).sum().backward();

  // Two replicas on halves, their losses summed as data parallelism averages them (times 2).
  ThreadAllReduce reduce(2);
  std::vector<modules::BatchNorm2d> replicas = {make(), make()};
  std::vector<at::Tensor> inputs(2), outputs(2);
  auto replica = [&](int r) {
    modules::SyncBatchNormScope sync([&](at::Tensor& t) { reduce.sum(t); });
    inputs[r] = x.narrow(0, 3 * r, 3).clone().requires_grad_(true);
    outputs[r] = replicas[r](inputs[r]);
    (w.narrow(0, 3 * r, 3) * outputs[r].square()).sum().backward();
  };
  std::thread other(replica, 1);
  replica(0);
  other.join();

  EXPECT_LT((torch::cat({outputs[0], outputs[1]}) - yf).abs().max().item<double>(), 1e-12);
  const at::Tensor grad_x = torch::cat({inputs[0].grad(), inputs[1].grad()});
  EXPECT_LT((grad_x - xf.grad()).abs().max().item<double>(), 1e-12);
  for (int r = 0; r < 2; ++r) {
    EXPECT_LT((replicas[r]->running_mean - full->running_mean).abs().max().item<double>(), 1e-12) << r;
    EXPECT_LT((replicas[r]->running_var - full->running_var).abs().max().item<double>(), 1e-12) << r;
  }
  // Parameter gradients: each replica holds its share; their sum is the full batch's.
  EXPECT_LT((replicas[0]->weight.grad() + replicas[1]->weight.grad() - full->weight.grad()).abs().max().item<double>(), 1e-12);
  EXPECT_LT((replicas[0]->bias.grad() + replicas[1]->bias.grad() - full->bias.grad()).abs().max().item<double>(), 1e-12);
}

TEST(SyncBatchNorm, BackwardAfterTheScopeClosedIsAClearError) {
  modules::BatchNorm2d bn(2);
  const at::Tensor x = torch::randn({2, 2, 3, 3}, torch::requires_grad());
  at::Tensor y;
  {
    modules::SyncBatchNormScope sync([](at::Tensor&) {});  // one process: the sum is the tensor itself
    y = bn(x);
  }
  try {
    y.sum().backward();
    FAIL() << "no error";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("keep the scope open until backward() returns"), std::string::npos) << e.what();
  }
}

}  // namespace
