// MNIST / Fashion-MNIST IDX files, gzipped or not.
#include <attnzoo/datasets/dataset.h>

#include <ATen/ATen.h>
#include <zlib.h>

#include <filesystem>
#include <stdexcept>

namespace attnzoo::datasets {

const std::vector<std::string> kFashionMnistClasses = {"T-shirt_top", "Trouser", "Pullover", "Dress", "Coat",
                                                       "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle_boot"};

namespace fs = std::filesystem;

namespace {

// Reads a file through zlib (which reads plain files transparently too).
std::string read_maybe_gz(const std::string& path) {
  gzFile f = gzopen(path.c_str(), "rb");
  if (!f) throw std::runtime_error(path + ": cannot open");
  std::string out;
  char buf[1 << 16];
  int n;
  while ((n = gzread(f, buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  int err = 0;
  const char* msg = gzerror(f, &err);
  const bool bad = n < 0 || (err != Z_OK && err != Z_STREAM_END);
  const std::string m = msg ? msg : "";
  gzclose(f);
  if (bad) throw std::runtime_error(path + ": corrupt gzip data (" + m + ")");
  return out;
}

uint32_t be32(const std::string& s, size_t off) {
  return (uint32_t(uint8_t(s[off])) << 24) | (uint32_t(uint8_t(s[off + 1])) << 16) | (uint32_t(uint8_t(s[off + 2])) << 8) |
         uint32_t(uint8_t(s[off + 3]));
}

std::string find_file(const std::string& root, const std::string& stem) {
  for (const std::string& name : {stem + ".gz", stem}) {
    const fs::path p = fs::path(root) / name;
    if (fs::exists(p)) return p.string();
  }
  throw std::runtime_error(root + ": no " + stem + "[.gz] (expected MNIST-format IDX files)");
}

class IdxDataset : public Dataset {
 public:
  IdxDataset(const std::string& root, const std::string& split, std::vector<std::string> classes) {
    const std::string prefix = split == "train" ? "train" : "t10k";
    if (split != "train" && split != "test" && split != "val")
      throw std::invalid_argument("IDX datasets have the splits train and test, not '" + split + "'");
    img_path_ = find_file(root, prefix + "-images-idx3-ubyte");
    const std::string lbl_path = find_file(root, prefix + "-labels-idx1-ubyte");
    images_ = read_maybe_gz(img_path_);
    const std::string labels = read_maybe_gz(lbl_path);
    if (images_.size() < 16 || be32(images_, 0) != 2051) throw std::runtime_error(img_path_ + ": not an IDX image file (magic)");
    if (labels.size() < 8 || be32(labels, 0) != 2049) throw std::runtime_error(lbl_path + ": not an IDX label file (magic)");
    n_ = be32(images_, 4);
    rows_ = be32(images_, 8);
    cols_ = be32(images_, 12);
    if (images_.size() != 16 + uint64_t(n_) * rows_ * cols_)
      throw std::runtime_error(img_path_ + ": size does not match its header (" + std::to_string(n_) + " images of " +
                               std::to_string(rows_) + "x" + std::to_string(cols_) + "); truncated?");
    if (be32(labels, 4) != n_ || labels.size() != 8 + uint64_t(n_))
      throw std::runtime_error(lbl_path + ": label count does not match " + img_path_);
    labels_.resize(n_);
    int64_t max_label = 0;
    for (uint32_t i = 0; i < n_; ++i) max_label = std::max<int64_t>(max_label, labels_[i] = uint8_t(labels[8 + i]));
    classes_ = std::move(classes);
    if (classes_.empty())
      for (int64_t c = 0; c <= max_label; ++c) classes_.push_back(std::to_string(c));
    if (max_label >= static_cast<int64_t>(classes_.size()))
      throw std::runtime_error(lbl_path + ": label " + std::to_string(max_label) + " outside the class list");
    split_ = split == "train" ? "train" : "test";  // "val" is an alias of the test files
  }
  size_t size() const override { return n_; }
  Sample get(size_t i) const override {
    TORCH_CHECK(i < n_, "index ", i, " out of range for ", n_, " images");
    at::Tensor img = at::empty({rows_, cols_, 1}, at::kByte);
    std::memcpy(img.data_ptr(), images_.data() + 16 + i * rows_ * cols_, size_t(rows_) * cols_);
    return {img, labels_[i]};
  }
  const std::vector<std::string>& classes() const override { return classes_; }
  std::vector<int64_t> labels() const override { return labels_; }
  std::string describe() const override {
    return "IDX " + split_ + " (" + std::to_string(n_) + " images " + std::to_string(rows_) + "x" + std::to_string(cols_) +
           ", " + std::to_string(classes_.size()) + " classes) from " + img_path_;
  }

 private:
  std::string img_path_, split_;
  std::string images_;
  uint32_t n_ = 0, rows_ = 0, cols_ = 0;
  std::vector<int64_t> labels_;
  std::vector<std::string> classes_;
};

}  // namespace

DatasetPtr open_idx(const std::string& root, const std::string& split, std::vector<std::string> classes) {
  return std::make_shared<IdxDataset>(root, split, std::move(classes));
}

}  // namespace attnzoo::datasets
