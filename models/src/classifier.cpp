#include <attnzoo/models/classifier.h>

namespace attnzoo::models {

void ClassifierImpl::reset_classifier(int64_t num_classes) {
  TORCH_CHECK(num_classes >= 0, "num_classes must be >= 0, got ", num_classes);
  if (head) unregister_module("head");
  head = nullptr;
  if (num_classes > 0) head = register_module("head", torch::nn::Linear(num_features_, num_classes));
  num_classes_ = num_classes;
}

}  // namespace attnzoo::models
