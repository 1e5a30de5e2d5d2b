#pragma once
// A model ready for evaluation with its input pipeline, from a model name and/or a checkpoint: an attnzoo
// training checkpoint records the model, its arguments, classes and eval transform, so it needs nothing
// else; other weights (safetensors, official .pth) need the model named. Used by `attnzoo eval` / `predict`.
#include <attnzoo/datasets/transforms.h>
#include <attnzoo/models/classifier.h>

#include <nlohmann/json.hpp>

#include <array>
#include <optional>
#include <string>
#include <vector>

namespace attnzoo::eval {

struct EvalModelRequest {
  std::string model;                    // variant or family; empty: the one recorded in the checkpoint
  nlohmann::json model_args;            // constructor-argument overrides (with `model`)
  std::string checkpoint, checkpoint_key;
  bool use_ema = false;                 // the checkpoint's EMA weights instead of its model weights
  int64_t num_classes = -1, in_chans = -1, img_size = -1;  // -1: recorded / pretrained config
  int64_t data_classes = -1;            // classes of the data, when neither the flags nor the checkpoint say
  double crop_pct = -1;
  std::optional<std::array<double, 3>> mean, std;
  std::string interpolation;            // empty: recorded / pretrained config
  std::string device = "cpu";
};

struct EvalModel {
  models::ClassifierPtr model;          // on the device, in eval mode
  datasets::TransformOptions transform;
  std::vector<std::string> classes;     // recorded class names (empty when unknown)
  std::string name;                     // the model's registry name
};

/// Throws std::invalid_argument for requests that cannot name a model or whose arguments are invalid,
/// std::runtime_error for unreadable / mismatched checkpoints.
EvalModel load_eval_model(const EvalModelRequest& request);

}  // namespace attnzoo::eval
