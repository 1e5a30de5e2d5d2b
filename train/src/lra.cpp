#include <attnzoo/train/lra.h>

#include <attnzoo/core/file_util.h>
#include <attnzoo/checkpoint/safetensors.h>
#include <attnzoo/checkpoint/state_dict.h>
#include <attnzoo/datasets/lra.h>
#include <attnzoo/models/lra_encoder.h>
#include <attnzoo/train/optim.h>
#include <attnzoo/train/distributed.h>
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

// The training state that is not in the weights or the optimiser.
struct LRAState {
  int64_t step = 0;  // updates done
  double loss_avg = 0, val_accuracy = 0, seconds = 0;
  int64_t tokens_seen = 0;
};

void save_lra_checkpoint(const std::string& path, models::LRAEncoderImpl& model, const Optimizer& opt, const LRAState& st,
                         const LRATrainConfig& c, const nlohmann::json& args) {
  checkpoint::TensorDict all;
  add_prefixed(all, "state_dict", checkpoint::state_dict(model));
  add_prefixed(all, "optimizer", opt.state_dict());
  const nlohmann::json meta = {{"task", c.task},         {"model", c.model},           {"model_args", args},
                               {"step", st.step},        {"loss_avg", st.loss_avg},    {"val_accuracy", st.val_accuracy},
                               {"seconds", st.seconds},  {"tokens_seen", st.tokens_seen}, {"seed", c.seed},
                               {"batch_size", c.batch_size}, {"steps", c.steps}, {"config", c.to_json()}};
  checkpoint::write_safetensors(path, all, {{"attnzoo.envelope", "1"}, {"attnzoo.lra", meta.dump()}, {"format", "pt"}});
}

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

