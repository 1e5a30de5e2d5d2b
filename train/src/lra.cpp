#include <attnzoo/train/lra.h>

#include <attnzoo/core/file_util.h>
#include <attnzoo/checkpoint/run_checkpoint.h>
#include <attnzoo/checkpoint/safetensors.h>
#include <attnzoo/checkpoint/state_dict.h>
#include <attnzoo/datasets/lra.h>
#include <attnzoo/models/lra_encoder.h>
#include <attnzoo/train/optim.h>
#include <attnzoo/train/distributed.h>
#include <attnzoo/train/run_dir.h>
#include <attnzoo/train/progress.h>

#include "run_support.h"

#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <random>

namespace attnzoo::train {

namespace fs = std::filesystem;
using datasets::SequenceDatasetPtr;
using namespace detail;

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
    if (c.data.empty()) throw std::invalid_argument("--task lra-text needs --data DIR with train.tsv and test.tsv (label<TAB>text) or train.csv and test.csv (header: label,text)");
    const int64_t L = c.max_len > 0 ? c.max_len : 1000;
    const std::string ext = fs::exists(fs::path(c.data) / "train.tsv") || !fs::exists(fs::path(c.data) / "train.csv") ? ".tsv" : ".csv";
    s.train = datasets::open_byte_text((fs::path(c.data) / ("train" + ext)).string(), c.text_classes, L);
    s.test = datasets::open_byte_text((fs::path(c.data) / ("test" + ext)).string(), c.text_classes, L);
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
  for (const auto& [name, split] : {std::pair{"train", s.train}, std::pair{"val", s.val}, std::pair{"test", s.test}})
    if (split->size() == 0)
      throw std::runtime_error(c.task + " " + c.data + ": the " + name + " split is empty (" + split->describe() + ")");
  return s;
}

// One batch: tokens padded with 0 to the batch's longest sequence and the padding mask (undefined for
// fixed-length pixels); Retrieval adds the second documents.
struct Batch {
  at::Tensor tokens, mask;
  std::shared_ptr<Batch> second;
  Batch to(const at::Device& d) const {
    return Batch{tokens.to(d), mask.defined() ? mask.to(d) : mask, second ? std::make_shared<Batch>(second->to(d)) : nullptr};
  }
  at::Tensor logits(models::LRAEncoderImpl& m) const {
    return second ? m.forward_pair(tokens, mask, second->tokens, second->mask) : m.forward(tokens, mask);
  }
  int64_t tokens_count() const {
    const int64_t n = mask.defined() ? mask.logical_not().sum().item<int64_t>() : tokens.numel();
    return n + (second ? second->tokens_count() : 0);
  }
};

Batch collate(const datasets::SequenceDataset& d, const std::vector<size_t>& idx, at::Tensor* labels, bool second = false) {
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
  return Batch{tokens, d.pad_is_zero() ? tokens.eq(0) : at::Tensor(), nullptr};
}

double accuracy(models::LRAEncoderImpl& m, const datasets::SequenceDataset& d, int64_t batch, int64_t max_eval,
                const at::Device& device) {
  torch::NoGradGuard ng;
  m.eval();
  int64_t correct = 0;
  const size_t n = max_eval > 0 ? std::min(d.size(), static_cast<size_t>(max_eval)) : d.size();
  for (size_t s = 0; s < n; s += batch) {
    std::vector<size_t> idx;
    for (size_t i = s; i < std::min(n, s + batch); ++i) idx.push_back(i);
    at::Tensor labels;
    Batch b = collate(d, idx, &labels);
    if (d.paired()) b.second = std::make_shared<Batch>(collate(d, idx, &labels, /*second=*/true));
    b = b.to(device);
    correct += b.logits(m).argmax(1).cpu().eq(labels).sum().item<int64_t>();
  }
  m.train();
  return 100.0 * static_cast<double>(correct) / static_cast<double>(n);
}

