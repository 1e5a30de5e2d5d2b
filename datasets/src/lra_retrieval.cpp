// LRA Retrieval: AAN document pairs, "label<TAB>id1<TAB>id2<TAB>text1<TAB>text2" lines.
#include <attnzoo/datasets/lra.h>

#include "lra_common.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <stdexcept>

namespace attnzoo::datasets {

using namespace lra_detail;

SequenceDatasetPtr open_retrieval(const std::string& path, int64_t max_length) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw std::runtime_error(path + ": cannot open retrieval file");
  std::string line;
  size_t n = 0;
  std::vector<SequenceExample> ex;
  const int64_t cap = std::min<int64_t>(10000, max_length);  // LRA: 10 000 bytes, then max_length
  auto bytes = [cap](const std::string& text) { return byte_tokens(text, cap); };
  while (std::getline(f, line)) {
    ++n;
    if (line.empty()) continue;
    std::vector<std::string> cols;
    size_t start = 0;
    for (int c = 0; c < 4; ++c) {
      const auto tab = line.find('\t', start);
      if (tab == std::string::npos) break;
      cols.push_back(line.substr(start, tab - start));
      start = tab + 1;
    }
    if (cols.size() != 4)
      throw std::runtime_error(where(path, n) + ": expected 5 tab-separated columns (label, id1, id2, text1, text2)");
    cols.push_back(line.substr(start));
    SequenceExample e;
    try {
      e.label = static_cast<int64_t>(std::stod(cols[0]));
    } catch (const std::exception&) {
      throw std::runtime_error(where(path, n) + ": label '" + cols[0] + "' is not a number");
    }
    if (e.label < 0 || e.label > 1) throw std::runtime_error(where(path, n) + ": label must be 0 or 1");
    e.tokens = bytes(cols[3]);
    e.tokens2 = bytes(cols[4]);
    ex.push_back(std::move(e));
  }
  if (ex.empty()) throw std::runtime_error(path + ": no examples");
  const size_t count = ex.size();
  return std::make_shared<PairDataset>(std::move(ex), 257, 2, max_length,
                                       "retrieval pairs " + path + " (" + std::to_string(count) + " pairs)");
}

}  // namespace attnzoo::datasets
