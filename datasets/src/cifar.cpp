// CIFAR-10 / CIFAR-100 binary version.
#include <attnzoo/datasets/dataset.h>

#include <ATen/ATen.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace attnzoo::datasets {
namespace fs = std::filesystem;
namespace {

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) throw std::runtime_error(p.string() + ": cannot open");
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string> read_lines(const fs::path& p) {
  std::vector<std::string> out;
  if (!fs::exists(p)) return out;
  std::ifstream in(p);
  for (std::string l; std::getline(in, l);)
    if (!l.empty() && l != "\r") out.push_back(l.back() == '\r' ? l.substr(0, l.size() - 1) : l);
  return out;
}

class CifarDataset : public Dataset {
 public:
  CifarDataset(const std::string& root, const std::string& split) {
    const bool train = split == "train";
    if (!train && split != "test" && split != "val") throw std::invalid_argument("CIFAR has the splits train and test, not '" + split + "'");
    std::vector<fs::path> files;
    if (fs::exists(fs::path(root) / "data_batch_1.bin")) {  // CIFAR-10: 1 label byte
      label_bytes_ = 1;
      if (train)
        for (int i = 1; i <= 5; ++i) files.push_back(fs::path(root) / ("data_batch_" + std::to_string(i) + ".bin"));
      else
        files.push_back(fs::path(root) / "test_batch.bin");
      classes_ = read_lines(fs::path(root) / "batches.meta.txt");
    } else if (fs::exists(fs::path(root) / "train.bin")) {  // CIFAR-100: coarse + fine label bytes
      label_bytes_ = 2;
      files.push_back(fs::path(root) / (train ? "train.bin" : "test.bin"));
      classes_ = read_lines(fs::path(root) / "fine_label_names.txt");
    } else {
      throw std::runtime_error(root + ": no CIFAR binary files (data_batch_1.bin or train.bin)");
    }
    const size_t rec = label_bytes_ + 3072;
    int64_t max_label = 0;
    for (const auto& f : files) {
      std::string bytes = slurp(f);
      if (bytes.empty() || bytes.size() % rec != 0)
        throw std::runtime_error(f.string() + ": size " + std::to_string(bytes.size()) + " is not a multiple of the " +
                                 std::to_string(rec) + "-byte CIFAR record (truncated?)");
      for (size_t off = 0; off < bytes.size(); off += rec) {
        const int64_t l = uint8_t(bytes[off + label_bytes_ - 1]);
        labels_.push_back(l);
        max_label = std::max(max_label, l);
      }
      data_ += bytes;
    }
    if (classes_.size() <= static_cast<size_t>(max_label)) {
      classes_.clear();
      for (int64_t c = 0; c <= max_label; ++c) classes_.push_back(std::to_string(c));
    }
    root_ = root;
    split_ = split;
  }
  size_t size() const override { return labels_.size(); }
  Sample get(size_t i) const override {
    TORCH_CHECK(i < labels_.size(), "index out of range");
    const uint8_t* p = reinterpret_cast<const uint8_t*>(data_.data()) + i * (label_bytes_ + 3072) + label_bytes_;
    // Stored planar (R plane, G plane, B plane): make it HWC.
    at::Tensor chw = at::from_blob(const_cast<uint8_t*>(p), {3, 32, 32}, at::kByte);
    return {chw.permute({1, 2, 0}).contiguous(), labels_[i]};
  }
  const std::vector<std::string>& classes() const override { return classes_; }
  std::vector<int64_t> labels() const override { return labels_; }
  std::string describe() const override {
    return "CIFAR " + split_ + " (" + std::to_string(size()) + " images, " + std::to_string(classes_.size()) +
           " classes) from " + root_;
  }

 private:
  size_t label_bytes_ = 1;
  std::string data_, root_, split_;
  std::vector<int64_t> labels_;
  std::vector<std::string> classes_;
};

}  // namespace

DatasetPtr open_cifar(const std::string& root, const std::string& split) { return std::make_shared<CifarDataset>(root, split); }

}  // namespace attnzoo::datasets
