// ImageNet-style class folders, decoded with OpenCV; and the PNG exporter.
#include <attnzoo/datasets/dataset.h>

#include <attnzoo/core/natural_sort.h>

#include <ATen/ATen.h>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <set>
#include <stdexcept>

namespace attnzoo::datasets {
namespace fs = std::filesystem;
namespace {

bool is_image(const fs::path& p) { return is_image_file(p.string()); }

class ImageFolderDataset : public Dataset {
 public:
  ImageFolderDataset(const std::string& root, const std::string& split, const std::string& class_map) {
    dir_ = (fs::path(root) / split).string();
    if (!fs::is_directory(dir_))
      throw std::runtime_error(root + ": split folder '" + split + "' is missing (expected " + dir_ + "/<class>/<image>)");
    if (!class_map.empty()) {
      std::ifstream in(class_map);
      if (!in) throw std::runtime_error(class_map + ": cannot open class map");
      for (std::string l; std::getline(in, l);) {
        while (!l.empty() && (l.back() == '\r' || l.back() == ' ')) l.pop_back();
        if (!l.empty()) classes_.push_back(l);
      }
      if (classes_.empty()) throw std::runtime_error(class_map + ": class map is empty");
    } else {
      for (const auto& e : fs::directory_iterator(dir_))
        if (e.is_directory()) classes_.push_back(e.path().filename().string());
      std::sort(classes_.begin(), classes_.end(), natural_less);
    }
    if (classes_.empty()) throw std::runtime_error(dir_ + ": no class folders");
    std::vector<std::string> skipped;
    for (size_t c = 0; c < classes_.size(); ++c) {
      const fs::path cdir = fs::path(dir_) / classes_[c];
      if (!fs::is_directory(cdir)) throw std::runtime_error(cdir.string() + ": class folder is missing");
      std::vector<std::string> files;
      for (const auto& e : fs::recursive_directory_iterator(cdir)) {
        if (!e.is_regular_file()) continue;
        if (is_image(e.path())) files.push_back(e.path().string());
        else skipped.push_back(e.path().string());
      }
      if (files.empty()) throw std::runtime_error(cdir.string() + ": class folder holds no images (jpg/jpeg/png/bmp/webp)");
      std::sort(files.begin(), files.end(), natural_less);
      for (auto& f : files) {
        paths_.push_back(std::move(f));
        labels_.push_back(static_cast<int64_t>(c));
      }
    }
    if (!skipped.empty())
      throw std::runtime_error(skipped.front() + ": unknown image extension (" + std::to_string(skipped.size()) +
                               " such file(s); supported: jpg jpeg png bmp webp)");
  }
  size_t size() const override { return paths_.size(); }
  Sample get(size_t i) const override {
    TORCH_CHECK(i < paths_.size(), "index out of range");
    return {read_image(paths_[i]), labels_[i]};
  }
  const std::vector<std::string>& classes() const override { return classes_; }
  std::vector<int64_t> labels() const override { return labels_; }
  std::string item_name(size_t i) const override { return paths_.at(i); }
  std::string describe() const override {
    return "ImageFolder (" + std::to_string(size()) + " images, " + std::to_string(classes_.size()) + " classes) from " + dir_;
  }

 private:
  std::string dir_;
  std::vector<std::string> classes_, paths_;
  std::vector<int64_t> labels_;
};

}  // namespace

DatasetPtr open_image_folder(const std::string& root, const std::string& split, const std::string& class_map) {
  return std::make_shared<ImageFolderDataset>(root, split, class_map);
}

void export_image_folder(const Dataset& ds, const std::string& out_root, const std::string& split) {
  const fs::path base = fs::path(out_root) / split;
  for (const auto& c : ds.classes()) fs::create_directories(base / c);
  for (size_t i = 0; i < ds.size(); ++i) {
    Sample s = ds.get(i);
    at::Tensor img = s.image.contiguous();
    const int ch = static_cast<int>(img.size(2));
    cv::Mat m(static_cast<int>(img.size(0)), static_cast<int>(img.size(1)), CV_8UC(ch), img.data_ptr());
    cv::Mat out;
    if (ch == 3) cv::cvtColor(m, out, cv::COLOR_RGB2BGR);
    else out = m;
    const fs::path p = base / ds.classes()[static_cast<size_t>(s.label)] / (std::to_string(i) + ".png");
    if (!cv::imwrite(p.string(), out)) throw std::runtime_error(p.string() + ": cannot write PNG");
  }
}

DatasetPtr open_dataset(const std::string& spec, const std::string& split, const std::string& class_map) {
  const std::string s = spec.empty() ? "fashion-mnist" : spec;
  auto colon = s.find(':');
  const std::string kind = colon == std::string::npos ? s : s.substr(0, colon);
  const std::string dir = colon == std::string::npos ? "" : s.substr(colon + 1);
  if (kind == "fashion-mnist" || kind == "fashion_mnist")
    return open_idx(dir.empty() ? kFashionMnistDir : dir, split, kFashionMnistClasses);
  if (kind == "mnist") return open_idx(dir, split);
  if (kind == "cifar10" || kind == "cifar100" || kind == "cifar") return open_cifar(dir, split);
  if (kind == "folder" || kind == "imagefolder") return open_image_folder(dir, split, class_map);
  // A plain path: detect the layout.
  if (!fs::is_directory(s)) throw std::invalid_argument("dataset '" + s + "': no such folder, and not one of fashion-mnist, mnist:DIR, cifar10:DIR, cifar100:DIR, folder:DIR");
  for (const char* f : {"train-images-idx3-ubyte.gz", "train-images-idx3-ubyte"})
    if (fs::exists(fs::path(s) / f)) return open_idx(s, split);
  if (fs::exists(fs::path(s) / "data_batch_1.bin") || fs::exists(fs::path(s) / "train.bin")) return open_cifar(s, split);
  return open_image_folder(s, split, class_map);
}

}  // namespace attnzoo::datasets
