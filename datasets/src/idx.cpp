// MNIST / Fashion-MNIST IDX files, gzipped or not.
#include <attnzoo/datasets/dataset.h>

#include <ATen/ATen.h>
#include <zlib.h>

#include <algorithm>
#include <filesystem>
#include <stdexcept>
#include <vector>

namespace attnzoo::datasets {

const std::vector<std::string> kFashionMnistClasses = {"T-shirt_top", "Trouser", "Pullover", "Dress", "Coat",
                                                       "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle_boot"};

namespace fs = std::filesystem;

namespace {

uint32_t be32(const std::string& s, size_t off) {
  return (uint32_t(uint8_t(s[off])) << 24) | (uint32_t(uint8_t(s[off + 1])) << 16) | (uint32_t(uint8_t(s[off + 2])) << 8) |
         uint32_t(uint8_t(s[off + 3]));
}


// An IDX file through zlib (which reads plain files transparently too), streamed against its header: the
// header's counts say how many bytes follow, so a file holding more (a gzip bomb) or less (truncated) is
// refused while reading, never after inflating all of it. `header_size` is 8 (labels) or 16 (images).
std::string read_idx_file(const std::string& path, size_t header_size, uint32_t magic, const char* kind) {
  gzFile f = gzopen(path.c_str(), "rb");
  if (!f) throw std::runtime_error(path + ": cannot open");
  std::string out(header_size, '\0');
  const auto fail = [&](const std::string& msg) {
    gzclose(f);
    throw std::runtime_error(path + ": " + msg);
  };
  if (gzread(f, out.data(), static_cast<unsigned>(header_size)) != static_cast<int>(header_size) || be32(out, 0) != magic)
    fail(std::string("not an IDX ") + kind + " file (magic)");
  // Each count is at most 2^32, so three of them can overflow 64 bits: checked product, and a zero
  // dimension is refused here (an image of 0 pixels has no data to point at).
  uint64_t payload = be32(out, 4);
  for (size_t off = 8; off < header_size; off += 4) {
    const uint64_t dim = be32(out, off);
    if (dim == 0) fail("header declares a zero image dimension");
    if (payload > (uint64_t{1} << 62) / dim) fail("header declares more data than any file can hold");
    payload *= dim;
  }
  const uint64_t on_disk = std::filesystem::file_size(path);
  // Real IDX data compresses at most ~10:1; 1 GiB that would have to come from 100x less on disk is a bomb.
  if (payload > (uint64_t{1} << 30) && payload > 100 * on_disk)
    fail("header declares " + std::to_string(payload) + " bytes of data in a " + std::to_string(on_disk) + "-byte file");
  // Grown as data arrives (never sized from the header alone), so memory follows what the file holds.
  std::vector<char> chunk(1 << 20);
  uint64_t done = 0;
  while (done < payload) {
    const int n = gzread(f, chunk.data(), static_cast<unsigned>(std::min<uint64_t>(payload - done, chunk.size())));
    if (n < 0) {
      int err = 0;
      const char* msg = gzerror(f, &err);
      fail(std::string("corrupt gzip data (") + (msg ? msg : "") + ")");
    }
    if (n == 0)
      fail("size does not match its header (" + std::to_string(done) + " of " + std::to_string(payload) +
           " data bytes); truncated?");
    out.append(chunk.data(), static_cast<size_t>(n));
    done += static_cast<uint64_t>(n);
  }
  char extra;
  if (gzread(f, &extra, 1) != 0) fail("more data than its header declares (not an IDX file?)");
  gzclose(f);
  return out;
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
    images_ = read_idx_file(img_path_, 16, 2051, "image");
    const std::string labels = read_idx_file(lbl_path, 8, 2049, "label");
    n_ = be32(images_, 4);
    rows_ = be32(images_, 8);
    cols_ = be32(images_, 12);
    if (be32(labels, 4) != n_)
      throw std::runtime_error(lbl_path + ": label count does not match " + img_path_);
    labels_.resize(n_);
    int64_t max_label = 0;
    for (uint32_t i = 0; i < n_; ++i) max_label = std::max<int64_t>(max_label, labels_[i] = uint8_t(labels[8 + i]));
    classes_ = std::move(classes);
    if (classes_.empty())
      for (int64_t c = 0; c <= max_label; ++c) classes_.push_back(std::to_string(c));
    for (uint32_t i = 0; i < n_; ++i)
      if (labels_[i] >= static_cast<int64_t>(classes_.size()))
        throw std::runtime_error(lbl_path + ": record " + std::to_string(i) + " has label " + std::to_string(labels_[i]) +
                                 ", outside the " + std::to_string(classes_.size()) + " classes");
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
