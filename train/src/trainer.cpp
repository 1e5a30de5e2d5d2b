#include <attnzoo/train/trainer.h>

#include <attnzoo/checkpoint/run_checkpoint.h>
#include <attnzoo/checkpoint/state_dict.h>
#include <attnzoo/core/config.h>
#include <attnzoo/core/file_util.h>
#include <attnzoo/datasets/loader.h>
#include <attnzoo/eval/evaluate.h>
#include <attnzoo/models/load.h>
#include <attnzoo/models/registry.h>
#include <attnzoo/modules/batch_norm.h>
#include <attnzoo/train/amp.h>
#include <attnzoo/train/distributed.h>
#include <attnzoo/train/ema.h>
#include <attnzoo/train/optim.h>
#include <attnzoo/train/progress.h>
#include <attnzoo/train/run_dir.h>
#include <attnzoo/train/layer_decay.h>
#include <attnzoo/train/schedule.h>

#include "run_support.h"

#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <limits>
#include <fstream>
#include <sstream>

namespace attnzoo::train {

double resolved_lr(const TrainConfig& cfg, std::string* how) {
  if (cfg.lr > 0) {
    if (how) *how = "--lr";
    return cfg.lr;
  }
  const std::string& o = cfg.opt;
  const bool adaptive = o.find("ada") != std::string::npos || o.find("lamb") != std::string::npos;
  const std::string scale = cfg.lr_base_scale.empty() ? (adaptive ? "sqrt" : "linear") : cfg.lr_base_scale;
  const int64_t global = cfg.batch_size * cfg.world_size * cfg.grad_accum_steps;  // images per update, as timm
  const double ratio = static_cast<double>(global) / static_cast<double>(cfg.lr_base_size);
  const double lr = cfg.lr_base * (scale == "sqrt" ? std::sqrt(ratio) : ratio);
  if (how) {
    std::ostringstream s;
    s << "lr_base " << cfg.lr_base << " x " << (scale == "sqrt" ? "sqrt(" : "(") << global << "/" << cfg.lr_base_size << ")";
    *how = s.str();
  }
  return lr;
}
namespace fs = std::filesystem;
using namespace detail;
using Clock = std::chrono::steady_clock;

namespace {

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

std::string fmt_time(double s) {
  const int64_t t = static_cast<int64_t>(s);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", long(t / 3600), long(t / 60 % 60), long(t % 60));
  return buf;
}

// Where a run stands; recorded in the checkpoint metadata so that a resume continues exactly.
struct Counters {
  int64_t epoch = 0;        // epoch in progress (or next to start)
  int64_t batch = 0;        // next batch within that epoch
  int64_t global_step = 0;  // updates done
  double best_top1 = -1;    // top-1 of the best epoch (by --eval-metric)
  int64_t best_epoch = -1;
  double best_score = -std::numeric_limits<double>::infinity();  // --eval-metric, higher is better
  std::vector<std::pair<double, int64_t>> kept;  // --checkpoint-hist: (score, epoch) of the checkpoint-<epoch> files
  PlateauState plateau;                          // --sched plateau

