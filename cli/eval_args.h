#pragma once
// The model flags `eval`, `predict`, `extract` and `viz` share: a model by name and/or checkpoint (or
// --pretrained), its eval transform overrides and the data to read.
#include "commands.h"
#include "model_args.h"

#include <attnzoo/datasets/dataset.h>
#include <attnzoo/eval/load.h>

#include <string>
#include <vector>

namespace attnzoo::cli {

struct EvalArgs {
  ModelArgs model;
  PretrainedArgs pretrained;
  std::vector<std::string> checkpoints;  // --checkpoint as given (eval takes several: a sweep)
  std::string checkpoint, checkpoint_key, dataset, split, class_map, interpolation, device = "cpu";
  std::string results_csv;
  int64_t batch_size = 128, img_size = -1, num_classes = -1, in_chans = -1;
  double crop_pct = -1;
  std::vector<double> mean, std;
  int workers = 2;
  bool json = false;
  bool use_ema = false;
  std::vector<std::string> images;
  int topk = 5;
  std::string layer = "pre_logits", output;  // extract
  std::string model_list;                     // eval sweeps
};

/// The model and its eval transform, from the flags and an attnzoo checkpoint's record; a request that names
/// no usable model is a UsageError.
eval::EvalModel prepare(const EvalArgs& a, int64_t data_classes);

/// --model, --config, --set, --checkpoint, --pretrained..., --img-size ... --device on `cmd`.
void add_eval_model_flags(CLI::App* cmd, EvalArgs& a);

/// Sorts `cmd`'s flags into the help's groups (Model and weights, Input transform, Data, Run, Output) and shows the
/// defaults of those that have one; call after every flag is added.
void group_eval_flags(CLI::App* cmd);

/// --pretrained resolved to the file it names: from here on it is a --checkpoint like any other. Several
/// --checkpoint flags are a UsageError here (only `eval` sweeps them, one at a time through this).
EvalArgs resolve_pretrained(EvalArgs a);

/// --data / --split (default: Fashion-MNIST's test split); a bad spec is a UsageError naming the flag.
datasets::DatasetPtr open_eval_data(const EvalArgs& a);

}  // namespace attnzoo::cli
