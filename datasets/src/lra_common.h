#pragma once
// What the LRA readers share (private to attnzoo_datasets): in-memory sequence datasets, byte tokens,
// "file:line" locations for errors.
#include <attnzoo/datasets/lra.h>

#include <cstdint>
#include <string>
#include <vector>

namespace attnzoo::datasets::lra_detail {

inline std::string where(const std::string& file, size_t line) { return file + ":" + std::to_string(line); }

/// Bytes + 1 (0 is padding), at most `max_length`; an empty text is one <unk> token.
inline std::vector<int32_t> byte_tokens(const std::string& text, int64_t max_length) {
  std::vector<int32_t> t;
  for (size_t i = 0; i < text.size() && static_cast<int64_t>(i) < max_length; ++i)
    t.push_back(static_cast<int32_t>(static_cast<unsigned char>(text[i])) + 1);
  if (t.empty()) t.push_back(1);
  return t;
}

class VectorDataset : public SequenceDataset {
 public:
  VectorDataset(std::vector<SequenceExample> ex, int64_t vocab, int64_t classes, int64_t max_len, std::string desc)
      : ex_(std::move(ex)), vocab_(vocab), classes_(classes), max_len_(max_len), desc_(std::move(desc)) {}
  size_t size() const override { return ex_.size(); }
  SequenceExample get(size_t i) const override { return ex_.at(i); }
  int64_t vocab_size() const override { return vocab_; }
  int64_t num_classes() const override { return classes_; }
  int64_t max_length() const override { return max_len_; }
  std::string describe() const override { return desc_; }

 private:
  std::vector<SequenceExample> ex_;
  int64_t vocab_, classes_, max_len_;
  std::string desc_;
};

class PairDataset : public VectorDataset {
 public:
  using VectorDataset::VectorDataset;
  bool paired() const override { return true; }
};

}  // namespace attnzoo::datasets::lra_detail
