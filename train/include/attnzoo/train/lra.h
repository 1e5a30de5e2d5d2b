#pragma once
// Long Range Arena training: an lra_encoder on a sequence task with LRA's optimiser (Adam beta (0.9, 0.98),
// eps 1e-9, decoupled weight decay on every parameter, as Flax) and LRA's learning-rate rule
// lr(step) = base * min(1, step / warmup) / sqrt(max(step, warmup)) (or, as LRA's Image and Pathfinder
// configs, base * min(1, step / warmup) * cosine decay over the steps after warmup), step-based, evaluated on the
// validation split every `eval_every` steps and on the test split at the end.
//
// Runs are resumable exactly: the data order is a function of (seed, epoch) and the dropout stream of
// (seed, step, rank), so a checkpoint needs only the weights, the optimiser state and the step. Data
// parallel: every rank draws the same global batch and takes its slice (batch_size / world_size);
// gradients are averaged with c10d; rank 0 evaluates and writes.
#include <nlohmann/json.hpp>

#include <cstdint>

#include <string>

namespace attnzoo::train {

struct LRATrainConfig {
  std::string task;                   // lra-listops | lra-text | lra-image
  std::string data;                   // listops: dir of basic_{train,val,test}.tsv; text: dir of {train,test}.tsv;
                                      // image: a dataset spec (default fashion-mnist)
  std::string model = "lra_tiny";     // an LRA configuration (lra_listops, lra_text, lra_image, lra_tiny)
  nlohmann::json model_args = nlohmann::json::object();  // overrides, e.g. {"attention": "neighborhood"}
  int64_t steps = 1000, batch_size = 32, eval_every = 250, warmup_steps = 100;
  double lr = 0.05;                   // LRA's "base" (rsqrt: the peak is base / sqrt(warmup); cosine: the peak)
  std::string schedule = "rsqrt";     // "rsqrt" (ListOps/Text/Retrieval) or "cosine" (Image/Pathfinder configs)
  double weight_decay = 0.01;
  double opt_eps = 1e-9;              // Adam epsilon (LRA: 1e-9)
  int64_t max_len = 0;                // 0: the task's (ListOps 2000, Text 1000, Image H*W)
  int64_t text_classes = 2;
  int64_t max_eval = 0;               // evaluate on the first N examples of val / test only (0: all)
  uint64_t seed = 0;
  std::string output;                 // empty: output/lra/<experiment or YYYYMMDD-HHMMSS-model-task>
  std::string experiment;             // the generated folder name's replacement
  bool overwrite = false;             // replace the run already in `output` (refused otherwise)
  std::string device = "cpu";
  std::string resume;                 // OUTPUT/last.safetensors of an earlier run: continue it exactly
  int64_t checkpoint_every = 0;       // also checkpoint every N steps (0: at every evaluation only)
  int64_t stop_after_steps = 0;       // testing aid: stop (with an error) after N steps, as if killed
  int64_t rank = 0, world_size = 1;   // data parallel (torchrun environment)
  double dist_timeout = 1800;         // seconds a collective waits for the other ranks
  double dist_init_timeout = 300;     // seconds the rendezvous waits for every rank to arrive
  bool dist_verify = false;           // after every update, check that the replicas hold equal weights

  /// Applies a recipe / the flags: keys are the train flag names ('-' or '_'); "num_classes" sets
  /// text_classes, "set" / "model_args" merge into model_args, "dataset" is an alias of "data". Unknown keys
  /// and wrong types throw std::invalid_argument naming `what` and the key.
  void apply_json(const nlohmann::json& j, const std::string& what);
  /// Checks the values (positive steps, batch, ...); throws std::invalid_argument naming the flag.
  void validate() const;
  nlohmann::json to_json() const;
};

struct LRAResult {
  double val_accuracy = 0, test_accuracy = 0, seconds = 0, tokens_per_second = 0;
  int64_t steps = 0, params = 0;
};

/// The learning rate of `step` (1-based) under c's schedule.
double lra_learning_rate(const LRATrainConfig& c, int64_t step);

/// Trains and writes OUTPUT/{log.jsonl, last.safetensors (resumable), result.json, final.safetensors}.
/// Data problems throw with the file and line. Ranks other than 0 return a result without accuracies.
LRAResult run_lra_training(const LRATrainConfig& cfg);

struct LRAEvalResult {
  double accuracy = 0, seconds = 0;
  int64_t count = 0;
  std::string task, data;
};

/// Evaluates an LRA checkpoint (OUTPUT/last.safetensors or final.safetensors of `train --task lra-*`, which
/// record their run's configuration) on its task's `split` ("val" or "test"); `data` replaces the recorded
/// data folder when not empty. Throws naming the file for other checkpoints.
LRAEvalResult evaluate_lra_checkpoint(const std::string& checkpoint, const std::string& split, const std::string& data = "",
                                      int64_t max_eval = 0, const std::string& device = "cpu");

}  // namespace attnzoo::train
