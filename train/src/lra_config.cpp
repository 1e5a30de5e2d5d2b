#include <attnzoo/train/lra.h>

#include "config_values.h"

#include <attnzoo/core/device.h>

#include <stdexcept>

namespace attnzoo::train {
namespace {

const RangeTable& lra_ranges() {
  static const RangeTable t = {
      {"steps", {1, 1e9}},          {"batch_size", {1, 1 << 20}},   {"eval_every", {1, 1e9}},
      {"warmup_steps", {1, 1e9}},   {"lr", {1e-12, 100}},           {"weight_decay", {0, 100}},
      {"opt_eps", {1e-30, 1}},      {"max_len", {0, 1 << 24}},      {"text_classes", {1, 1e6}},
      {"max_eval", {0, 1e12}},      {"checkpoint_every", {0, 1e12}}, {"stop_after_steps", {0, 1e12}},
      {"dist_timeout", {1e-3, 1e7}},
      {"dist_init_timeout", {1e-3, 1e7}},
  };
  return t;
}

}  // namespace

#define ATTNZOO_LRA_FIELDS(X)                                                                                       \
  X(task) X(data) X(model) X(model_args) X(steps) X(batch_size) X(eval_every) X(warmup_steps) X(lr) X(schedule) X(weight_decay) \
  X(opt_eps) X(max_len) X(text_classes) X(max_eval) X(seed) X(output) X(experiment) X(overwrite) X(device) X(resume) X(checkpoint_every)          \
  X(stop_after_steps) X(dist_timeout) X(dist_init_timeout) X(dist_verify)

namespace {

// The recipe keys, spelled as flags (the field list is the one source; model_args is given as `set`).
std::string lra_keys() {
  std::string keys;
  auto add = [&keys](std::string k) {
    for (auto& ch : k)
      if (ch == '_') ch = '-';
    if (k == "model-args") k = "set";
    if (k == "text-classes") k = "num-classes";
    keys += (keys.empty() ? "" : ", ") + k;
  };
#define X(name) add(#name);
  ATTNZOO_LRA_FIELDS(X)
#undef X
  return keys;
}

}  // namespace

void LRATrainConfig::apply_json(const nlohmann::json& j, const std::string& what) {
  if (!j.is_object()) throw std::invalid_argument(what + ": expected a mapping of flag: value");
  for (auto it = j.begin(); it != j.end(); ++it) {
    std::string k = recipe_field(it.key());
    if (k == "dataset") k = "data";
    if (k == "num_classes") k = "text_classes";
    if (k == "model_args") {
      merge_model_args(it.value(), model_args, what);
      continue;
    }
    bool known = false;
#define X(name)                                          \
  if (k == #name) {                                      \
    read_value(it.value(), name, k, what, lra_ranges()); \
    known = true;                                        \
  }
    ATTNZOO_LRA_FIELDS(X)
#undef X
    if (!known) throw std::invalid_argument(what + ": '" + it.key() + "' does not apply to --task lra-* (keys: " + lra_keys() + ")");
  }
}

void LRATrainConfig::validate() const {
  auto positive = [](int64_t v, const char* flag) {
    if (v < 1) throw std::invalid_argument(std::string("--") + flag + " must be positive, got " + std::to_string(v));
  };
  positive(steps, "steps");
  positive(batch_size, "batch-size");
  positive(eval_every, "eval-every");
  positive(warmup_steps, "warmup-steps");
  if (!(lr > 0)) throw std::invalid_argument("--lr must be positive");
  if (schedule != "rsqrt" && schedule != "cosine") throw std::invalid_argument("--schedule must be rsqrt or cosine, got '" + schedule + "'");
  if (!(opt_eps > 0)) throw std::invalid_argument("--opt-eps must be positive");
  if (max_len < 0 || max_eval < 0 || checkpoint_every < 0) throw std::invalid_argument("--max-len, --max-eval and --checkpoint-every must be >= 0");
  parse_device(device);
}

nlohmann::json LRATrainConfig::to_json() const {
  nlohmann::json j;
#define X(name) j[#name] = name;
  ATTNZOO_LRA_FIELDS(X)
#undef X
  return j;
}

}  // namespace attnzoo::train
