#include <attnzoo/models/features.h>

#include <attnzoo/models/registry.h>

#include <algorithm>
#include <stdexcept>

namespace attnzoo::models {

std::vector<int64_t> feature_take_indices(int64_t num_stages, const std::vector<int64_t>& indices) {
  std::vector<int64_t> out;
  if (indices.empty()) {
    for (int64_t i = 0; i < num_stages; ++i) out.push_back(i);
    return out;
  }
  for (const int64_t i : indices) {
    const int64_t j = i < 0 ? num_stages + i : i;
    if (j < 0 || j >= num_stages)
      throw std::invalid_argument("feature index " + std::to_string(i) + " is out of range for " +
                                  std::to_string(num_stages) + " stages");
    out.push_back(j);
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::vector<int64_t> last_stages(int64_t num_stages, int64_t n) {
  if (n < 1 || n > num_stages)
    throw std::invalid_argument("the last " + std::to_string(n) + " stages of " + std::to_string(num_stages) + " stages");
  std::vector<int64_t> out;
  for (int64_t i = num_stages - n; i < num_stages; ++i) out.push_back(i);
  return out;
}

namespace {

void check_output_fmt(const std::string& fmt) {
  if (fmt != "NCHW" && fmt != "NHWC" && fmt != "NLC")
    throw std::invalid_argument("output_fmt must be NCHW, NHWC or NLC, got '" + fmt + "'");
}

at::Tensor to_format(const at::Tensor& map, const std::string& fmt) {
  if (fmt == "NHWC") return map.permute({0, 2, 3, 1});
  if (fmt == "NLC") return map.flatten(2).transpose(1, 2);
  return map;
}

// A stage output as (map, prefix tokens): NCHW stages as they are (no prefix); ViT-style tokens
// [B, prefix + gh*gw, C] as the NCHW map of their patch tokens and the prefix (class) tokens in front, as timm's.
std::pair<at::Tensor, at::Tensor> split_stage(const at::Tensor& t, int64_t gh, int64_t gw) {
  if (t.dim() == 4) return {t, t.new_empty({t.size(0), 0, t.size(1)})};
  TORCH_CHECK(t.dim() == 3 && t.size(1) >= gh * gw, "forward_intermediates: a stage output of shape ", t.sizes(),
              " is neither NCHW nor tokens on a ", gh, "x", gw, " grid");
  const int64_t prefix = t.size(1) - gh * gw;
  at::Tensor map = t.narrow(1, prefix, gh * gw).transpose(1, 2).reshape({t.size(0), t.size(2), gh, gw});
  return {map, t.narrow(1, 0, prefix)};
}

}  // namespace

Intermediates forward_intermediates(ClassifierImpl& model, const at::Tensor& x, const IntermediatesOptions& options) {
  const int64_t stages = model.num_stages();
  const auto take = feature_take_indices(stages, options.indices());
  check_output_fmt(options.output_fmt());
  const int64_t last = options.stop_early() ? take.back() : -1;
  const std::vector<at::Tensor> outputs = model.forward_stages(x, last);
  const auto info = model.feature_info();
  // finish_features of the last stage, computed once when both its feature (ByobNet) and `features` need it.
  at::Tensor finished;
  auto finish_last = [&] {
    if (!finished.defined()) finished = model.finish_features(outputs.back());
    return finished;
  };
  Intermediates result;
  for (const int64_t i : take) {
    const at::Tensor& raw = outputs.at(static_cast<size_t>(i));
    const int64_t r = info[static_cast<size_t>(i)].reduction;
    const at::Tensor stage = i + 1 == stages && model.last_feature_finished() ? finish_last()
                             : options.norm()                                 ? model.norm_intermediate(i, raw)
                                                                              : raw;
    auto [map, prefix] = split_stage(stage, (x.size(2) + r - 1) / r, (x.size(3) + r - 1) / r);
    result.intermediates.push_back(to_format(map, options.output_fmt()));
    if (options.return_prefix_tokens()) result.prefix_tokens.push_back(prefix);
  }
  if (!options.intermediates_only()) {
    const int64_t ran = static_cast<int64_t>(outputs.size());
    result.features = ran == stages ? finish_last() : model.finish_early(ran - 1, outputs.back());
  }
  return result;
}

FeatureListNetImpl::FeatureListNetImpl(ClassifierPtr model, std::vector<int64_t> out_indices, std::string output_fmt)
    : model_(std::move(model)),
      out_indices_(feature_take_indices(static_cast<int64_t>(model_->feature_info().size()), out_indices)),
      output_fmt_(std::move(output_fmt)) {
  check_output_fmt(output_fmt_);
  // The classifier's children under their own names: state_dict keys stay the official ones.
  for (const auto& child : model_->named_children()) register_module(child.key(), child.value());
  for (const auto& p : model_->named_parameters(/*recurse=*/false)) register_parameter(p.key(), p.value());
  for (const auto& b : model_->named_buffers(/*recurse=*/false)) register_buffer(b.key(), b.value());
}

std::vector<at::Tensor> FeatureListNetImpl::forward(const at::Tensor& x) {
  const auto options =
      IntermediatesOptions().indices(out_indices_).output_fmt(output_fmt_).stop_early(true).intermediates_only(true);
  return forward_intermediates(*model_, x, options).intermediates;
}

std::vector<FeatureInfo> FeatureListNetImpl::feature_info() const {
  const auto all = model_->feature_info();
  std::vector<FeatureInfo> out;
  for (const int64_t i : out_indices_) out.push_back(all[static_cast<size_t>(i)]);
  return out;
}

FeatureListNet create_features_model(const std::string& name, const std::vector<int64_t>& out_indices,
                                     const nlohmann::json& overrides) {
  // timm's spellings inside the overrides: features_only (must not be false), out_indices (a list, or n for the
  // last n stages), output_fmt. The model gets the rest.
  nlohmann::json model_args = overrides.is_null() ? nlohmann::json::object() : overrides;
  std::vector<int64_t> indices = out_indices;
  std::string output_fmt = "NCHW";
  nlohmann::json last_n;  // out_indices=n: the last n stages, known once the model is built
  if (model_args.is_object()) {
    if (model_args.contains("features_only") && !model_args.at("features_only").get<bool>())
      throw std::invalid_argument("create_features_model: features_only=false asks for a classifier: call create_model");
    model_args.erase("features_only");
    if (model_args.contains("out_indices")) {
      if (!out_indices.empty())
        throw std::invalid_argument("create_features_model: out_indices given twice (argument and overrides)");
      const nlohmann::json& j = model_args.at("out_indices");
      if (j.is_number_integer())
        last_n = j;
      else
        indices = j.get<std::vector<int64_t>>();
      model_args.erase("out_indices");
    }
    if (model_args.contains("output_fmt")) {
      output_fmt = model_args.at("output_fmt").get<std::string>();
      model_args.erase("output_fmt");
    }
  }
  ClassifierPtr model = create_model(name, model_args);
  if (!last_n.is_null()) indices = last_stages(static_cast<int64_t>(model->feature_info().size()), last_n.get<int64_t>());
  return FeatureListNet(std::move(model), indices, output_fmt);
}

}  // namespace attnzoo::models
