// LRA Pathfinder: metadata/*.txt|*.npy lines naming images and labels; images as gray tokens.
#include <attnzoo/datasets/lra.h>

#include "lra_common.h"

#include <attnzoo/core/diagnostics.h>

#include <torch/torch.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace attnzoo::datasets {

using namespace lra_detail;
namespace fs = std::filesystem;

namespace {

// Fields echoed in errors: a corrupt metadata line can be megabytes long.
std::string shortened(const std::string& s) { return s.size() <= 80 ? s : s.substr(0, 77) + "..."; }

class Pathfinder : public SequenceDataset {
 public:
  Pathfinder(std::vector<std::pair<std::string, int64_t>> items, int64_t len, std::string desc)
      : items_(std::move(items)), len_(len), desc_(std::move(desc)) {}
  size_t size() const override { return items_.size(); }
  SequenceExample get(size_t i) const override {
    const auto& [path, label] = items_.at(i);
    at::Tensor img = read_image(path);
    if (img.size(2) == 3)
      img = (img.select(2, 0).to(torch::kFloat) * 0.2989f + img.select(2, 1).to(torch::kFloat) * 0.5870f +
             img.select(2, 2).to(torch::kFloat) * 0.1140f);
    else
      img = img.select(2, 0).to(torch::kFloat);
    at::Tensor t = img.to(torch::kInt).contiguous().view({-1});
    if (t.numel() != len_)
      throw std::runtime_error(path + ": " + std::to_string(t.numel()) + " pixels, the other images have " + std::to_string(len_));
    SequenceExample e;
    e.tokens.assign(t.data_ptr<int32_t>(), t.data_ptr<int32_t>() + t.numel());
    e.label = label;
    return e;
  }
  int64_t vocab_size() const override { return 256; }
  int64_t num_classes() const override { return 2; }
  int64_t max_length() const override { return len_; }
  bool pad_is_zero() const override { return false; }
  std::string describe() const override { return desc_; }

 private:
  std::vector<std::pair<std::string, int64_t>> items_;
  int64_t len_;
  std::string desc_;
};

}  // namespace

SequenceDatasetPtr open_pathfinder(const std::string& root, bool skip_bad) {
  const fs::path meta = fs::path(root) / "metadata";
  if (!fs::is_directory(meta)) throw std::runtime_error(root + ": no metadata/ folder (pathfinder layout: imgs/, metadata/)");
  std::vector<fs::path> files;
  for (const auto& f : fs::directory_iterator(meta)) files.push_back(f.path());
  // S4: metadata files sorted by their integer stem.
  std::sort(files.begin(), files.end(), [](const fs::path& a, const fs::path& b) {
    const auto ia = std::atoll(a.stem().string().c_str()), ib = std::atoll(b.stem().string().c_str());
    return ia != ib ? ia < ib : a < b;
  });
  std::vector<std::pair<std::string, int64_t>> items;
  size_t skipped = 0;
  std::string first_skipped;
  for (const auto& mf : files) {
    std::ifstream f(mf);
    std::string line;
    size_t n = 0;
    while (std::getline(f, line)) {
      ++n;
      std::istringstream in(line);
      std::vector<std::string> w;
      std::string tok;
      while (in >> tok) w.push_back(tok);
      if (w.empty()) continue;
      if (w.size() < 4) throw std::runtime_error(where(mf.string(), n) + ": expected at least 4 fields (dir file nimg label ...)");
      int64_t label = 0;
      try {
        label = std::stoll(w[3]);
      } catch (const std::exception&) {
        throw std::runtime_error(where(mf.string(), n) + ": label field '" + shortened(w[3]) + "' is not an integer");
      }
      if (label < 0 || label > 1) throw std::runtime_error(where(mf.string(), n) + ": label must be 0 or 1");
      const fs::path rel = (fs::path(w[0]) / w[1]).lexically_normal();
      if (rel.is_absolute() || rel.empty() || *rel.begin() == "..")
        throw std::runtime_error(where(mf.string(), n) + ": image path '" + shortened(rel.string()) +
                                 "' leads outside the dataset folder " + root);
      const std::string path = (fs::path(root) / rel).string();
      std::error_code ec;
      if (skip_bad && (!fs::is_regular_file(path, ec) || fs::file_size(path, ec) == 0 || ec)) {
        if (skipped++ == 0) first_skipped = where(mf.string(), n) + " (" + shortened(path) + ")";
        continue;
      }
      items.emplace_back(path, label);
    }
  }
  if (skipped)
    warn(root + ": skipped " + std::to_string(skipped) + " metadata row(s) whose image is missing, empty or not a file; "
         "first: " + first_skipped);
  if (items.empty())
    throw std::runtime_error(root + ": no usable pathfinder samples in metadata/" +
                             (skipped ? " (all " + std::to_string(skipped) + " rows point at missing images)" : ""));
  const at::Tensor first = read_image(items.front().first);
  const int64_t len = first.size(0) * first.size(1);
  const size_t count = items.size();
  return std::make_shared<Pathfinder>(std::move(items), len, "pathfinder " + root + " (" + std::to_string(count) + " images)");
}

}  // namespace attnzoo::datasets
