#include <attnzoo/train/lra.h>

#include <stdexcept>

namespace attnzoo::train {

#define ATTNZOO_LRA_FIELDS(X)                                                                                       \
  X(task) X(data) X(model) X(model_args) X(steps) X(batch_size) X(eval_every) X(warmup_steps) X(lr) X(schedule) X(weight_decay) \
  X(opt_eps) X(max_len) X(text_classes) X(max_eval) X(seed) X(output) X(device) X(resume) X(checkpoint_every)          \
  X(stop_after_steps) X(dist_timeout) X(dist_verify)

void LRATrainConfig::apply_json(const nlohmann::json& j, const std::string& what) {
  if (!j.is_object()) throw std::invalid_argument(what + ": expected a mapping of flag: value");
  for (auto it = j.begin(); it != j.end(); ++it) {
    std::string k = it.key();
    for (auto& ch : k)
      if (ch == '-') ch = '_';
    if (k == "dataset") k = "data";
    if (k == "num_classes") k = "text_classes";
    if (k == "model_args" || k == "set") {
      if (!it.value().is_object()) throw std::invalid_argument(what + ": model_args must be a mapping");
      for (auto a = it.value().begin(); a != it.value().end(); ++a) model_args[a.key()] = a.value();
      continue;
    }
    bool known = false;
#define X(name)                                                                                    \
  if (k == #name) {                                                                                \
    try {                                                                                          \
      name = it.value().get<decltype(name)>();                                                     \
    } catch (const nlohmann::json::exception&) {                                                   \
      throw std::invalid_argument(what + ": '" + it.key() + "' has the wrong type: " + it.value().dump()); \
    }                                                                                              \
    known = true;                                                                                  \
  }
    ATTNZOO_LRA_FIELDS(X)
#undef X
    if (!known)
      throw std::invalid_argument(what + ": '" + it.key() + "' does not apply to --task lra-* (keys: task, data, model, set, steps, "
                                  "batch-size, eval-every, warmup-steps, lr, schedule, weight-decay, opt-eps, max-len, num-classes, "
                                  "max-eval, seed, output, device, resume, checkpoint-every, dist-timeout, dist-verify)");
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
}

nlohmann::json LRATrainConfig::to_json() const {
  nlohmann::json j;
#define X(name) j[#name] = name;
  ATTNZOO_LRA_FIELDS(X)
#undef X
  return j;
}

}  // namespace attnzoo::train
