#pragma once
// `attnzoo train`: the training loop with timm train.py's features. Every field mirrors a CLI flag
// (underscores for dashes) so a YAML recipe can set any of them.
#include <nlohmann/json.hpp>

#include <array>
#include <string>

namespace attnzoo::train {

struct TrainConfig {
  // Model.
  std::string model = "van_fmnist";
  nlohmann::json model_args = nlohmann::json::object();  // --config/--set overrides (official names)
  int64_t num_classes = -1;   // -1: from the dataset
  int64_t in_chans = -1;      // -1: model default (gray data is replicated to 3 channels)
  int64_t img_size = -1;      // -1: the variant's pretrained input size
  double drop_path = -1;      // -1: model default
  std::string initial_checkpoint;
  std::string checkpoint_key;
  bool pretrained = false;  // start from the authors' released weights of `model` (models::pretrained_weights)
  bool download = false;    // with `pretrained`: fetch them when no local copy exists
  // Data.
  std::string dataset = "fashion-mnist";  // see datasets::open_dataset
  std::string train_split = "train";
  std::string val_split;                  // empty: "val", or "test" when there is no val split
  std::string class_map;
  int workers = 2;
  bool skip_bad_images = false;           // --on-bad-image skip|error
  // Transforms.
  std::string interpolation = "bicubic";
  double crop_pct = -1;                   // eval; -1: pretrained cfg
  std::array<double, 3> mean{-1, -1, -1}, std{-1, -1, -1};  // -1: pretrained cfg
  bool no_rrc = false;                    // plain resize (+ optional pad-crop) instead of RandomResizedCrop
  std::array<double, 2> scale{0.08, 1.0};
  std::array<double, 2> ratio{3.0 / 4.0, 4.0 / 3.0};
  int64_t pad_crop = 0;
  double hflip = 0.5;
  std::string aa;                         // "rand-m9-mstd0.5-inc1"
  double reprob = 0.0;
  double mixup = 0.0, cutmix = 0.0, mixup_prob = 1.0, mixup_switch_prob = 0.5;
  double smoothing = 0.1;                 // --label-smoothing
  // Optimisation.
  int64_t epochs = 10;
  int64_t batch_size = 128;
  std::string opt = "adamw";
  double lr = 0;                          // 0: from lr_base, timm's rule (resolved_lr)
  double lr_base = 5e-4;
  int64_t lr_base_size = 256;             // the global batch lr_base is for (timm's default 256)
  std::string lr_base_scale;              // sqrt | linear; empty: sqrt for adam*/lamb, linear otherwise (timm)
  double weight_decay = 0.05;
  double momentum = 0.9;
  double layer_decay = 0;                 // > 0: layer-wise lr decay (timm's --layer-decay; layer_decay.h)
  double warmup_epochs = 1;
  double warmup_lr = 1e-6;
  double min_lr = 1e-5;
  std::string sched = "cosine";           // cosine | step | multistep | none | plateau (timm's --sched; schedule.h)
  int64_t patience_epochs = 10;           // plateau: epochs without improvement before the lr decays (timm)
  double decay_epochs = 90;               // step: epochs between decays
  std::vector<int64_t> decay_milestones{90, 180, 270};  // multistep: epochs at which lr decays
  double decay_rate = 0.1;                // step / multistep / plateau: the factor
  int64_t cooldown_epochs = 0;            // cosine: epochs at min_lr appended after `epochs` (timm)
  double clip_grad = 0;                   // 0: off
  int64_t grad_accum_steps = 1;           // batches whose gradients are summed into one update (timm)
  int64_t checkpoint_hist = 0;            // keep checkpoint-<epoch> of the N best epochs (timm's default is 10)
  std::string eval_metric = "top1";       // what "best" means: top1 | top5 | loss (lowest)
  bool model_ema = false;
  double model_ema_decay = 0.9998;
  // Run.
  uint64_t seed = 42;
  std::string output;                     // empty: output/train/<experiment or YYYYMMDD-HHMMSS-model-img_size>
  std::string experiment;                 // the generated folder name's replacement (timm's --experiment)
  bool overwrite = false;                 // replace the run already in `output` (refused otherwise)
  std::string resume;
  std::string device = "cpu";
  bool channels_last = false;             // NHWC conv weights and inputs
  std::string amp;                        // "" (off), "bf16" (CPU or CUDA autocast), "fp16" (CUDA, loss scaling)
  int64_t checkpoint_every = 0;           // also save a recovery checkpoint every N updates
  int64_t log_interval = 50;
  int64_t max_steps_per_epoch = 0;        // 0: full epochs (for smoke tests)
  int64_t stop_after_steps = 0;           // tests: end abruptly after N updates, saving nothing (a simulated kill)
  int64_t rank = 0, world_size = 1;       // from the torchrun environment (DistEnv::from_env) when > 1
  double dist_timeout = 1800;             // seconds a collective may wait for the other ranks
  double dist_init_timeout = 300;         // seconds the rendezvous waits for every rank to arrive
  bool dist_verify = false;               // after every update, check the weights are bit-identical on all ranks
  bool sync_bn = false;                   // data parallel: BatchNorm statistics over every rank's batch (timm's --sync-bn)

  /// Fills the fields from a recipe (keys = flag names with '-' or '_'); unknown keys are an error.
  void apply_json(const nlohmann::json& j, const std::string& what);
  nlohmann::json to_json() const;
};

struct TrainResult {
  double best_top1 = 0;
  int64_t best_epoch = -1;
  double final_top1 = 0, final_top5 = 0, final_loss = 0;
  double seconds = 0;
  std::string last_checkpoint, best_checkpoint;
};

/// Trains; writes OUTPUT/{summary.csv, log.jsonl, args.json, last.safetensors, best.safetensors}.
/// Throws std::runtime_error on data/checkpoint problems and on a non-finite loss (after which the
/// last good checkpoint is left untouched).
TrainResult run_training(const TrainConfig& config);

/// The peak learning rate, as timm's train.py derives it: `lr` when set, else lr_base * ratio with ratio =
/// global batch / lr_base_size, square-rooted for lr_base_scale sqrt. `how` (optional) says which, for the log.
double resolved_lr(const TrainConfig& cfg, std::string* how = nullptr);

}  // namespace attnzoo::train
