// LRA Image: the pixels of any image dataset as gray tokens in raster order (sequential CIFAR-10).
#include <attnzoo/datasets/lra.h>

#include "lra_common.h"

#include <torch/torch.h>

#include <filesystem>

namespace attnzoo::datasets {

using namespace lra_detail;

namespace {

class SequentialImage : public SequenceDataset {
 public:
  explicit SequentialImage(DatasetPtr images) : images_(std::move(images)) {
    TORCH_CHECK(images_->size() > 0, "sequential image: empty dataset");
    const auto s = images_->get(0).image;
    len_ = s.size(0) * s.size(1);
  }
  size_t size() const override { return images_->size(); }
  SequenceExample get(size_t i) const override {
    const Sample s = images_->get(i);
    at::Tensor img = s.image.to(torch::kFloat);
    at::Tensor gray = img.size(2) == 1 ? img.select(2, 0)
                                       : img.select(2, 0) * 0.2989f + img.select(2, 1) * 0.5870f + img.select(2, 2) * 0.1140f;
    gray = gray.to(torch::kInt).contiguous().view({-1});  // truncation, as tf.cast
    TORCH_CHECK(gray.numel() == len_, "sequential image: all images must have one size (", len_, " pixels), sample ", i,
                " has ", gray.numel());
    SequenceExample e;
    e.tokens.assign(gray.data_ptr<int32_t>(), gray.data_ptr<int32_t>() + gray.numel());
    e.label = s.label;
    return e;
  }
  int64_t vocab_size() const override { return 256; }
  int64_t num_classes() const override { return static_cast<int64_t>(images_->classes().size()); }
  int64_t max_length() const override { return len_; }
  bool pad_is_zero() const override { return false; }  // pixel value 0 is data (the Nystromformer quirk avoided)
  std::string describe() const override { return "sequential pixels of " + images_->describe(); }

 private:
  DatasetPtr images_;
  int64_t len_ = 0;
};

}  // namespace

SequenceDatasetPtr open_sequential_image(DatasetPtr images) { return std::make_shared<SequentialImage>(std::move(images)); }

}  // namespace attnzoo::datasets
