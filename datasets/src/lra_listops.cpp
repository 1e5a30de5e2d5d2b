// LRA ListOps: the released TSVs, LRA tokenisation.
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

std::vector<int32_t> listops_tokenize(const std::string& source) {
  std::vector<int32_t> out;
  std::istringstream in(source);
  std::string tok;
  while (in >> tok) {
    // LRA: `]` -> X and parentheses removed before splitting; they are separate words in the released files.
    std::string t;
    for (char c : tok)
      if (c != '(' && c != ')') t += c == ']' ? 'X' : c;
    if (t.empty()) continue;
    int32_t id = 1;  // <unk>
    if (t.size() == 1 && t[0] >= '0' && t[0] <= '9') id = 2 + (t[0] - '0');
    else if (t == "[MIN") id = 12;
    else if (t == "[MAX") id = 13;
    else if (t == "[MED") id = 14;
    else if (t == "[SM") id = 15;
    else if (t == "X") id = 16;
    out.push_back(id);
  }
  return out;
}

SequenceDatasetPtr open_listops(const std::string& path, int64_t max_length) {
  std::ifstream f(path);
  if (!f) throw std::runtime_error(path + ": cannot open ListOps file");
  std::string line;
  size_t n = 0;
  std::vector<SequenceExample> ex;
  while (std::getline(f, line)) {
    ++n;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (n == 1) {
      if (line.rfind("Source\tTarget", 0) != 0)
        throw std::runtime_error(where(path, n) + ": expected the header 'Source<TAB>Target', got '" + line.substr(0, 40) + "'");
      continue;
    }
    if (line.empty()) continue;
    const auto tab = line.rfind('\t');
    if (tab == std::string::npos) throw std::runtime_error(where(path, n) + ": expected 'Source<TAB>Target'");
    SequenceExample e;
    try {
      size_t used = 0;
      e.label = std::stoll(line.substr(tab + 1), &used);
      if (used != line.size() - tab - 1) throw std::invalid_argument("trailing characters");
    } catch (const std::exception&) {
      throw std::runtime_error(where(path, n) + ": target '" + line.substr(tab + 1) + "' is not an integer");
    }
    if (e.label < 0 || e.label > 9) throw std::runtime_error(where(path, n) + ": target must be 0..9, got " + std::to_string(e.label));
    e.tokens = listops_tokenize(line.substr(0, tab));
    if (e.tokens.empty()) throw std::runtime_error(where(path, n) + ": empty source");
    if (static_cast<int64_t>(e.tokens.size()) > max_length) e.tokens.resize(static_cast<size_t>(max_length));
    ex.push_back(std::move(e));
  }
  if (ex.empty()) throw std::runtime_error(path + ": no examples");
  const size_t count = ex.size();
  return std::make_shared<VectorDataset>(std::move(ex), kListOpsVocab, 10, max_length,
                                         "ListOps " + path + " (" + std::to_string(count) + " sequences)");
}

}  // namespace attnzoo::datasets