LRAResult run_lra_training(const LRATrainConfig& c) {
  const auto t0 = std::chrono::steady_clock::now();
  const at::Device device(c.device);
  if (c.world_size < 1 || c.rank < 0 || c.rank >= c.world_size) throw std::invalid_argument("lra: bad rank / world size");
  if (c.batch_size % c.world_size != 0)
    throw std::invalid_argument("--batch-size " + std::to_string(c.batch_size) + " must be a multiple of the " +
                                std::to_string(c.world_size) + " data-parallel processes (it is the global batch)");
  torch::manual_seed(static_cast<uint64_t>(c.seed));
  Splits s = open_task(c);
  nlohmann::json args = models::lra_variant_args(c.model);
  for (auto it = c.model_args.begin(); it != c.model_args.end(); ++it) args[it.key()] = it.value();
  args["vocab_size"] = s.train->vocab_size();
  args["num_classes"] = s.train->num_classes();
  args["max_len"] = s.train->max_length();
  if (s.train->paired()) args["dual"] = true;
  models::LRAEncoder model(models::lra_encoder_options_from_args(args));
  model->to(device);
  std::vector<Param> params;
  for (const auto& p : model->named_parameters()) params.push_back({p.key(), p.value(), true});  // Flax: decay on all
  OptimizerOptions oo;
  oo.name = "adamw";
  oo.beta1 = 0.9;
  oo.beta2 = 0.98;
  oo.eps = c.opt_eps;
  oo.weight_decay = c.weight_decay;
  auto opt = make_optimizer(params, oo);
  LRAResult r;
  for (const auto& p : model->parameters()) r.params += p.numel();

  LRAState st;
  if (!c.resume.empty()) {
    auto f = checkpoint::read_safetensors(c.resume);
    if (!f.metadata.count("attnzoo.lra"))
      throw std::runtime_error(c.resume + ": not an LRA training checkpoint (OUTPUT/last.safetensors of 'train --task lra-...')");
    const auto meta = nlohmann::json::parse(f.metadata.at("attnzoo.lra"));
    if (meta.at("task") != c.task || meta.at("model_args") != args || meta.at("batch_size") != c.batch_size ||
        meta.at("seed") != c.seed)
      throw std::runtime_error(c.resume + ": written by another run (task " + meta.at("task").get<std::string>() +
                               ", batch " + meta.at("batch_size").dump() + ", seed " + meta.at("seed").dump() +
                               ", model_args " + meta.at("model_args").dump() + "); resume with the same flags");
    checkpoint::load_state_dict(*model, take_prefixed(f.tensors, "state_dict"), true, c.resume);
    opt->load_state_dict(take_prefixed(f.tensors, "optimizer"));
    st.step = meta.at("step");
    st.loss_avg = meta.at("loss_avg");
    st.val_accuracy = meta.at("val_accuracy");
    st.seconds = meta.at("seconds");
    st.tokens_seen = meta.at("tokens_seen");
    if (st.step > c.steps)
      throw std::runtime_error(c.resume + ": already at step " + std::to_string(st.step) + " of --steps " + std::to_string(c.steps));
  }

  const std::unique_ptr<ProcessGroup> pg = join_process_group(c.rank, c.world_size, device, c.dist_timeout);
  if (pg) broadcast_module(*pg, *model);
  const bool writer = c.rank == 0;
  const std::string last_path = (fs::path(c.output) / "last.safetensors").string();
  std::ofstream log;
  if (writer) {
    fs::create_directories(c.output);
    log.open((fs::path(c.output) / "log.jsonl").string(), c.resume.empty() ? std::ios::trunc : std::ios::app);
  }
  Progress progress(writer, 10.0, "tok/s");
  progress.line("lra " + c.task + ": " + c.model + " attention=" + args.value("attention", "softmax") + " (" +
                std::to_string(r.params) + " params) on " + s.train->describe() + "; " + std::to_string(c.steps) +
                " steps x batch " + std::to_string(c.batch_size) +
                (c.world_size > 1 ? " (" + std::to_string(c.world_size) + " processes)" : "") +
                (st.step > 0 ? "; resumed at step " + std::to_string(st.step) : ""));
  BatchStream stream(s.train->size(), c.seed);
  std::vector<at::Tensor> grad_scratch;
  const int64_t local_batch = c.batch_size / c.world_size;
  const int64_t ckpt_every = c.checkpoint_every > 0 ? c.checkpoint_every : c.eval_every;
  const double seconds_before = st.seconds;
  const int64_t first_step = st.step + 1;
  for (int64_t step = first_step; step <= c.steps; ++step) {
    // This rank's slice of the global batch; dropout drawn from (seed, step, rank).
    const std::vector<size_t> global = stream.batch(step, c.batch_size);
    const std::vector<size_t> idx(global.begin() + c.rank * local_batch, global.begin() + (c.rank + 1) * local_batch);
    torch::manual_seed(c.seed * 1000003ull + static_cast<uint64_t>(step) * 7919ull + static_cast<uint64_t>(c.rank));
    at::Tensor labels;
    Batch b = collate(*s.train, idx, &labels);
    if (s.train->paired()) b.second = std::make_shared<Batch>(collate(*s.train, idx, &labels, /*second=*/true));
    b = b.to(device);
    const double lr = lra_learning_rate(c, step);
    at::Tensor loss = torch::cross_entropy_loss(b.logits(*model), labels.to(device));
    opt->zero_grad();
    loss.backward();
    double lv = loss.item<double>();
    int64_t tokens = b.tokens_count();
    if (pg) {
      lv = allreduce_mean(*pg, lv);  // the same stop-on-NaN decision everywhere
      tokens = static_cast<int64_t>(std::llround(allreduce_mean(*pg, static_cast<double>(tokens)) * c.world_size));
      allreduce_gradients(*pg, params, grad_scratch);
    }
    if (!std::isfinite(lv))
      throw std::runtime_error("lra: loss is " + std::to_string(lv) + " at step " + std::to_string(step) +
                               (writer && fs::exists(last_path) ? "; the last good checkpoint is kept: " + last_path : ""));
    opt->step(lr);
    if (pg) inject_fault(c.rank, step);
    if (pg && c.dist_verify) verify_replicas(*pg, *model, step);
    st.step = step;
    st.loss_avg = step == 1 ? lv : 0.98 * st.loss_avg + 0.02 * lv;
    st.tokens_seen += tokens;
    const double run_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    st.seconds = seconds_before + run_s;
    r.tokens_per_second = st.seconds > 0 ? static_cast<double>(st.tokens_seen) / st.seconds : 0;
    const double eta = (c.steps - step) * run_s / static_cast<double>(step - first_step + 1);
    progress.step(0, 0, step, c.steps, st.loss_avg, lr, r.tokens_per_second, eta, st.seconds);
    const bool eval_now = step % c.eval_every == 0 || step == c.steps;
    if (eval_now) {
      progress.finish();
      if (writer) {
        st.val_accuracy = accuracy(*model, *s.val, 64, c.max_eval, device);
        log << nlohmann::json{{"step", step}, {"loss", st.loss_avg}, {"lr", lr}, {"val_accuracy", st.val_accuracy},
                              {"tokens_per_s", r.tokens_per_second}, {"elapsed_s", st.seconds}}.dump()
            << std::endl;
        char line[200];
        std::snprintf(line, sizeof line, "step %ld: loss %.4f  val acc %.2f  (%.0f tokens/s)", long(step), st.loss_avg,
                      st.val_accuracy, r.tokens_per_second);
        progress.line(line);
      }
    }
    if (writer && (eval_now || step % ckpt_every == 0)) save_lra_checkpoint(last_path, *model, *opt, st, c, args);
    if (pg && eval_now) pg->barrier();  // the others wait while rank 0 evaluates
    if (c.stop_after_steps > 0 && step >= c.stop_after_steps && step < c.steps)
      throw std::runtime_error("stopped after " + std::to_string(step) + " steps (stop_after_steps); resume with --resume " +
                               last_path);
  }
  r.steps = st.step;
  r.seconds = st.seconds;
  r.val_accuracy = st.val_accuracy;
  if (!writer) return r;
  r.test_accuracy = accuracy(*model, *s.test, 64, c.max_eval, device);
  // The final weights under their plain names, with the run's description (eval rebuilds the model from it).
  const nlohmann::json final_meta = {{"task", c.task}, {"model", c.model}, {"model_args", args}, {"step", st.step},
                                     {"config", c.to_json()}};
  checkpoint::write_safetensors((fs::path(c.output) / "final.safetensors").string(), checkpoint::state_dict(*model),
                                {{"attnzoo.lra", final_meta.dump()}, {"format", "pt"}});
  const nlohmann::json res = {{"task", c.task}, {"max_eval", c.max_eval}, {"model", c.model}, {"model_args", args},
                              {"steps", r.steps}, {"batch_size", c.batch_size}, {"world_size", c.world_size},
                              {"params", r.params}, {"val_accuracy", r.val_accuracy}, {"test_accuracy", r.test_accuracy},
                              {"seconds", r.seconds}, {"tokens_per_s", r.tokens_per_second}, {"config", c.to_json()}};
  attnzoo::write_file_atomic((fs::path(c.output) / "result.json").string(), res.dump(1) + "\n");
  return r;
}

LRAEvalResult evaluate_lra_checkpoint(const std::string& path, const std::string& split, const std::string& data,
                                      int64_t max_eval, const std::string& device) {
  const auto t0 = std::chrono::steady_clock::now();
  auto f = checkpoint::read_safetensors(path);
  if (!f.metadata.count("attnzoo.lra"))
    throw std::runtime_error(path + ": not an LRA checkpoint (last.safetensors / final.safetensors of 'train --task lra-...')");
  const auto meta = nlohmann::json::parse(f.metadata.at("attnzoo.lra"));
  if (!meta.contains("config")) throw std::runtime_error(path + ": the LRA checkpoint does not record its configuration");
  if (split != "val" && split != "test") throw std::invalid_argument("--split must be val or test for LRA checkpoints, got '" + split + "'");
  LRATrainConfig c;
  c.apply_json(meta.at("config"), path);
  if (!data.empty()) c.data = data;
  const Splits s = open_task(c);
  models::LRAEncoder model(models::lra_encoder_options_from_args(meta.at("model_args")));
  checkpoint::TensorDict weights = take_prefixed(f.tensors, "state_dict");
  checkpoint::load_state_dict(*model, weights.size() > 0 ? weights : f.tensors, true, path);
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
