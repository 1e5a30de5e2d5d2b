#include <attnzoo/models/load.h>

#include <attnzoo/models/registry.h>

#include <ATen/ATen.h>

namespace attnzoo::models {

checkpoint::LoadReport load_weights(ClassifierImpl& model, checkpoint::TensorDict weights, const std::string& what,
                                    const LoadOptions& options) {
  weights = model.filter_checkpoint(std::move(weights));
  const auto own = checkpoint::state_dict(model);
  const PretrainedCfg& cfg = model.pretrained_cfg();
  bool dropped_head = false;
  if (options.drop_mismatched_head && !cfg.classifier.empty()) {
    for (const char* suffix : {".weight", ".bias"}) {
      const std::string k = cfg.classifier + suffix;
      const at::Tensor* src = weights.find(k);
      const at::Tensor* dst = own.find(k);
      if (src && (!dst || src->sizes() != dst->sizes())) {
        weights.erase(k);
        dropped_head = true;
      }
    }
  }
  if (options.adapt_input_conv && !cfg.first_conv.empty()) {
    const std::string k = cfg.first_conv + ".weight";
    at::Tensor* src = weights.find(k);
    const at::Tensor* dst = own.find(k);
    if (src && dst && src->dim() == 4 && src->size(1) != dst->size(1)) {
      const int64_t in = dst->size(1), was = src->size(1);
      if (in == 1) {
        *src = src->sum(1, /*keepdim=*/true);
      } else {  // repeat the RGB filters and rescale so the activation magnitude is kept
        const int64_t reps = (in + was - 1) / was;
        *src = src->repeat({1, reps, 1, 1}).narrow(1, 0, in) * (static_cast<double>(was) / static_cast<double>(in));
      }
    }
  }
  // A dropped head leaves the head keys missing on purpose: load the rest strictly.
  if (dropped_head) {
    auto report = checkpoint::compare_state_dict(model, weights);
    for (const auto& m : report.missing)
      if (m.rfind(cfg.classifier + ".", 0) != 0 && options.strict)
        throw std::runtime_error(what + ": weights do not fit the model: " + report.describe());
    return checkpoint::load_state_dict(model, weights, /*strict=*/false, what);
  }
  return checkpoint::load_state_dict(model, weights, options.strict, what);
}

checkpoint::LoadReport load_weights(ClassifierImpl& model, const std::string& path, const LoadOptions& options) {
  auto loaded = checkpoint::read_weights(path, options.checkpoint_key, options.use_ema);
  return load_weights(model, std::move(loaded.tensors), path + " [" + loaded.source + "]", options);
}

std::string pretrained_weights(const std::string& variant, bool download, const checkpoint::DownloadProgress& progress) {
  const ModelVariant* v = registry().find_variant(variant);
  if (!v) {
    const bool family = registry().find_family(variant) != nullptr;
    throw std::invalid_argument("--pretrained needs a variant" + std::string(family ? " (" + variant + " is a family)" : "") +
                                ": '" + variant + "' has no released weights ('attnzoo list --pretrained' shows those that do)");
  }
  if (!v->pretrained.has_weights())
    throw std::invalid_argument("--pretrained: the authors released no weights for " + variant +
                                " ('attnzoo list --pretrained' shows the variants that have them)");
  return checkpoint::find_any_weights(v->pretrained.weight_sources(), download, progress).string();
}

}  // namespace attnzoo::models