  void write(nlohmann::json& meta) const {
    meta.update({{"epoch", epoch}, {"batch", batch}, {"global_step", global_step}, {"best_top1", best_top1},
                 {"best_epoch", best_epoch}, {"best_score", best_score}, {"checkpoint_hist", kept},
                 {"plateau", {{"lr", plateau.lr}, {"best", plateau.best}, {"seen", plateau.seen}, {"bad_epochs", plateau.bad_epochs}}}});
  }
  void read(const nlohmann::json& meta) {
    epoch = meta.at("epoch");
    batch = meta.at("batch");
    global_step = meta.at("global_step");
    best_top1 = meta.at("best_top1");
    best_epoch = meta.at("best_epoch");
    // Checkpoints written before --eval-metric / --checkpoint-hist: best by top-1, no history.
    best_score = meta.contains("best_score") && meta["best_score"].is_number() ? meta["best_score"].get<double>() : best_top1;
    if (meta.contains("checkpoint_hist")) kept = meta["checkpoint_hist"].get<std::vector<std::pair<double, int64_t>>>();
    if (meta.contains("plateau")) {
      const auto& p = meta["plateau"];
      plateau.lr = p.at("lr");
      plateau.best = p.at("best");
      plateau.seen = p.at("seen");
      plateau.bad_epochs = p.at("bad_epochs");
    }
  }
};

// --eval-metric as a score where higher is better.
double eval_score(const eval::EvalResult& r, const std::string& metric) {
  if (metric == "top5") return r.top5;
  if (metric == "loss") return -r.loss;
  return r.top1;
}

// The validation split: --val-split, else "val" when the dataset has one, else "test".
datasets::DatasetPtr open_val_split(const TrainConfig& cfg, const datasets::DatasetPtr& train_ds) {
  std::string split = cfg.val_split;
  if (split.empty()) {
    try {
      datasets::open_dataset(cfg.dataset, "val", cfg.class_map);
      split = "val";
    } catch (const std::exception&) {
      split = "test";
    }
  }
  auto val = datasets::open_dataset(cfg.dataset, split, cfg.class_map);
  if (val->classes() != train_ds->classes()) {
    // Name the first record whose label the train split does not have (IDX/CIFAR derive classes from labels).
    const auto labels = val->labels();
    const int64_t n_train = static_cast<int64_t>(train_ds->classes().size());
    for (size_t i = 0; i < labels.size(); ++i)
      if (labels[i] >= n_train)
        throw std::runtime_error(val->describe() + ": record " + std::to_string(i) + " has label " +
                                 std::to_string(labels[i]) + ", but the " + cfg.train_split + " split has " +
                                 std::to_string(n_train) + " classes (0.." + std::to_string(n_train - 1) + ")");
    throw std::runtime_error("the " + split + " split (" + val->describe() + ") has other classes than the " +
                             cfg.train_split + " split (" + train_ds->describe() + ")");
  }
  return val;
}

datasets::TransformOptions transform_options(const TrainConfig& cfg, const models::PretrainedCfg& pc, int64_t in_chans) {
  datasets::TransformOptions to;
  to.img_size = cfg.img_size > 0 ? cfg.img_size : pc.input_size[1];
  to.in_chans = in_chans;
  to.mean = cfg.mean[0] >= 0 ? cfg.mean : pc.mean;
  to.std = cfg.std[0] >= 0 ? cfg.std : pc.std;
  to.crop_pct = cfg.crop_pct > 0 ? cfg.crop_pct : pc.crop_pct;
  to.interpolation = cfg.interpolation;
  to.random_resized_crop = !cfg.no_rrc;
  to.scale = cfg.scale;
  to.ratio = cfg.ratio;
  to.pad_crop = cfg.pad_crop;
  to.hflip = cfg.hflip;
  to.auto_augment = cfg.aa;
  to.reprob = cfg.reprob;
  return to;
}

datasets::MixupOptions mixup_options(const TrainConfig& cfg, int64_t num_classes) {
  datasets::MixupOptions mo;
  mo.mixup_alpha = cfg.mixup;
  mo.cutmix_alpha = cfg.cutmix;
  mo.prob = cfg.mixup_prob;
  mo.switch_prob = cfg.mixup_switch_prob;
  mo.label_smoothing = cfg.smoothing;
  mo.num_classes = num_classes;
  return mo;
}

LrSchedule lr_schedule(const TrainConfig& cfg, int64_t steps_per_epoch) {
  LrSchedule s;
  s.kind = cfg.sched;
  s.lr = resolved_lr(cfg);
  s.min_lr = cfg.min_lr;
  s.warmup_lr = cfg.warmup_lr;
  s.warmup_steps = static_cast<int64_t>(std::llround(cfg.warmup_epochs * steps_per_epoch));
  s.total_steps = cfg.epochs * steps_per_epoch;  // the cooldown epochs after it stay at min_lr
  s.steps_per_epoch = steps_per_epoch;
  s.decay_epochs = cfg.decay_epochs;
  s.decay_rate = cfg.decay_rate;
  s.milestones = cfg.decay_milestones;
  return s;
}

// timm appends the cooldown epochs (at min_lr) to cyclic schedules only.
int64_t total_epochs(const TrainConfig& cfg) { return cfg.epochs + (cfg.sched == "cosine" ? cfg.cooldown_epochs : 0); }

// NHWC weights for the convolutions (pays off on GPUs and oneDNN).
void to_channels_last(torch::nn::Module& model) {
  torch::NoGradGuard ng;
  for (auto& p : model.parameters())
    if (p.dim() == 4) p.set_data(p.contiguous(at::MemoryFormat::ChannelsLast));
}

// The run's output folder: summary.csv, log.jsonl, args.json (rank 0 only).
class RunOutputs {
 public:
  RunOutputs(const TrainConfig& cfg, bool writer, bool with_ema) : writer_(writer) {
    last = (fs::path(cfg.output) / "last.safetensors").string();
    best = (fs::path(cfg.output) / "best.safetensors").string();
    csv_ = (fs::path(cfg.output) / "summary.csv").string();
    if (!writer_) return;  // the other ranks write nothing (and may not agree on a generated folder name)
    fs::create_directories(cfg.output);
    attnzoo::write_file_atomic((fs::path(cfg.output) / "args.json").string(), cfg.to_json().dump(1) + "\n");
    // timm's name and format: `attnzoo train --config args.yaml` repeats the run.
    attnzoo::write_file_atomic((fs::path(cfg.output) / "args.yaml").string(), json_to_yaml(cfg.to_json()));
    if (cfg.resume.empty() || !fs::exists(csv_)) {
      std::ofstream csv(csv_);
      csv << "epoch,train_loss,eval_loss,eval_top1,eval_top5,lr,img_s" << (with_ema ? ",ema_loss,ema_top1,ema_top5" : "")
          << "\n";
    }
    // A resumed run continues its log; a new one starts it (claim_output_dir made sure it is not another run's).
    log_.open((fs::path(cfg.output) / "log.jsonl").string(), cfg.resume.empty() ? std::ios::trunc : std::ios::app);
  }
  void log(const nlohmann::json& record) {
    if (writer_) log_ << record.dump() << std::endl;
  }
  void csv_row(const std::string& row) {
    if (writer_) std::ofstream(csv_, std::ios::app) << row << "\n";
  }