// The training stream: consecutive batches of one endless sequence of epochs, each a permutation drawn from
// (seed, epoch), so that step s's batch is known without replaying the ones before it (exact resume).
class BatchStream {
 public:
  BatchStream(size_t n, uint64_t seed) : n_(n), seed_(seed) {}
  std::vector<size_t> batch(int64_t step, int64_t batch_size) {
    std::vector<size_t> idx;
    int64_t pos = (step - 1) * batch_size;
    for (int64_t i = 0; i < batch_size; ++i, ++pos) {
      const int64_t epoch = pos / static_cast<int64_t>(n_);
      if (epoch != epoch_) {
        order_.resize(n_);
        std::iota(order_.begin(), order_.end(), size_t{0});
        std::mt19937_64 rng(seed_ * 0x9E3779B97F4A7C15ull + static_cast<uint64_t>(epoch));
        std::shuffle(order_.begin(), order_.end(), rng);
        epoch_ = epoch;
      }
      idx.push_back(order_[static_cast<size_t>(pos % static_cast<int64_t>(n_))]);
    }
    return idx;
  }

 private:
  size_t n_;
  uint64_t seed_;
  int64_t epoch_ = -1;
  std::vector<size_t> order_;
};

// Where a run stands (besides the weights and the optimiser); in the checkpoint metadata.
struct LraCounters {
  int64_t step = 0;  // updates done
  double loss_avg = 0, val_accuracy = 0, seconds = 0;
  int64_t tokens_seen = 0;

  void write(nlohmann::json& meta) const {
    meta.update({{"step", step}, {"loss_avg", loss_avg}, {"val_accuracy", val_accuracy}, {"seconds", seconds},
                 {"tokens_seen", tokens_seen}});
  }
  void read(const nlohmann::json& meta) {
    step = meta.at("step");
    loss_avg = meta.at("loss_avg");
    val_accuracy = meta.at("val_accuracy");
    seconds = meta.at("seconds");
    tokens_seen = meta.at("tokens_seen");
  }
};

}  // namespace

double lra_learning_rate(const LRATrainConfig& c, int64_t step) {
  const double s = static_cast<double>(step), w = static_cast<double>(c.warmup_steps);
  const double warm = std::min(1.0, s / w);
  // Steps count from 1 (LRA's loop from 0 spends its first update at lr 0).
  if (c.schedule == "cosine") {  // LRA train_utils: 'constant * linear_warmup * cosine_decay', one cycle
    const double progress = std::clamp((s - w) / std::max(1.0, static_cast<double>(c.steps) - w), 0.0, 1.0);
    return c.lr * warm * 0.5 * (1.0 + std::cos(M_PI * progress));
  }
  return c.lr * warm / std::sqrt(std::max(s, w));
}

namespace {

// One LRA run: set-up in the constructor, then `steps` updates with periodic evaluation and checkpoints,
// then the test accuracy and the final weights.
class LraRun {
 public:
  explicit LraRun(const LRATrainConfig& c);
  LRAResult run();

 private:
  void resume();
  void train_step(int64_t step);
  void evaluate(int64_t step);
  void save_last() const;
  void finish();

