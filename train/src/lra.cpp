#include <attnzoo/train/lra.h>

#include <attnzoo/checkpoint/file_util.h>
#include <attnzoo/checkpoint/safetensors.h>
#include <attnzoo/checkpoint/state_dict.h>
#include <attnzoo/datasets/lra.h>
#include <attnzoo/models/lra_encoder.h>
#include <attnzoo/train/optim.h>
#include <attnzoo/train/progress.h>

#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <random>

namespace attnzoo::train {

namespace fs = std::filesystem;
using datasets::SequenceDatasetPtr;

namespace {

// A view of some indices of a dataset (LRA Image: train[:90%] / train[90%:]).
class Subset : public datasets::SequenceDataset {
 public:
  Subset(SequenceDatasetPtr base, std::vector<size_t> idx, std::string name)
      : base_(std::move(base)), idx_(std::move(idx)), name_(std::move(name)) {}
  size_t size() const override { return idx_.size(); }
  datasets::SequenceExample get(size_t i) const override { return base_->get(idx_.at(i)); }
  int64_t vocab_size() const override { return base_->vocab_size(); }
  int64_t num_classes() const override { return base_->num_classes(); }
  int64_t max_length() const override { return base_->max_length(); }
  bool pad_is_zero() const override { return base_->pad_is_zero(); }
  bool paired() const override { return base_->paired(); }
  std::string describe() const override { return name_ + " of " + base_->describe(); }

