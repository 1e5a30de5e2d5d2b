#include <attnzoo/train/trainer.h>

#include <stdexcept>

namespace attnzoo::train {
namespace {

std::string normalise(std::string k) {
  for (auto& c : k)
    if (c == '-') c = '_';
  if (k == "label_smoothing") return "smoothing";
  if (k == "set") return "model_args";
  return k;
}

template <typename T>
void take(const nlohmann::json& v, T& field, const std::string& key, const std::string& what) {
  try {
    field = v.get<T>();
  } catch (const nlohmann::json::exception&) {
    throw std::invalid_argument(what + ": '" + key + "' has the wrong type: " + v.dump());
  }
}

}  // namespace

#define ATTNZOO_TRAIN_FIELDS(X)                                                                                      \
  X(model) X(model_args) X(num_classes) X(in_chans) X(img_size) X(drop_path) X(initial_checkpoint) X(checkpoint_key) \
  X(dataset) X(train_split) X(val_split) X(class_map) X(workers) X(skip_bad_images) X(interpolation) X(crop_pct)     \
  X(mean) X(std) X(no_rrc) X(scale) X(ratio) X(pad_crop) X(hflip) X(aa) X(reprob) X(mixup) X(cutmix) X(mixup_prob)  \
  X(mixup_switch_prob) X(smoothing) X(epochs) X(batch_size) X(opt) X(lr) X(lr_base) X(lr_base_size) X(lr_base_scale) X(weight_decay) X(momentum)       \
  X(warmup_epochs) X(warmup_lr) X(min_lr) X(clip_grad) X(model_ema) X(model_ema_decay) X(seed) X(output) X(resume)    \
  X(device) X(amp) X(channels_last) X(checkpoint_every) X(log_interval) X(max_steps_per_epoch) X(stop_after_steps) X(dist_timeout) X(dist_verify)

void TrainConfig::apply_json(const nlohmann::json& j, const std::string& what) {
  if (!j.is_object()) throw std::invalid_argument(what + ": expected a mapping of flag: value");
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string k = normalise(it.key());
    if (k == "data") {  // alias of --dataset
      take(it.value(), dataset, k, what);
      continue;
    }
    if (k == "on_bad_image") {
      const std::string v = it.value().get<std::string>();
      if (v != "skip" && v != "error") throw std::invalid_argument(what + ": on_bad_image must be skip or error");
      skip_bad_images = v == "skip";
      continue;
    }
    if (k == "model_args") {
      if (!it.value().is_object()) throw std::invalid_argument(what + ": model_args must be a mapping");
      for (auto a = it.value().begin(); a != it.value().end(); ++a) model_args[a.key()] = a.value();
      continue;
    }
    bool known = false;
#define X(name)                              \
  if (k == #name) {                          \
    take(it.value(), name, it.key(), what);  \
    known = true;                            \
  }
    ATTNZOO_TRAIN_FIELDS(X)
#undef X
    if (!known) throw std::invalid_argument(what + ": unknown key '" + it.key() + "' (keys are the train flag names)");
  }
  if (!lr_base_scale.empty() && lr_base_scale != "sqrt" && lr_base_scale != "linear")
    throw std::invalid_argument(what + ": lr_base_scale must be sqrt or linear, got '" + lr_base_scale + "'");
  if (lr_base_size <= 0)
    throw std::invalid_argument(what + ": lr_base_size must be a positive batch size, got " + std::to_string(lr_base_size));
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