  const LRATrainConfig& c_;
  const std::chrono::steady_clock::time_point t0_ = std::chrono::steady_clock::now();
  const at::Device device_;
  const bool writer_;
  Splits splits_;
  nlohmann::json args_;  // the encoder's constructor arguments as used
  models::LRAEncoder model_{nullptr};
  std::vector<Param> params_;
  std::unique_ptr<Optimizer> opt_;
  LraCounters st_;
  std::unique_ptr<ProcessGroup> pg_;
  std::string last_path_;
  std::ofstream log_;
  std::unique_ptr<Progress> progress_;
  std::unique_ptr<BatchStream> stream_;
  std::vector<at::Tensor> grad_scratch_;
  double seconds_before_ = 0;
  int64_t first_step_ = 1;
  LRAResult r_;
};

void check_world(const LRATrainConfig& c) {
  if (c.world_size < 1 || c.rank < 0 || c.rank >= c.world_size) throw std::invalid_argument("lra: bad rank / world size");
  if (c.batch_size % c.world_size != 0)
    throw std::invalid_argument("--batch-size " + std::to_string(c.batch_size) + " must be a multiple of the " +
                                std::to_string(c.world_size) + " data-parallel processes (it is the global batch)");
}

// The variant's arguments, --set overrides, and what the data decides (vocabulary, classes, length, pairs).
nlohmann::json encoder_args(const LRATrainConfig& c, const datasets::SequenceDataset& train) {
  nlohmann::json args = models::lra_variant_args(c.model);
  for (auto it = c.model_args.begin(); it != c.model_args.end(); ++it) args[it.key()] = it.value();
  args["vocab_size"] = train.vocab_size();
  args["num_classes"] = train.num_classes();
  args["max_len"] = train.max_length();
  if (train.paired()) args["dual"] = true;
  return args;
}

LraRun::LraRun(const LRATrainConfig& c) : c_(c), device_(c.device), writer_(c.rank == 0) {
  check_world(c);
  torch::manual_seed(static_cast<uint64_t>(c.seed));
  splits_ = open_task(c);
  args_ = encoder_args(c, *splits_.train);
  model_ = models::LRAEncoder(models::lra_encoder_options_from_args(args_));
  model_->to(device_);
  for (const auto& p : model_->named_parameters()) params_.push_back({p.key(), p.value(), true});  // Flax: decay on all
  apply_lr_hints(params_, *model_, c.lr);  // SGConv's kernels at their own lr (its official `_optim`)
  OptimizerOptions oo;
  oo.name = "adamw";
  oo.beta1 = 0.9;
  oo.beta2 = 0.98;
  oo.eps = c.opt_eps;
  oo.weight_decay = c.weight_decay;
  opt_ = make_optimizer(params_, oo);
  for (const auto& p : model_->parameters()) r_.params += p.numel();
  if (!c.resume.empty()) resume();
  pg_ = join_process_group(c.rank, c.world_size, device_, c.dist_timeout, c.dist_init_timeout);
  if (pg_) broadcast_module(*pg_, *model_);
  last_path_ = (fs::path(c.output) / "last.safetensors").string();
  if (writer_) {
    fs::create_directories(c.output);
    log_.open((fs::path(c.output) / "log.jsonl").string(), c.resume.empty() ? std::ios::trunc : std::ios::app);
  }
  progress_ = std::make_unique<Progress>(writer_, 10.0, "tok/s");
  stream_ = std::make_unique<BatchStream>(splits_.train->size(), c.seed);
  seconds_before_ = st_.seconds;
  first_step_ = st_.step + 1;
}

void LraRun::resume() {
  const auto ck = checkpoint::RunCheckpoint::load(c_.resume, checkpoint::kLraRun);
  const nlohmann::json& meta = ck.meta;
  if (meta.at("task") != c_.task || meta.at("model_args") != args_ || meta.at("batch_size") != c_.batch_size ||
      meta.at("seed") != c_.seed)
    throw std::runtime_error(c_.resume + ": written by another run (task " + meta.at("task").get<std::string>() +
                             ", batch " + meta.at("batch_size").dump() + ", seed " + meta.at("seed").dump() +
                             ", model_args " + meta.at("model_args").dump() + "); resume with the same flags");
  checkpoint::load_state_dict(*model_, ck.model, true, c_.resume);
  opt_->load_state_dict(ck.optimizer);
  st_.read(meta);
  if (st_.step > c_.steps)
    throw std::runtime_error(c_.resume + ": already at step " + std::to_string(st_.step) + " of --steps " +
                             std::to_string(c_.steps));
}

void LraRun::save_last() const {
  checkpoint::RunCheckpoint ck;
  ck.kind = checkpoint::kLraRun;
  ck.model = checkpoint::state_dict(*model_);
  ck.optimizer = opt_->state_dict();
  st_.write(ck.meta);
  ck.meta.update({{"task", c_.task},   {"model", c_.model},           {"model_args", args_}, {"seed", c_.seed},
                  {"steps", c_.steps}, {"batch_size", c_.batch_size}, {"config", c_.to_json()}});
  ck.save(last_path_);
}

// One update on this rank's slice of the global batch; dropout drawn from (seed, step, rank).
void LraRun::train_step(int64_t step) {
  const int64_t local_batch = c_.batch_size / c_.world_size;
  const std::vector<size_t> global = stream_->batch(step, c_.batch_size);
  const std::vector<size_t> idx(global.begin() + c_.rank * local_batch, global.begin() + (c_.rank + 1) * local_batch);
  torch::manual_seed(c_.seed * 1000003ull + static_cast<uint64_t>(step) * 7919ull + static_cast<uint64_t>(c_.rank));
  const auto& train = *splits_.train;
  at::Tensor labels;
  Batch b = collate(train, idx, &labels);
  if (train.paired()) b.second = std::make_shared<Batch>(collate(train, idx, &labels, /*second=*/true));
  b = b.to(device_);
  const double lr = lra_learning_rate(c_, step);
  at::Tensor loss = torch::cross_entropy_loss(b.logits(*model_), labels.to(device_));
  opt_->zero_grad();
  loss.backward();
  double lv = loss.item<double>();
  int64_t tokens = b.tokens_count();
  if (pg_) {
    lv = allreduce_mean(*pg_, lv);  // the same stop-on-NaN decision everywhere
    tokens = static_cast<int64_t>(std::llround(allreduce_mean(*pg_, static_cast<double>(tokens)) * c_.world_size));
    allreduce_gradients(*pg_, params_, grad_scratch_);
  }
  if (!std::isfinite(lv))
    throw std::runtime_error("lra: loss is " + std::to_string(lv) + " at step " + std::to_string(step) +
                             (writer_ && fs::exists(last_path_) ? "; the last good checkpoint is kept: " + last_path_ : ""));
  opt_->step(lr);
  if (pg_) inject_fault(c_.rank, step);
  if (pg_ && c_.dist_verify) verify_replicas(*pg_, *model_, step);
  st_.step = step;
  st_.loss_avg = step == 1 ? lv : 0.98 * st_.loss_avg + 0.02 * lv;
  st_.tokens_seen += tokens;
  const double run_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count();
  st_.seconds = seconds_before_ + run_s;
  r_.tokens_per_second = st_.seconds > 0 ? static_cast<double>(st_.tokens_seen) / st_.seconds : 0;
  const double eta = (c_.steps - step) * run_s / static_cast<double>(step - first_step_ + 1);
  progress_->step(0, 0, step, c_.steps, st_.loss_avg, lr, r_.tokens_per_second, eta, st_.seconds);
}

// Rank 0 evaluates on the validation split and logs.
void LraRun::evaluate(int64_t step) {
  progress_->finish();
  if (!writer_) return;
  st_.val_accuracy = accuracy(*model_, *splits_.val, 64, c_.max_eval, device_);
  log_ << nlohmann::json{{"step", step},           {"loss", st_.loss_avg},
                         {"lr", lra_learning_rate(c_, step)}, {"val_accuracy", st_.val_accuracy},
                         {"tokens_per_s", r_.tokens_per_second}, {"elapsed_s", st_.seconds}}.dump()
       << std::endl;
  char line[200];
  std::snprintf(line, sizeof line, "step %ld: loss %.4f  val acc %.2f  (%.0f tokens/s)", long(step), st_.loss_avg,
                st_.val_accuracy, r_.tokens_per_second);
  progress_->line(line);
}

// The test accuracy, the final weights under their plain names with the run's description (eval rebuilds
// the model from it) and result.json.
void LraRun::finish() {
  r_.test_accuracy = accuracy(*model_, *splits_.test, 64, c_.max_eval, device_);
  checkpoint::RunCheckpoint final;
  final.kind = checkpoint::kLraRun;
  final.meta = {{"task", c_.task}, {"model", c_.model}, {"model_args", args_}, {"step", st_.step}, {"config", c_.to_json()}};
  checkpoint::write_safetensors((fs::path(c_.output) / "final.safetensors").string(), checkpoint::state_dict(*model_),
                                {{checkpoint::kLraRun, final.meta.dump()}, {"format", "pt"}});
  const nlohmann::json res = {{"task", c_.task},           {"max_eval", c_.max_eval},     {"model", c_.model},
                              {"model_args", args_},       {"steps", r_.steps},           {"batch_size", c_.batch_size},
                              {"world_size", c_.world_size}, {"params", r_.params},       {"val_accuracy", r_.val_accuracy},
                              {"test_accuracy", r_.test_accuracy}, {"seconds", r_.seconds},
                              {"tokens_per_s", r_.tokens_per_second}, {"config", c_.to_json()}};
  attnzoo::write_file_atomic((fs::path(c_.output) / "result.json").string(), res.dump(1) + "\n");
}

LRAResult LraRun::run() {
  progress_->line("lra " + c_.task + ": " + c_.model + " attention=" + args_.value("attention", "softmax") + " (" +
                  std::to_string(r_.params) + " params) on " + splits_.train->describe() + "; " + std::to_string(c_.steps) +
                  " steps x batch " + std::to_string(c_.batch_size) +
                  (c_.world_size > 1 ? " (" + std::to_string(c_.world_size) + " processes)" : "") +
                  (st_.step > 0 ? "; resumed at step " + std::to_string(st_.step) : ""));
  const int64_t ckpt_every = c_.checkpoint_every > 0 ? c_.checkpoint_every : c_.eval_every;
  for (int64_t step = first_step_; step <= c_.steps; ++step) {
    train_step(step);
    const bool eval_now = step % c_.eval_every == 0 || step == c_.steps;
    if (eval_now) evaluate(step);
    if (writer_ && (eval_now || step % ckpt_every == 0)) save_last();
    if (pg_ && eval_now) pg_->barrier();  // the others wait while rank 0 evaluates
    if (c_.stop_after_steps > 0 && step >= c_.stop_after_steps && step < c_.steps)
      throw std::runtime_error("stopped after " + std::to_string(step) + " steps (stop_after_steps); resume with --resume " +
                               last_path_);
  }
  r_.steps = st_.step;
  r_.seconds = st_.seconds;
  r_.val_accuracy = st_.val_accuracy;
  if (writer_) finish();
  return r_;
}

}  // namespace

