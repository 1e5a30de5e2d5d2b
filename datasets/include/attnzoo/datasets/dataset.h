#pragma once
// Image classification datasets. A sample is an HWC uint8 image tensor (1 or 3 channels, RGB order)
// and a class index; decoding happens in get(), so loaders can run it on worker threads.
#include <attnzoo/datasets/image.h>

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace attnzoo::datasets {

struct Sample {
  at::Tensor image;  // [H, W, C] uint8
  int64_t label = -1;
};

class Dataset {
 public:
  virtual ~Dataset() = default;
  virtual size_t size() const = 0;
  /// Thread-safe. Throws std::runtime_error naming the file for unreadable data.
  virtual Sample get(size_t index) const = 0;
  virtual const std::vector<std::string>& classes() const = 0;
  /// Where the data came from, for logs: "fashion-mnist train (60000 images) from /usr/share/...".
  virtual std::string describe() const = 0;
  /// Labels of all samples without decoding (for class balance reports and samplers).
  virtual std::vector<int64_t> labels() const = 0;
  /// What identifies sample `index` for people (`attnzoo extract`'s file list): its file for
  /// image folders, else its index in the split.
  virtual std::string item_name(size_t index) const { return std::to_string(index); }
};

using DatasetPtr = std::shared_ptr<const Dataset>;

/// Debian's dataset-fashion-mnist location.
inline const char* kFashionMnistDir = "/usr/share/datasets/fashion-mnist";
extern const std::vector<std::string> kFashionMnistClasses;

/// MNIST-format IDX files (train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz], t10k-...).
/// split: "train" or "test" (also "val" = "test"). Header counts are trusted and checked against the file.
DatasetPtr open_idx(const std::string& root, const std::string& split, std::vector<std::string> classes = {});
/// CIFAR-10/100 binary version (data_batch_{1..5}.bin / test_batch.bin; train.bin / test.bin for 100).
DatasetPtr open_cifar(const std::string& root, const std::string& split);
/// ImageNet-style folder ROOT/<split>/<class>/*.{jpg,jpeg,png,bmp,webp} (any case); class index =
/// natural-sorted folder names or the order in `class_map` (one name per line).
DatasetPtr open_image_folder(const std::string& root, const std::string& split, const std::string& class_map = "");

/// What --dataset NAME / --data DIR resolve to: "fashion-mnist" (default), "mnist:DIR", "cifar10:DIR",
/// "cifar100:DIR", or a folder (ImageFolder; a folder holding IDX or CIFAR files is detected).
DatasetPtr open_dataset(const std::string& spec, const std::string& split, const std::string& class_map = "");

/// Writes a dataset as PNG class folders OUT/<split>/<class>/<index>.png (for the ImageFolder path).
void export_image_folder(const Dataset& ds, const std::string& out_root, const std::string& split);

}  // namespace attnzoo::datasets
