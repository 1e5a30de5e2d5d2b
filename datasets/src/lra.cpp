#include <attnzoo/datasets/lra.h>

#include <torch/torch.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <stdexcept>

namespace attnzoo::datasets {

namespace fs = std::filesystem;

namespace {

std::string where(const std::string& file, size_t line) { return file + ":" + std::to_string(line); }

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

class SequentialImage : public SequenceDataset {
 public:
  explicit SequentialImage(DatasetPtr images) : images_(std::move(images)) {
    TORCH_CHECK(images_->size() > 0, "sequential image: empty dataset");
    const auto s = images_->get(0).image;
    len_ = s.size(0) * s.size(1);
  }
  size_t size() const override { return images_->size(); }
  SequenceExample get(size_t i) const override {
    const Sample s = images_->get(i);
    at::Tensor img = s.image.to(torch::kFloat);
    at::Tensor gray = img.size(2) == 1 ? img.select(2, 0)
                                       : img.select(2, 0) * 0.2989f + img.select(2, 1) * 0.5870f + img.select(2, 2) * 0.1140f;
    gray = gray.to(torch::kInt).contiguous().view({-1});  // truncation, as tf.cast
    TORCH_CHECK(gray.numel() == len_, "sequential image: all images must have one size (", len_, " pixels), sample ", i,
                " has ", gray.numel());
    SequenceExample e;
    e.tokens.assign(gray.data_ptr<int32_t>(), gray.data_ptr<int32_t>() + gray.numel());
    e.label = s.label;
    return e;
  }
  int64_t vocab_size() const override { return 256; }
  int64_t num_classes() const override { return static_cast<int64_t>(images_->classes().size()); }
  int64_t max_length() const override { return len_; }
  bool pad_is_zero() const override { return false; }  // pixel value 0 is data (the Nystromformer quirk avoided)
  std::string describe() const override { return "sequential pixels of " + images_->describe(); }

 private:
  DatasetPtr images_;
  int64_t len_ = 0;
};

}  // namespace

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

namespace {

std::vector<int32_t> byte_tokens(const std::string& text, int64_t max_length) {
  std::vector<int32_t> t;
  for (size_t i = 0; i < text.size() && static_cast<int64_t>(i) < max_length; ++i)
    t.push_back(static_cast<int32_t>(static_cast<unsigned char>(text[i])) + 1);
  if (t.empty()) t.push_back(1);
  return t;
}

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

SequenceDatasetPtr open_sequential_image(DatasetPtr images) { return std::make_shared<SequentialImage>(std::move(images)); }

SequenceDatasetPtr open_retrieval(const std::string& path, int64_t max_length) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw std::runtime_error(path + ": cannot open retrieval file");
  std::string line;
  size_t n = 0;
  std::vector<SequenceExample> ex;
  auto bytes = [&](const std::string& text) {
    std::vector<int32_t> t;
    const size_t cap = std::min<size_t>(10000, static_cast<size_t>(max_length));  // LRA: 10 000 bytes, then max_length
    for (size_t i = 0; i < text.size() && i < cap; ++i) t.push_back(static_cast<int32_t>(static_cast<unsigned char>(text[i])) + 1);
    if (t.empty()) t.push_back(1);
    return t;
  };
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

namespace {

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
        throw std::runtime_error(where(mf.string(), n) + ": label field '" + w[3] + "' is not an integer");
      }
      if (label < 0 || label > 1) throw std::runtime_error(where(mf.string(), n) + ": label must be 0 or 1");
      const std::string path = (fs::path(root) / w[0] / w[1]).string();
      if (skip_bad && (!fs::exists(path) || fs::file_size(path) == 0)) continue;
      items.emplace_back(path, label);
    }
  }
  if (items.empty()) throw std::runtime_error(root + ": no pathfinder samples in metadata/");
  const at::Tensor first = read_image(items.front().first);
  const int64_t len = first.size(0) * first.size(1);
  const size_t count = items.size();
  return std::make_shared<Pathfinder>(std::move(items), len, "pathfinder " + root + " (" + std::to_string(count) + " images)");
}

// ---------------------------------------------------------------------------------------------------
// ListOps generator (lra_benchmarks/data/listops.py rules)