  std::string last, best;

 private:
  bool writer_;
  std::string csv_;
  std::ofstream log_;
};

struct EpochEval {
  eval::EvalResult model, ema;
};

// One image-classification run: set-up in the constructor, then epochs of steps, each followed by an
// evaluation and a checkpoint.
class ImageRun {
 public:
  explicit ImageRun(const TrainConfig& cfg);
  TrainResult run();

 private:
  void build_model();
  void build_loaders();
  void resume();
  void train_epoch(int64_t epoch);
  double train_step(const datasets::Batch& b, int64_t epoch);
  EpochEval evaluate_models();
  void end_epoch(int64_t epoch, double train_loss);
  void step_plateau(int64_t epoch, const eval::EvalResult& chosen);
  void share_plateau_lr();
  void save(const std::string& path, const Counters& c) const;

  const TrainConfig& cfg_;
  const Clock::time_point t_start_ = Clock::now();
  const at::Device device_;
  const bool writer_;
  datasets::DatasetPtr train_ds_, val_ds_;
  nlohmann::json args_;  // the model's constructor arguments as used
  int64_t num_classes_ = 0;
  models::ClassifierPtr model_;
  datasets::TransformOptions transform_;
  nlohmann::json eval_transform_;  // what eval/predict need to rebuild the model and its inputs
  std::unique_ptr<ProcessGroup> pg_;
  std::unique_ptr<datasets::Loader> train_loader_, val_loader_;
  std::unique_ptr<Optimizer> opt_;
  int64_t steps_per_epoch_ = 0;    // batches
  int64_t updates_per_epoch_ = 0;  // optimizer updates (batches / grad_accum_steps, rounded up)
  LrSchedule sched_;               // over updates, as timm's
  int64_t layer_count_ = 0;        // --layer-decay: the layers the lr decays over
  /// The update that batch `batch` of `epoch` belongs to (the schedule's clock).
  int64_t update_index(int64_t epoch, int64_t batch) const {
    return epoch * updates_per_epoch_ + std::max<int64_t>(0, batch) / cfg_.grad_accum_steps;
  }
  int64_t epochs_ = 0;  // epochs + cooldown
  std::unique_ptr<ModelEma> ema_;
  datasets::MixupOptions mixup_;
  at::ScalarType amp_;
  GradScaler scaler_;
  std::vector<at::Tensor> amp_params_, dist_grads_;
  Counters st_;
  std::unique_ptr<RunOutputs> out_;
  std::unique_ptr<Progress> progress_;
  TrainResult result_;
  double recent_img_s_ = 0;
};

ImageRun::ImageRun(const TrainConfig& cfg)
    : cfg_(cfg), device_(cfg.device), writer_(cfg.rank == 0), amp_(amp_dtype(cfg.amp, device_)), scaler_(amp_ == at::kHalf) {
  torch::manual_seed(cfg.seed);
  train_ds_ = datasets::open_dataset(cfg.dataset, cfg.train_split, cfg.class_map);
  val_ds_ = open_val_split(cfg, train_ds_);
  build_model();
  // Data parallel: one process per replica (torchrun environment); gradients are averaged with c10d.
  pg_ = join_process_group(cfg.rank, cfg.world_size, device_, cfg.dist_timeout, cfg.dist_init_timeout);
  build_loaders();
  OptimizerOptions oo;
  oo.name = cfg.opt;
  oo.weight_decay = cfg.weight_decay;
  oo.momentum = cfg.momentum;
  auto params = param_groups(*model_, model_->no_weight_decay());
  apply_lr_hints(params, *model_, resolved_lr(cfg));
  if (cfg.layer_decay > 0) layer_count_ = apply_layer_decay(params, *model_, cfg.layer_decay);
  opt_ = make_optimizer(std::move(params), oo);
  for (const auto& prm : opt_->params()) amp_params_.push_back(prm.tensor);
  steps_per_epoch_ = train_loader_->num_batches();
  if (cfg.max_steps_per_epoch > 0) steps_per_epoch_ = std::min(steps_per_epoch_, cfg.max_steps_per_epoch);
  updates_per_epoch_ = (steps_per_epoch_ + cfg.grad_accum_steps - 1) / cfg.grad_accum_steps;
  sched_ = lr_schedule(cfg, updates_per_epoch_);
  st_.plateau.lr = sched_.lr;
  epochs_ = total_epochs(cfg);
  if (cfg.model_ema) ema_ = std::make_unique<ModelEma>(*model_, cfg.model_ema_decay);
  mixup_ = mixup_options(cfg, num_classes_);
  if (!cfg.resume.empty()) resume();
  sched_.plateau_lr = st_.plateau.lr;
  if (pg_) broadcast_module(*pg_, *model_);  // every replica starts from rank 0's weights (after a resume too)
  out_ = std::make_unique<RunOutputs>(cfg, writer_, ema_ != nullptr);
  progress_ = std::make_unique<Progress>(writer_);
  result_.last_checkpoint = out_->last;
  result_.best_checkpoint = out_->best;
}

void ImageRun::build_model() {
  args_ = cfg_.model_args;
  num_classes_ = cfg_.num_classes > 0 ? cfg_.num_classes : static_cast<int64_t>(train_ds_->classes().size());
  args_["num_classes"] = num_classes_;
  if (cfg_.in_chans > 0) args_["in_chans"] = cfg_.in_chans;
  if (cfg_.drop_path >= 0) args_["drop_path_rate"] = cfg_.drop_path;
  model_ = models::create_model(cfg_.model, args_);
  const int64_t in_chans =
      cfg_.in_chans > 0 ? cfg_.in_chans : models::registry().resolve_args(cfg_.model, args_).value("in_chans", int64_t{3});
  std::string initial_weights = cfg_.initial_checkpoint;
  if (cfg_.pretrained)
    initial_weights = models::pretrained_weights(cfg_.model, cfg_.download, checkpoint::print_download_progress());
  if (!initial_weights.empty()) {
    models::LoadOptions lo;
    lo.checkpoint_key = cfg_.checkpoint_key;
    lo.drop_mismatched_head = true;
    lo.adapt_input_conv = true;
    models::load_weights(*model_, initial_weights, lo);
  }
  model_->to(device_);
  if (cfg_.channels_last) to_channels_last(*model_);
  transform_ = transform_options(cfg_, model_->pretrained_cfg(), in_chans);
  eval_transform_ = {{"img_size", transform_.img_size}, {"in_chans", transform_.in_chans}, {"mean", transform_.mean},
                     {"std", transform_.std},           {"crop_pct", transform_.crop_pct}, {"interpolation", transform_.interpolation},
                     {"model", cfg_.model},             {"model_args", args_}};
}

void ImageRun::build_loaders() {
  datasets::LoaderOptions lo;
  lo.batch_size = cfg_.batch_size;
  lo.workers = cfg_.workers;
  lo.seed = cfg_.seed;
  lo.rank = cfg_.rank;
  lo.world_size = cfg_.world_size;
  lo.skip_bad_images = cfg_.skip_bad_images;
  train_loader_ = std::make_unique<datasets::Loader>(train_ds_, datasets::Transform(transform_, true), lo);
  lo.shuffle = false;
  lo.drop_last = false;
  lo.rank = 0;  // rank 0 evaluates the whole split
  lo.world_size = 1;
  val_loader_ = std::make_unique<datasets::Loader>(val_ds_, datasets::Transform(transform_, false), lo);
}

void ImageRun::resume() {
  const auto c = checkpoint::RunCheckpoint::load(cfg_.resume, checkpoint::kImageRun);
  checkpoint::load_state_dict(*model_, c.model, true, cfg_.resume);
  opt_->load_state_dict(c.optimizer);
  if (ema_) ema_->load(c.ema);
  if (!c.rng.defined()) throw std::runtime_error(cfg_.resume + ": the checkpoint has no generator state (rng.torch_cpu)");
  set_torch_rng_state(c.rng);
  st_.read(c.meta);
}

void ImageRun::save(const std::string& path, const Counters& c) const {
  checkpoint::RunCheckpoint ck;
  ck.kind = checkpoint::kImageRun;
  ck.model = checkpoint::state_dict(*model_);
  if (ema_) ck.ema = ema_->state();
  ck.optimizer = opt_->state_dict();
  ck.rng = torch_rng_state();
  c.write(ck.meta);
  ck.meta.update({{"arch", cfg_.model},
                  {"config", cfg_.to_json()},
                  {"classes", train_ds_->classes()},
                  {"eval_transform", eval_transform_},
                  {"model_args", nlohmann::json(cfg_.model_args)}});
  ck.save(path);
}

// One batch: forward + backward, and the update when it ends a --grad-accum-steps group (groups start at
// the epoch's first batch; the last group of an epoch may be shorter, its loss scaled by its own size, as
// timm does). Returns the batch's loss (averaged over the replicas). Throws on a non-finite loss.
double ImageRun::train_step(const datasets::Batch& b, int64_t epoch) {
  const int64_t accum = cfg_.grad_accum_steps;
  const int64_t group_start = b.index / accum * accum;
  const int64_t group_size = std::min(accum, steps_per_epoch_ - group_start);
  const bool group_first = b.index == group_start, group_last = b.index == group_start + group_size - 1;
  at::Tensor x = b.images;
  datasets::Rng mix_rng(datasets::sample_seed(cfg_.seed ^ 0x6d6978ull, epoch, b.index));
  at::Tensor target = datasets::mixup_batch(x, b.labels, mixup_, mix_rng).to(device_);
  x = x.to(device_);
  if (cfg_.channels_last) x = x.contiguous(at::MemoryFormat::ChannelsLast);
  const double lr = sched_(update_index(epoch, b.index));
  // --sync-bn: BatchNorm statistics over every rank's batch, in the forward and its backward below.
  std::optional<modules::SyncBatchNormScope> sync_bn;
  if (pg_ && cfg_.sync_bn) sync_bn.emplace([this](at::Tensor& t) {
    std::vector<at::Tensor> one{t};
    pg_->allreduce_sum(one);
  });
  at::Tensor logits;
  {
    AutocastGuard autocast(device_, amp_);  // --amp: the forward in bf16 / fp16, the loss in float32
    logits = model_->forward(x);
  }
  auto loss = -(target * torch::log_softmax(logits.to(torch::kFloat), 1)).sum(1).mean();
  if (const at::Tensor aux = model_->auxiliary_loss(); aux.defined()) loss = loss + aux.to(torch::kFloat);
  double lv = loss.item<double>();
  if (pg_) lv = allreduce_mean(*pg_, lv);  // the stop-on-NaN decision must be the same on every rank
  if (!std::isfinite(lv)) {
    progress_->finish();
    throw std::runtime_error("loss is " + std::to_string(lv) + " at epoch " + std::to_string(epoch) + " step " +
                             std::to_string(b.index) + " (lr " + std::to_string(lr) +
                             "); stopping. The last good checkpoint is kept: " + out_->last);
  }
  if (group_first) opt_->zero_grad();
  scaler_.scale_loss(group_size > 1 ? loss / static_cast<double>(group_size) : loss).backward();
  if (group_last) {
    if (pg_) allreduce_gradients(*pg_, opt_->params(), dist_grads_);  // bucketed all-reduce after backward
    // fp16: unscale (after the all-reduce, so every rank decides alike); inf/NaN gradients skip the update.
    const bool step_ok = scaler_.unscale_and_check(amp_params_);
    if (cfg_.clip_grad > 0 && step_ok) clip_grad_norm(opt_->params(), cfg_.clip_grad);
    if (step_ok) opt_->step(lr);
    if (ema_) ema_->update(*model_);
    if (pg_) inject_fault(cfg_.rank, st_.global_step + 1);
    if (pg_ && cfg_.dist_verify) verify_replicas(*pg_, *model_, st_.global_step + 1);  // tests: replicas == rank 0
  }
  ++st_.global_step;
  st_.batch = b.index + 1;
  return lv;
}

void ImageRun::train_epoch(int64_t epoch) {
  model_->train();
  train_loader_->start_epoch(epoch, st_.batch);
  double loss_sum = 0;
  int64_t images = 0;
  const auto t_epoch = Clock::now();
  while (auto b = train_loader_->next()) {
    if (b->index >= steps_per_epoch_) break;
    const double lv = train_step(*b, epoch);
    const int64_t n = b->images.size(0);
    loss_sum += lv * n;
    images += n;
    const double el = seconds_since(t_epoch);
    recent_img_s_ = el > 0 ? images * cfg_.world_size / el : 0;  // global throughput (all ranks)
    const double eta = recent_img_s_ > 0
                           ? (epochs_ * steps_per_epoch_ - st_.global_step) * cfg_.batch_size * cfg_.world_size / recent_img_s_
                           : 0;
    const double lr = sched_(update_index(epoch, st_.batch - 1));
    progress_->step(epoch + 1, epochs_, st_.batch, steps_per_epoch_, loss_sum / images, lr,
                    recent_img_s_, eta, seconds_since(t_start_));
    if (cfg_.log_interval > 0 && st_.global_step % cfg_.log_interval == 0)
      out_->log({{"type", "step"}, {"epoch", epoch}, {"step", st_.batch}, {"global_step", st_.global_step},
                 {"loss", lv}, {"lr", lr}, {"img_s", recent_img_s_}});
    if (writer_ && cfg_.checkpoint_every > 0 && st_.global_step % cfg_.checkpoint_every == 0) {
      Counters mid = st_;
      mid.epoch = epoch;
      save(out_->last, mid);
    }
    if (cfg_.stop_after_steps > 0 && st_.global_step >= cfg_.stop_after_steps) {
      progress_->finish();
      throw std::runtime_error("stopped after " + std::to_string(st_.global_step) + " steps (--stop-after-steps)");
    }
  }
  progress_->finish();
  if (train_loader_->skipped() > 0)
    progress_->line("epoch " + std::to_string(epoch + 1) + ": skipped " + std::to_string(train_loader_->skipped()) +
                    " unreadable image(s), e.g. " + train_loader_->skipped_messages().front());
  end_epoch(epoch, images ? loss_sum / images : 0);
}

// The model, and the EMA weights in a second model.
EpochEval ImageRun::evaluate_models() {
  EpochEval r;
  r.model = eval::evaluate(*model_, *val_loader_, device_);
  if (ema_) {
    auto em = models::create_model(cfg_.model, args_);
    checkpoint::load_state_dict(*em, ema_->state(), true, "EMA");
    em->to(device_);
    r.ema = eval::evaluate(*em, *val_loader_, device_);
  }
  return r;
}

// --sched plateau: the epoch's --eval-metric decides the lr of the epochs after the warmup (timm steps it with
// epoch + 1 and leaves the warmup epochs out).
void ImageRun::step_plateau(int64_t epoch, const eval::EvalResult& chosen) {
  if (cfg_.sched != "plateau" || static_cast<double>(epoch + 1) <= cfg_.warmup_epochs) return;
  const bool loss = cfg_.eval_metric == "loss";
  const double metric = loss ? chosen.loss : eval_score(chosen, cfg_.eval_metric);
  if (st_.plateau.step(metric, !loss, cfg_.patience_epochs, cfg_.decay_rate, cfg_.min_lr))
    progress_->line("plateau: " + cfg_.eval_metric + " has not improved for more than " + std::to_string(cfg_.patience_epochs) +
                    " epochs: lr " + std::to_string(st_.plateau.lr));
  sched_.plateau_lr = st_.plateau.lr;
}

// Data parallel: the plateau lr rank 0 decided, on every rank (one collective per epoch, on every rank alike).
void ImageRun::share_plateau_lr() {
  if (!pg_ || cfg_.sched != "plateau") return;
  std::vector<at::Tensor> lr{torch::full({1}, st_.plateau.lr, torch::TensorOptions().dtype(torch::kFloat64).device(device_))};
  pg_->broadcast(lr, 0);
  st_.plateau.lr = lr[0].item<double>();
  sched_.plateau_lr = st_.plateau.lr;
}

// Data parallel: rank 0 evaluates the whole split (exact numbers, no duplicated padding samples) while the
// others wait at the barrier.
void ImageRun::end_epoch(int64_t epoch, double train_loss) {
  st_.epoch = epoch + 1;
  st_.batch = 0;
  if (pg_ && !writer_) {
    pg_->barrier();
    share_plateau_lr();
    return;
  }
  const double lr_now = sched_(update_index(epoch, steps_per_epoch_ - 1));
  const EpochEval r = evaluate_models();
  const bool ema_wins = ema_ && eval_score(r.ema, cfg_.eval_metric) > eval_score(r.model, cfg_.eval_metric);
  const eval::EvalResult& chosen = ema_wins ? r.ema : r.model;
  const double score = eval_score(chosen, cfg_.eval_metric);
  const bool is_best = score > st_.best_score;
  if (is_best) {
    st_.best_score = score;
    st_.best_top1 = chosen.top1;
    st_.best_epoch = epoch + 1;
  }
  // --checkpoint-hist N: keep checkpoint-<epoch> of the N best epochs (timm's CheckpointSaver).
  std::optional<int64_t> drop;
  const int64_t hist = cfg_.checkpoint_hist;
  const bool keep = hist > 0 && (static_cast<int64_t>(st_.kept.size()) < hist || score > st_.kept.back().first);
  if (keep) {
    st_.kept.emplace_back(score, epoch + 1);
    std::stable_sort(st_.kept.begin(), st_.kept.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
    if (static_cast<int64_t>(st_.kept.size()) > hist) {
      drop = st_.kept.back().second;
      st_.kept.pop_back();
    }
  }
  step_plateau(epoch, chosen);
  if (pg_) pg_->barrier();
  share_plateau_lr();
  save(out_->last, st_);
  if (is_best) fs::copy_file(out_->last, out_->best, fs::copy_options::overwrite_existing);
  const auto history_file = [&](int64_t e) { return fs::path(out_->last).parent_path() / ("checkpoint-" + std::to_string(e) + ".safetensors"); };
  if (keep) fs::copy_file(out_->last, history_file(epoch + 1), fs::copy_options::overwrite_existing);
  if (drop) fs::remove(history_file(*drop));
  std::ostringstream row;
  row << epoch + 1 << "," << train_loss << "," << r.model.loss << "," << r.model.top1 << "," << r.model.top5 << ","
      << lr_now << "," << recent_img_s_;
  if (ema_) row << "," << r.ema.loss << "," << r.ema.top1 << "," << r.ema.top5;
  out_->csv_row(row.str());
  nlohmann::json record = {{"type", "epoch"},          {"epoch", epoch + 1},          {"train_loss", train_loss},
                           {"eval_loss", r.model.loss}, {"eval_top1", r.model.top1},   {"eval_top5", r.model.top5},
                           {"lr", lr_now},             {"img_s", recent_img_s_},      {"elapsed_s", seconds_since(t_start_)}};
  if (ema_) record.update({{"ema_top1", r.ema.top1}, {"ema_top5", r.ema.top5}, {"ema_loss", r.ema.loss}});
  out_->log(record);
  char line[256];
  std::snprintf(line, sizeof line, "epoch %ld/%ld: train_loss %.4f  eval_loss %.4f  top1 %.2f  top5 %.2f%s  (%.0f img/s, %s)",
                long(epoch + 1), long(epochs_), train_loss, r.model.loss, r.model.top1, r.model.top5,
                ema_ ? (" ema_top1 " + std::to_string(r.ema.top1).substr(0, 5)).c_str() : "", recent_img_s_,
                fmt_time(seconds_since(t_start_)).c_str());
  progress_->line(line);
  result_.final_top1 = chosen.top1;
  result_.final_top5 = chosen.top5;
  result_.final_loss = chosen.loss;
}

TrainResult ImageRun::run() {
  int64_t n_params = 0;
  for (const auto& p : model_->parameters()) n_params += p.numel();
  std::string lr_how;
  resolved_lr(cfg_, &lr_how);
  progress_->line("train " + cfg_.model + " (" + std::to_string(n_params) + " params) on " + train_ds_->describe() +
                  "; eval on " + val_ds_->describe() + "; " + std::to_string(epochs_) + " epochs x " +
                  std::to_string(steps_per_epoch_) + " steps, batch " + std::to_string(cfg_.batch_size) + ", lr " +
                  std::to_string(sched_.lr) + " (" + lr_how + "), threads " + std::to_string(at::get_num_threads()));
  if (layer_count_ > 0)
    progress_->line("layer decay " + std::to_string(cfg_.layer_decay) + " over " + std::to_string(layer_count_) +
                    " layers (" + (model_->group_matcher().empty() ? "timm's fallback grouping, 12 tensors each" : "the family's group matcher") +
                    "): the first trains at lr x " + std::to_string(std::pow(cfg_.layer_decay, double(layer_count_ - 1))));
  for (int64_t epoch = st_.epoch; epoch < epochs_; ++epoch) train_epoch(epoch);
  result_.best_top1 = st_.best_top1;
  result_.best_epoch = st_.best_epoch;
  result_.seconds = seconds_since(t_start_);
  return result_;
}

}  // namespace

namespace {

// The input size the run will use, for its folder name (as transform_options resolves it).
int64_t run_img_size(const TrainConfig& cfg) {
  if (cfg.img_size > 0) return cfg.img_size;
  const models::ModelVariant* v = models::registry().find_variant(cfg.model);
  if (v) return v->pretrained.input_size[1];
  const models::ModelFamily* f = models::registry().find_family(cfg.model);
  return f ? f->pretrained.input_size[1] : 0;
}

}  // namespace

TrainResult run_training(const TrainConfig& config) {
  TrainConfig cfg = config;
  cfg.output = run_output_dir(cfg.output, cfg.experiment, cfg.model, run_img_size(cfg));
  if (cfg.rank == 0) claim_output_dir(cfg.output, !cfg.resume.empty(), cfg.overwrite);
  return ImageRun(cfg).run();
}

}  // namespace attnzoo::train
