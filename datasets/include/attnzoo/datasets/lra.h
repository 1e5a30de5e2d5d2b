#pragma once
// Long Range Arena data (Tay et al., arXiv 2011.04006; google-research/long-range-arena), in the released
// lra_release layouts, as token sequences:
//  - ListOps: listops-1000/basic_{train,val,test}.tsv (header "Source\tTarget"); LRA tokenisation (`]` -> X,
//    parentheses dropped, whitespace split), fixed vocabulary; plus a seedable generator with the LRA rules.
//  - Text: byte-level classification from a TSV of "label\ttext" lines (IMDb itself cannot be fetched here).
//  - Image: the pixels of any image dataset attnzoo reads, gray (0.2989 R + 0.5870 G + 0.1140 B, truncated),
//    as tokens 0..255 in raster order (LRA's sequential CIFAR-10; Fashion-MNIST by default).
// Token 0 is padding in ListOps and Text (ids are shifted); Image tokens are the raw pixel values and are
// never padded (fixed length).
#include <attnzoo/datasets/dataset.h>

#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

namespace attnzoo::datasets {

struct SequenceExample {
  std::vector<int32_t> tokens;
  std::vector<int32_t> tokens2;  // Retrieval: the second document (empty otherwise)
  int64_t label = 0;
};

class SequenceDataset {
 public:
  virtual ~SequenceDataset() = default;
  virtual size_t size() const = 0;
  virtual SequenceExample get(size_t index) const = 0;
  virtual int64_t vocab_size() const = 0;
  virtual int64_t num_classes() const = 0;
  /// Sequences are truncated to this length (and padded to it in batches).
  virtual int64_t max_length() const = 0;
  /// Whether token 0 means padding (a key padding mask is derived from it).
  virtual bool pad_is_zero() const { return true; }
  /// Retrieval: every example holds two documents (tokens, tokens2) for a dual encoder.
  virtual bool paired() const { return false; }
  virtual std::string describe() const = 0;
};
using SequenceDatasetPtr = std::shared_ptr<SequenceDataset>;

/// ListOps vocabulary: 0 <pad>, 1 <unk>, 2..11 digits, 12 [MIN, 13 [MAX, 14 [MED, 15 [SM, 16 X (= "]").
std::vector<int32_t> listops_tokenize(const std::string& source);
constexpr int64_t kListOpsVocab = 17;

/// Reads a ListOps TSV (header "Source\tTarget"). Malformed lines throw naming the file and line number.
SequenceDatasetPtr open_listops(const std::string& tsv_path, int64_t max_length = 2000);
/// Reads "label\ttext" lines (a .tsv), or a .csv whose header names a label column (label / sentiment /
/// target / class) and a text column (text / review / sentence / content), RFC 4180 quoting; labels are
/// integers or positive / negative. Tokens are bytes + 1 (0 = padding), truncated to max_length.
SequenceDatasetPtr open_byte_text(const std::string& tsv_path, int64_t num_classes, int64_t max_length = 1000);
/// Retrieval: "label\tid1\tid2\ttext1\ttext2" lines (new_aan_pairs.*.tsv, no header); label parsed as a
/// float and cast to int (as LRA); each text truncated to 10 000 bytes then max_length, tokens bytes + 1.
SequenceDatasetPtr open_retrieval(const std::string& tsv_path, int64_t max_length = 4000);
/// Pathfinder: ROOT/metadata/*.txt|*.npy (text lines "imgs/<batch> sample_<n>.png <nimg> <label> ...";
/// path = ROOT / field 0 / field 1, label = field 3), images read as gray pixel tokens. Empty / unreadable
/// images throw naming the file (LRA drops the one empty PNG of pathfinder32; pass skip_bad to do so).
SequenceDatasetPtr open_pathfinder(const std::string& root, bool skip_bad = false);
/// The pixels of an image dataset as gray tokens (vocabulary 256).
SequenceDatasetPtr open_sequential_image(DatasetPtr images);

struct ListOpsGeneratorOptions {
  int64_t max_depth = 10, max_args = 10, min_length = 500, max_length = 2000;
  double value_p = 0.25;  // probability of an operator node (LRA: r > VALUE_P makes a leaf)
  uint64_t seed = 0;
};
/// One random expression per LRA's generator (operators MIN, MAX, MED, SM; 2..max_args arguments; depth
/// <= max_depth), kept when min_length < length < max_length (length counts digits, operators and `]`).
/// Returns (source string in the released format, value).
std::pair<std::string, int> generate_listops_expression(std::mt19937_64& rng, const ListOpsGeneratorOptions& o);
/// Evaluates a source string (the reference for the generator's values).
int evaluate_listops(const std::string& source);
/// Writes basic_{train,val,test}.tsv into `dir` (duplicates removed; seeded, reproducible).
void write_listops_dataset(const std::string& dir, int64_t n_train, int64_t n_val, int64_t n_test,
                           const ListOpsGeneratorOptions& o);

struct PathfinderGeneratorOptions {
  int64_t image_size = 32;        // pathfinder32 (LRA also has 64, 128, 256)
  int64_t contour_length = 14;    // paddles per path (LRA's difficulty levels: 6 baseline, 9, 14)
  int64_t distractors = 4;        // distractor paths of contour_length / 3 paddles
  int64_t per_folder = 1000;      // images per imgs/<n>/ folder (and metadata/<n>.npy)
  double max_turn = 0.5;          // largest direction change between consecutive paddles (radians)
  uint64_t seed = 0;
};
/// Generates a Pathfinder dataset in the released layout (ROOT/imgs/<n>/sample_<i>.png, ROOT/metadata/<n>.npy
/// text lines "imgs/<n> sample_<i>.png <i> <label> <contour_length> <distractors>"), after Linsley et al.
/// 2018: two long dashed paths of `contour_length` paddles that never touch each other or the distractors,
/// a marker disc at two path ends: both ends of one path (label 1) or one end of each (label 0). Drawn at
/// 4x and area-downsampled (anti-aliased gray, like the released images). Seeded and reproducible.
void write_pathfinder_dataset(const std::string& root, int64_t count, const PathfinderGeneratorOptions& o);

}  // namespace attnzoo::datasets