namespace {

struct Node {
  int op = -1;  // -1 leaf; 0 MIN 1 MAX 2 MED 3 SM
  int value = 0;
  std::vector<Node> args;
};

const char* kOps[] = {"[MIN", "[MAX", "[MED", "[SM"};

Node generate_tree(std::mt19937_64& rng, int depth, const ListOpsGeneratorOptions& o, int64_t* length) {
  std::uniform_real_distribution<double> u(0.0, 1.0);
  const double r = depth < o.max_depth ? u(rng) : 1.0;
  Node n;
  if (r > o.value_p) {
    n.value = static_cast<int>(std::uniform_int_distribution<int>(0, 9)(rng));
    *length += 1;
    return n;
  }
  n.op = std::uniform_int_distribution<int>(0, 3)(rng);
  const int k = std::uniform_int_distribution<int>(2, static_cast<int>(o.max_args))(rng);
  *length += 2;
  for (int i = 0; i < k; ++i) n.args.push_back(generate_tree(rng, depth + 1, o, length));
  return n;
}

int value_of(const std::vector<int>& v, int op) {
  switch (op) {
    case 0: return *std::min_element(v.begin(), v.end());
    case 1: return *std::max_element(v.begin(), v.end());
    case 2: {  // int(np.median(args))
      std::vector<int> s = v;
      std::sort(s.begin(), s.end());
      const size_t m = s.size() / 2;
      return s.size() % 2 ? s[m] : static_cast<int>((s[m - 1] + s[m]) / 2.0);
    }
    default: {
      int sum = 0;
      for (int x : v) sum += x;
      return sum % 10;
    }
  }
}

int evaluate(const Node& n) {
  if (n.op < 0) return n.value;
  std::vector<int> v;
  for (const auto& a : n.args) v.push_back(evaluate(a));
  return value_of(v, n.op);
}

// The released format: "( ( [MAX 2 9 ] 4 ) ..." : every argument of an operator is wrapped in "( ... )".
void to_string(const Node& n, std::string& out) {
  if (n.op < 0) {
    out += std::to_string(n.value);
    return;
  }
  out += "( ";
  out += kOps[n.op];
  for (const auto& a : n.args) {
    out += ' ';
    to_string(a, out);
  }
  out += " ] )";
}

}  // namespace

std::pair<std::string, int> generate_listops_expression(std::mt19937_64& rng, const ListOpsGeneratorOptions& o) {
  TORCH_CHECK(o.max_args >= 2 && o.max_depth >= 1 && o.min_length < o.max_length, "ListOps generator: bad options");
  for (int attempt = 0; attempt < 1000000; ++attempt) {
    int64_t length = 0;
    const Node t = generate_tree(rng, 1, o, &length);
    if (length <= o.min_length || length >= o.max_length) continue;
    std::string s;
    to_string(t, s);
    return {s, evaluate(t)};
  }
  throw std::runtime_error("ListOps generator: no expression within the length bounds after 1e6 draws");
}

int evaluate_listops(const std::string& source) {
  std::vector<std::vector<int>> stack;
  std::vector<int> ops;
  std::istringstream in(source);
  std::string tok;
  int result = -1;
  while (in >> tok) {
    if (tok == "(" || tok == ")") continue;
    if (tok[0] == '[') {
      const auto it = std::find_if(std::begin(kOps), std::end(kOps), [&](const char* o) { return tok == o; });
      if (it == std::end(kOps)) throw std::invalid_argument("ListOps: unknown operator " + tok);
      ops.push_back(static_cast<int>(it - std::begin(kOps)));
      stack.emplace_back();
    } else if (tok == "]") {
      if (ops.empty()) throw std::invalid_argument("ListOps: unbalanced ]");
      const int v = value_of(stack.back(), ops.back());
      stack.pop_back();
      ops.pop_back();
      if (stack.empty()) result = v;
      else stack.back().push_back(v);
    } else {
      const int v = std::stoi(tok);
      if (stack.empty()) result = v;
      else stack.back().push_back(v);
    }
  }
  if (!ops.empty()) throw std::invalid_argument("ListOps: unbalanced expression");
  return result;
}

void write_listops_dataset(const std::string& dir, int64_t n_train, int64_t n_val, int64_t n_test,
                           const ListOpsGeneratorOptions& o) {
  std::filesystem::create_directories(dir);
  std::mt19937_64 rng(o.seed);
  std::set<std::string> seen;
  auto write = [&](const std::string& name, int64_t n) {
    const std::string path = (std::filesystem::path(dir) / name).string();
    std::ofstream f(path);
    if (!f) throw std::runtime_error(path + ": cannot write");
    f << "Source\tTarget\n";
    for (int64_t i = 0; i < n;) {
      auto [s, v] = generate_listops_expression(rng, o);
      if (!seen.insert(s).second) continue;  // duplicates removed across all splits
      f << s << "\t" << v << "\n";
      ++i;
    }
  };
  write("basic_train.tsv", n_train);
  write("basic_val.tsv", n_val);
  write("basic_test.tsv", n_test);
}

}  // namespace attnzoo::datasets
