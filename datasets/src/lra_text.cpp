// LRA Text: byte-level classification from "label<TAB>text" TSVs or CSVs with a header (RFC 4180).
#include <attnzoo/datasets/lra.h>

#include "lra_common.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace attnzoo::datasets {

using namespace lra_detail;
namespace fs = std::filesystem;

namespace {

// One CSV record (RFC 4180: quoted fields, "" escapes, newlines inside quotes); false at the end of input.
bool csv_record(std::istream& in, std::vector<std::string>& fields, size_t& line, const std::string& path) {
  fields.assign(1, "");
  bool quoted = false, any = false;
  const size_t start = line + 1;
  for (int c; (c = in.get()) != EOF;) {
    any = true;
    if (quoted) {
      if (c == '"') {
        if (in.peek() == '"') {
          fields.back() += '"';
          in.get();
        } else {
          quoted = false;
        }
      } else {
        if (c == '\n') ++line;
        fields.back() += static_cast<char>(c);
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      fields.emplace_back();
    } else if (c == '\n') {
      ++line;
      if (!fields.back().empty() && fields.back().back() == '\r') fields.back().pop_back();
      return true;
    } else {
      fields.back() += static_cast<char>(c);
    }
  }
  if (quoted) throw std::runtime_error(where(path, start) + ": unterminated quoted field");
  if (any) ++line;
  return any;
}

int64_t text_label(std::string v, int64_t num_classes, const std::string& at) {
  for (auto& ch : v) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  int64_t label = -1;
  if (v == "negative" || v == "neg") label = 0;
  else if (v == "positive" || v == "pos") label = 1;
  else {
    try {
      size_t used = 0;
      label = std::stoll(v, &used);
      if (used != v.size()) throw std::invalid_argument("trailing characters");
    } catch (const std::exception&) {
      throw std::runtime_error(at + ": label '" + v + "' is not an integer (or positive / negative)");
    }
  }
  if (label < 0 || label >= num_classes)
    throw std::runtime_error(at + ": label " + std::to_string(label) + " outside 0.." + std::to_string(num_classes - 1));
  return label;
}

// CSV with a header naming the label column (label / sentiment / target / class) and the text column
// (text / review / sentence / content), in any order (e.g. the common IMDb "review,sentiment" export).
std::vector<SequenceExample> read_text_csv(const std::string& path, int64_t num_classes, int64_t max_length) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw std::runtime_error(path + ": cannot open text file");
  std::vector<std::string> row;
  size_t line = 0;
  if (!csv_record(f, row, line, path)) throw std::runtime_error(path + ": empty file");
  int label_col = -1, text_col = -1;
  for (size_t i = 0; i < row.size(); ++i) {
    std::string h = row[i];
    for (auto& ch : h) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    if (h == "label" || h == "sentiment" || h == "target" || h == "class") label_col = static_cast<int>(i);
    if (h == "text" || h == "review" || h == "sentence" || h == "content") text_col = static_cast<int>(i);
  }
  if (label_col < 0 || text_col < 0)
    throw std::runtime_error(where(path, 1) + ": the CSV header must name a label column (label, sentiment, target, class) "
                             "and a text column (text, review, sentence, content)");
  std::vector<SequenceExample> ex;
  for (size_t start = line + 1; csv_record(f, row, line, path); start = line + 1) {
    if (row.size() == 1 && row[0].empty()) continue;
    const size_t need = static_cast<size_t>(std::max(label_col, text_col)) + 1;
    if (row.size() < need)
      throw std::runtime_error(where(path, start) + ": " + std::to_string(row.size()) + " columns, the header has " +
                               std::to_string(need) + " or more");
    SequenceExample e;
    e.label = text_label(row[static_cast<size_t>(label_col)], num_classes, where(path, start));
    e.tokens = byte_tokens(row[static_cast<size_t>(text_col)], max_length);
    ex.push_back(std::move(e));
  }
  return ex;
}

}  // namespace

SequenceDatasetPtr open_byte_text(const std::string& path, int64_t num_classes, int64_t max_length) {
  std::vector<SequenceExample> ex;
  if (fs::path(path).extension() == ".csv") {
    ex = read_text_csv(path, num_classes, max_length);
  } else {
    std::ifstream f(path, std::ios::binary);
    if (!f) throw std::runtime_error(path + ": cannot open text file");
    std::string line;
    size_t n = 0;
    while (std::getline(f, line)) {
      ++n;
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (line.empty()) continue;
      const auto tab = line.find('\t');
      if (tab == std::string::npos) throw std::runtime_error(where(path, n) + ": expected 'label<TAB>text'");
      SequenceExample e;
      e.label = text_label(line.substr(0, tab), num_classes, where(path, n));
      e.tokens = byte_tokens(line.substr(tab + 1), max_length);
      ex.push_back(std::move(e));
    }
  }
  if (ex.empty()) throw std::runtime_error(path + ": no examples");
  const size_t count = ex.size();
  return std::make_shared<VectorDataset>(std::move(ex), 257, num_classes, max_length,
                                         "byte-level text " + path + " (" + std::to_string(count) + " documents)");
}

}  // namespace attnzoo::datasets
