#include <attnzoo/models/classifier.h>

namespace attnzoo::models {

checkpoint::TensorDict ClassifierImpl::to_layout(checkpoint::TensorDict weights, const std::string& layout) const {
  if (layout == "official") return weights;
  throw std::invalid_argument("'" + layout + "': this family's weights have the official layout only");
}

void ClassifierImpl::reset_classifier(int64_t num_classes) {
  TORCH_CHECK(num_classes >= 0, "num_classes must be >= 0, got ", num_classes);
  // "head.fc": the Linear sits in a parameter-less container module "head" (timm's ClassifierHead).
  torch::nn::Module* owner = this;
  std::string leaf = head_name_;
  if (const auto dot = head_name_.find('.'); dot != std::string::npos) {
    const std::string prefix = head_name_.substr(0, dot);
    leaf = head_name_.substr(dot + 1);
    auto children = named_children();
    if (!children.contains(prefix)) register_module(prefix, std::make_shared<torch::nn::Module>("ClassifierHead"));
    owner = named_children()[prefix].get();
  }
  if (head) owner->unregister_module(leaf);
  head = nullptr;
  if (num_classes > 0) head = owner->register_module(leaf, torch::nn::Linear(num_features_, num_classes));
  num_classes_ = num_classes;
}

std::vector<FeatureInfo> hierarchical_feature_info(const std::vector<int64_t>& dims, int64_t num_stages,
                                                   const std::string& prefix, int64_t index_base) {
  std::vector<FeatureInfo> f;
  for (int64_t i = 0; i < num_stages; ++i) f.push_back({dims.at(i), int64_t{4} << i, prefix + std::to_string(i + index_base)});
  return f;
}

}  // namespace attnzoo::models
