#include <attnzoo/train/trainer.h>

#include "config_values.h"

#include <attnzoo/core/device.h>
#include <attnzoo/core/diagnostics.h>
#include <attnzoo/train/schedule.h>
#include <attnzoo/train/timm_args.h>

#include <algorithm>
#include <stdexcept>
#include <vector>

namespace attnzoo::train {
namespace {

std::string normalise(const std::string& key) {
  const std::string k = recipe_field(key);
  return k == "label_smoothing" ? "smoothing" : k;
}

// What each numeric key allows (values beyond these train nothing, overflow, or exhaust the machine).
const RangeTable& train_ranges() {
  static const RangeTable t = {
      {"num_classes", {1, 1e6, true}},    {"in_chans", {1, 64, true}},          {"img_size", {8, 8192, true}},
      {"drop_path", {0, 1, true}},        {"workers", {1, 256}},                {"crop_pct", {0.05, 1, true}},
      {"mean", {-1e3, 1e3, true}},        {"std", {1e-6, 1e3, true}},           {"scale", {1e-6, 1}},
      {"ratio", {1e-3, 1e3}},             {"pad_crop", {0, 1024}},              {"hflip", {0, 1}},
      {"reprob", {0, 1}},                 {"mixup", {0, 100}},                  {"cutmix", {0, 100}},
      {"mixup_prob", {0, 1}},             {"mixup_switch_prob", {0, 1}},        {"smoothing", {0, 0.999}},
      {"epochs", {1, 100000}},            {"batch_size", {1, 1 << 20}},         {"lr", {0, 100}},
      {"lr_base", {1e-12, 100}},          {"lr_base_size", {1, 1 << 24}},       {"weight_decay", {0, 100}},
      {"momentum", {0, 1}},               {"layer_decay", {0, 1}},               {"warmup_epochs", {0, 100000}},       {"warmup_lr", {0, 100}},
      {"min_lr", {0, 100}},               {"decay_epochs", {1e-3, 1e6}},        {"decay_rate", {0, 1}},
      {"cooldown_epochs", {0, 100000}},   {"patience_epochs", {0, 100000}},   {"grad_accum_steps", {1, 1 << 20}},  {"checkpoint_hist", {0, 100000}},   {"decay_milestones", {0, 1e6}},               {"clip_grad", {0, 1e9}},              {"model_ema_decay", {0, 1}},
      {"checkpoint_every", {0, 1e12}},    {"log_interval", {0, 1e12}},          {"max_steps_per_epoch", {0, 1e12}},
      {"stop_after_steps", {0, 1e12}},    {"dist_timeout", {1e-3, 1e7}},
      {"dist_init_timeout", {1e-3, 1e7}},
  };
  return t;
}

template <typename T>
void take(const nlohmann::json& v, T& field, const std::string& key, const std::string& what) {
  read_value(v, field, key, what, train_ranges());
}

}  // namespace

#define ATTNZOO_TRAIN_FIELDS(X)                                                                                      \
  X(model) X(model_args) X(num_classes) X(in_chans) X(img_size) X(drop_path) X(initial_checkpoint) X(checkpoint_key) \
  X(pretrained) X(download)                                                                                          \
  X(dataset) X(train_split) X(val_split) X(class_map) X(workers) X(skip_bad_images) X(interpolation) X(crop_pct)     \
  X(mean) X(std) X(no_rrc) X(scale) X(ratio) X(pad_crop) X(hflip) X(aa) X(reprob) X(mixup) X(cutmix) X(mixup_prob)  \
  X(mixup_switch_prob) X(smoothing) X(epochs) X(batch_size) X(opt) X(lr) X(lr_base) X(lr_base_size) X(lr_base_scale) X(weight_decay) X(momentum) X(layer_decay)       \
  X(warmup_epochs) X(warmup_lr) X(min_lr) X(sched) X(decay_epochs) X(decay_milestones) X(decay_rate) X(patience_epochs) X(cooldown_epochs) X(clip_grad) X(grad_accum_steps) X(checkpoint_hist) X(eval_metric) X(model_ema) X(model_ema_decay) X(seed) X(output) X(experiment) X(overwrite) X(resume)    \
  X(device) X(amp) X(channels_last) X(checkpoint_every) X(log_interval) X(max_steps_per_epoch) X(stop_after_steps) X(dist_timeout) X(dist_init_timeout) X(dist_verify) X(sync_bn)

namespace {

// A value that leaves the key at its default: null, or an empty string (what timm writes for "not set").
bool unset(const nlohmann::json& v) { return v.is_null() || (v.is_string() && v.get<std::string>().empty()); }

// timm's args.yaml keys that attnzoo reads under its own name, or whose timm value means attnzoo's default.
// Returns false when `k` is none of them.
bool apply_timm_synonym(TrainConfig& c, const std::string& k, const nlohmann::json& v, const nlohmann::json& doc,
                        const std::string& what) {
  if (k == "data_dir") {  // timm's dataset folder
    read_value(v, c.dataset, k, what, train_ranges());
  } else if (k == "model_kwargs") {  // timm's extra constructor arguments = attnzoo's model_args
    if (!v.is_object()) throw std::invalid_argument(value_label(what, k) + ": must be a mapping");
    for (auto a = v.begin(); a != v.end(); ++a) c.model_args[a.key()] = a.value();
  } else if (k == "recovery_interval") {  // batches between recovery checkpoints
    read_value(v, c.checkpoint_every, k, what, train_ranges());
  } else if (k == "amp" && v.is_boolean()) {  // timm: a switch plus amp_dtype
    if (v.get<bool>()) {
      const std::string dtype = doc.value("amp_dtype", std::string("float16"));
      c.amp = dtype == "bfloat16" ? "bf16" : "fp16";
    }
  } else if (k == "amp_dtype") {  // read with amp
  } else if (k == "val_split" && v == "validation") {  // timm's default: the folder's val split, as attnzoo's default
  } else {
    return false;
  }
  return true;
}

}  // namespace

void TrainConfig::apply_json(const nlohmann::json& j, const std::string& what) {
  if (!j.is_object()) throw std::invalid_argument(what + ": expected a mapping of flag: value");
  std::vector<std::string> timm_ignored;  // timm settings attnzoo does not implement, set to non-default values
  int64_t timm_at_default = 0;            // ... and those left at timm's defaults
  const auto& timm = timm_train_defaults();
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string k = normalise(it.key());
    if (apply_timm_synonym(*this, k, it.value(), j, what)) continue;
    if (unset(it.value()) && k != "model_args") {
      bool ours = k == "data" || k == "on_bad_image";
#define X(name) ours = ours || k == #name;
      ATTNZOO_TRAIN_FIELDS(X)
#undef X
      if (ours || timm.count(k)) continue;
    }
    if (k == "data") {  // alias of --dataset
      take(it.value(), dataset, k, what);
      continue;
    }
    if (k == "on_bad_image") {
      std::string v;
      take(it.value(), v, k, what);
      if (v != "skip" && v != "error")
        throw std::invalid_argument(value_label(what, k) + ": must be skip or error, got '" + v + "'");
      skip_bad_images = v == "skip";
      continue;
    }
    if (k == "model_args") {
      merge_model_args(it.value(), model_args, what);
      continue;
    }
    bool known = false;
#define X(name)                              \
  if (k == #name) {                          \
    take(it.value(), name, k, what);         \
    known = true;                            \
  }
    ATTNZOO_TRAIN_FIELDS(X)
#undef X
    if (known) continue;
    if (const auto t = timm.find(k); t != timm.end()) {
      if (unset(it.value()) || it.value() == t->second) ++timm_at_default;
      else timm_ignored.push_back(k + "=" + it.value().dump());
      continue;
    }
    throw std::invalid_argument(what + ": unknown key '" + it.key() + "' (keys are the train flag names, or timm's train.py arguments)");
  }
  if (!timm_ignored.empty() || timm_at_default > 0) {
    std::string list;
    for (const auto& s : timm_ignored) list += (list.empty() ? "" : ", ") + s;
    warn(what + ": timm settings attnzoo does not implement, ignored: " + (list.empty() ? "none set" : list) + " (and " +
         std::to_string(timm_at_default) + " more timm keys at timm's defaults)");
  }
  if (eval_metric != "top1" && eval_metric != "top5" && eval_metric != "loss")
    throw std::invalid_argument(value_label(what, "eval_metric") + ": must be top1, top5 or loss, got '" + eval_metric + "'");
  if (checkpoint_every % grad_accum_steps != 0)
    throw std::invalid_argument(value_label(what, "checkpoint_every") + ": must be a multiple of grad_accum_steps (" +
                                std::to_string(grad_accum_steps) + "), so that recovery checkpoints fall between updates");
  if (!is_schedule_kind(sched))
    throw std::invalid_argument(value_label(what, "sched") + ": must be cosine, step, multistep, plateau or none, got '" + sched + "'");
  if (!std::is_sorted(decay_milestones.begin(), decay_milestones.end()))
    throw std::invalid_argument(value_label(what, "decay_milestones") + ": must be increasing");
  if (!lr_base_scale.empty() && lr_base_scale != "sqrt" && lr_base_scale != "linear")
    throw std::invalid_argument(value_label(what, "lr_base_scale") + ": must be sqrt or linear, got '" + lr_base_scale + "'");
  if (j.contains("device")) parse_device(device, value_label(what, "device"));
  if (pretrained && !initial_checkpoint.empty())
    throw std::invalid_argument(what + ": pretrained and initial_checkpoint both give the starting weights: pick one");
}

nlohmann::json TrainConfig::to_json() const {
  nlohmann::json j;
#define X(name) j[#name] = name;
  ATTNZOO_TRAIN_FIELDS(X)
#undef X
  j["on_bad_image"] = skip_bad_images ? "skip" : "error";
  j.erase("skip_bad_images");
  return j;
}

}  // namespace attnzoo::train
