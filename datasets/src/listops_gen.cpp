// ListOps generator with the rules of lra_benchmarks/data/listops.py (seeded, reproducible).
#include <attnzoo/datasets/lra.h>

#include "lra_common.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <sstream>
#include <stdexcept>

namespace attnzoo::datasets {

using namespace lra_detail;

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