 private:
  SequenceDatasetPtr base_;
  std::vector<size_t> idx_;
  std::string name_;
};

struct Splits {
  SequenceDatasetPtr train, val, test;
};

Splits open_task(const LRATrainConfig& c) {
  Splits s;
  if (c.task == "lra-listops") {
    if (c.data.empty()) throw std::invalid_argument("--task lra-listops needs --data DIR (basic_{train,val,test}.tsv; see 'attnzoo data make-listops')");
    const int64_t L = c.max_len > 0 ? c.max_len : 2000;
    s.train = datasets::open_listops((fs::path(c.data) / "basic_train.tsv").string(), L);
    s.val = datasets::open_listops((fs::path(c.data) / "basic_val.tsv").string(), L);
    s.test = datasets::open_listops((fs::path(c.data) / "basic_test.tsv").string(), L);
  } else if (c.task == "lra-text") {
    if (c.data.empty()) throw std::invalid_argument("--task lra-text needs --data DIR with train.tsv and test.tsv (label<TAB>text)");
    const int64_t L = c.max_len > 0 ? c.max_len : 1000;
    s.train = datasets::open_byte_text((fs::path(c.data) / "train.tsv").string(), c.text_classes, L);
    s.test = datasets::open_byte_text((fs::path(c.data) / "test.tsv").string(), c.text_classes, L);
    s.val = s.test;  // LRA uses the test split for validation
  } else if (c.task == "lra-image") {
    const std::string spec = c.data.empty() ? "fashion-mnist" : c.data;
    auto full = datasets::open_sequential_image(datasets::open_dataset(spec, "train"));
    std::vector<size_t> all(full->size());
    std::iota(all.begin(), all.end(), size_t{0});
    const size_t cut = full->size() * 9 / 10;
    s.train = std::make_shared<Subset>(full, std::vector<size_t>(all.begin(), all.begin() + cut), "train[:90%]");
    s.val = std::make_shared<Subset>(full, std::vector<size_t>(all.begin() + cut, all.end()), "train[90%:]");
    s.test = datasets::open_sequential_image(datasets::open_dataset(spec, "test"));
  } else if (c.task == "lra-retrieval") {
    if (c.data.empty()) throw std::invalid_argument("--task lra-retrieval needs --data DIR with new_aan_pairs.{train,eval,test}.tsv");
    const int64_t L = c.max_len > 0 ? c.max_len : 4000;
    s.train = datasets::open_retrieval((fs::path(c.data) / "new_aan_pairs.train.tsv").string(), L);
    s.val = datasets::open_retrieval((fs::path(c.data) / "new_aan_pairs.eval.tsv").string(), L);
    s.test = datasets::open_retrieval((fs::path(c.data) / "new_aan_pairs.test.tsv").string(), L);
  } else if (c.task == "lra-pathfinder") {
    if (c.data.empty()) throw std::invalid_argument("--task lra-pathfinder needs --data ROOT (e.g. pathfinder32/curv_contour_length_14)");
    auto full = datasets::open_pathfinder(c.data, /*skip_bad=*/true);
    std::vector<size_t> all(full->size());
    std::iota(all.begin(), all.end(), size_t{0});
    const size_t a = full->size() * 8 / 10, b = full->size() * 9 / 10;  // LRA: 80 / 10 / 10 of the rows
    s.train = std::make_shared<Subset>(full, std::vector<size_t>(all.begin(), all.begin() + a), "rows[:80%]");
    s.val = std::make_shared<Subset>(full, std::vector<size_t>(all.begin() + a, all.begin() + b), "rows[80%:90%]");
    s.test = std::make_shared<Subset>(full, std::vector<size_t>(all.begin() + b, all.end()), "rows[90%:]");
  } else {
    throw std::invalid_argument("--task must be lra-listops, lra-text, lra-retrieval, lra-image or lra-pathfinder, got '" +
                                c.task + "'");
  }
  return s;
}

// Tokens padded with 0 to the batch's longest sequence; the mask marks padding (none for fixed-length pixels).
std::pair<at::Tensor, at::Tensor> collate(const datasets::SequenceDataset& d, const std::vector<size_t>& idx,
                                          at::Tensor* labels, bool second = false) {
  std::vector<datasets::SequenceExample> ex;
  size_t L = 0;
  for (size_t i : idx) {
    ex.push_back(d.get(i));
    if (second) std::swap(ex.back().tokens, ex.back().tokens2);  // the second document of each pair
    L = std::max(L, ex.back().tokens.size());
  }
  at::Tensor tokens = torch::zeros({static_cast<int64_t>(ex.size()), static_cast<int64_t>(L)}, torch::kLong);
  at::Tensor lab = torch::empty({static_cast<int64_t>(ex.size())}, torch::kLong);
  auto t = tokens.accessor<int64_t, 2>();
  for (size_t b = 0; b < ex.size(); ++b) {
    for (size_t j = 0; j < ex[b].tokens.size(); ++j) t[b][j] = ex[b].tokens[j];
    lab[b] = ex[b].label;
  }
  *labels = lab;
  at::Tensor mask = d.pad_is_zero() ? tokens.eq(0) : at::Tensor();
  return {tokens, mask};
}

double accuracy(models::LRAEncoderImpl& m, const datasets::SequenceDataset& d, int64_t batch, int64_t max_eval) {
  torch::NoGradGuard ng;
  m.eval();
  int64_t correct = 0;
  const size_t n = max_eval > 0 ? std::min(d.size(), static_cast<size_t>(max_eval)) : d.size();
  for (size_t s = 0; s < n; s += batch) {
    std::vector<size_t> idx;
    for (size_t i = s; i < std::min(n, s + batch); ++i) idx.push_back(i);
    at::Tensor labels;
    auto [tokens, mask] = collate(d, idx, &labels);
    at::Tensor logits;
    if (d.paired()) {
      auto [tokens2, mask2] = collate(d, idx, &labels, /*second=*/true);
      logits = m.forward_pair(tokens, mask, tokens2, mask2);
    } else {
      logits = m.forward(tokens, mask);
    }
    correct += logits.argmax(1).eq(labels).sum().item<int64_t>();
  }
  m.train();
  return 100.0 * static_cast<double>(correct) / static_cast<double>(n);
}

}  // namespace

LRAResult run_lra_training(const LRATrainConfig& c) {
  const auto t0 = std::chrono::steady_clock::now();
  torch::manual_seed(static_cast<uint64_t>(c.seed));
  Splits s = open_task(c);
  nlohmann::json args = models::lra_variant_args(c.model);
  for (auto it = c.model_args.begin(); it != c.model_args.end(); ++it) args[it.key()] = it.value();
  args["vocab_size"] = s.train->vocab_size();
  args["num_classes"] = s.train->num_classes();
  args["max_len"] = s.train->max_length();
  if (s.train->paired()) args["dual"] = true;
  models::LRAEncoder model(models::lra_encoder_options_from_args(args));
  std::vector<Param> params;
  for (const auto& p : model->named_parameters()) params.push_back({p.key(), p.value(), true});  // Flax: decay on all
  OptimizerOptions oo;
  oo.name = "adamw";
  oo.beta1 = 0.9;
  oo.beta2 = 0.98;
  oo.eps = 1e-9;
  oo.weight_decay = c.weight_decay;
  auto opt = make_optimizer(params, oo);
  LRAResult r;
  for (const auto& p : model->parameters()) r.params += p.numel();

  fs::create_directories(c.output);
  std::ofstream log((fs::path(c.output) / "log.jsonl").string());
  Progress progress(true);
  progress.line("lra " + c.task + ": " + c.model + " attention=" + args.value("attention", "softmax") + " (" +
                std::to_string(r.params) + " params) on " + s.train->describe() + "; " + std::to_string(c.steps) +
                " steps x batch " + std::to_string(c.batch_size));
  std::mt19937_64 rng(c.seed);
  std::vector<size_t> order(s.train->size());
  std::iota(order.begin(), order.end(), size_t{0});
  size_t cursor = order.size();
  int64_t tokens_seen = 0;
  double loss_avg = 0;
  for (int64_t step = 1; step <= c.steps; ++step) {
    std::vector<size_t> idx;
    while (static_cast<int64_t>(idx.size()) < c.batch_size) {
      if (cursor >= order.size()) {
        std::shuffle(order.begin(), order.end(), rng);
        cursor = 0;
      }
      idx.push_back(order[cursor++]);
    }
    at::Tensor labels;
    auto [tokens, mask] = collate(*s.train, idx, &labels);
    const double lr = c.lr * std::min(1.0, static_cast<double>(step) / static_cast<double>(c.warmup)) /
                      std::sqrt(static_cast<double>(std::max(step, c.warmup)));
    at::Tensor logits;
    if (s.train->paired()) {
      auto [tokens2, mask2] = collate(*s.train, idx, &labels, /*second=*/true);
      logits = model->forward_pair(tokens, mask, tokens2, mask2);
      tokens_seen += mask2.logical_not().sum().item<int64_t>();
    } else {
      logits = model->forward(tokens, mask);
    }
    at::Tensor loss = torch::cross_entropy_loss(logits, labels);
    opt->zero_grad();
    loss.backward();
    opt->step(lr);
    const double lv = loss.item<double>();
    if (!std::isfinite(lv)) throw std::runtime_error("lra: loss is " + std::to_string(lv) + " at step " + std::to_string(step));
    loss_avg = step == 1 ? lv : 0.98 * loss_avg + 0.02 * lv;
    tokens_seen += mask.defined() ? mask.logical_not().sum().item<int64_t>() : tokens.numel();
    const double el = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    r.tokens_per_second = el > 0 ? static_cast<double>(tokens_seen) / el : 0;
    progress.step(1, 1, step, c.steps, loss_avg, lr, 0, r.tokens_per_second > 0 ? (c.steps - step) * el / step : 0, el);
    if (step % c.eval_every == 0 || step == c.steps) {
      progress.finish();
      r.val_accuracy = accuracy(*model, *s.val, 64, c.max_eval);
      log << nlohmann::json{{"step", step}, {"loss", loss_avg}, {"lr", lr}, {"val_accuracy", r.val_accuracy},
                            {"tokens_per_s", r.tokens_per_second}}.dump()
          << std::endl;
      char line[200];
      std::snprintf(line, sizeof line, "step %ld: loss %.4f  val acc %.2f  (%.0f tokens/s)", long(step), loss_avg,
                    r.val_accuracy, r.tokens_per_second);
      progress.line(line);
    }
  }
  r.test_accuracy = accuracy(*model, *s.test, 64, c.max_eval);
  r.steps = c.steps;
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  checkpoint::write_safetensors((fs::path(c.output) / "final.safetensors").string(), checkpoint::state_dict(*model));
  const nlohmann::json res = {{"task", c.task}, {"max_eval", c.max_eval}, {"model", c.model}, {"model_args", args}, {"steps", r.steps},
                              {"params", r.params}, {"val_accuracy", r.val_accuracy}, {"test_accuracy", r.test_accuracy},
                              {"seconds", r.seconds}, {"tokens_per_s", r.tokens_per_second}};
  checkpoint::write_file_atomic((fs::path(c.output) / "result.json").string(), res.dump(1) + "\n");
  return r;
}

}  // namespace attnzoo::train