LRAResult run_lra_training(const LRATrainConfig& config) {
  LRATrainConfig c = config;
  std::string model = c.model;
  if (!c.task.empty()) model += "-" + c.task;
  c.output = run_output_dir(c.output, c.experiment, model, 0, "lra");
  if (c.rank == 0) claim_output_dir(c.output, !c.resume.empty(), c.overwrite);
  return LraRun(c).run();
}

LRAEvalResult evaluate_lra_checkpoint(const std::string& path, const std::string& split, const std::string& data,
                                      int64_t max_eval, const std::string& device) {
  const auto t0 = std::chrono::steady_clock::now();
  const auto ck = checkpoint::RunCheckpoint::load(path, checkpoint::kLraRun);
  const nlohmann::json& meta = ck.meta;
  if (!meta.contains("config")) throw std::runtime_error(path + ": the LRA checkpoint does not record its configuration");
  if (split != "val" && split != "test") throw std::invalid_argument("--split must be val or test for LRA checkpoints, got '" + split + "'");
  LRATrainConfig c;
  c.apply_json(meta.at("config"), path);
  if (!data.empty()) c.data = data;
  const Splits s = open_task(c);
  models::LRAEncoder model(models::lra_encoder_options_from_args(meta.at("model_args")));
  checkpoint::load_state_dict(*model, ck.model, true, path);
  const at::Device dev(device);
  model->to(dev);
  const auto& d = split == "val" ? *s.val : *s.test;
  LRAEvalResult r;
  r.accuracy = accuracy(*model, d, 64, max_eval, dev);
  r.count = max_eval > 0 ? std::min<int64_t>(max_eval, static_cast<int64_t>(d.size())) : static_cast<int64_t>(d.size());
  r.task = c.task;
  r.data = d.describe();
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return r;
}

}  // namespace attnzoo::train
