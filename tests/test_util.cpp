#include "test_util.h"

#include <ATen/ATen.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <sys/wait.h>
#include <unistd.h>

namespace attnzoo::test {

std::filesystem::path fixtures_dir() { return ATTNZOO_FIXTURES_DIR; }

nlohmann::json read_json(const std::filesystem::path& p) {
  std::ifstream in(p);
  return nlohmann::json::parse(in);
}

std::filesystem::path temp_dir(const std::string& name) {
  auto d = std::filesystem::temp_directory_path() / ("attnzoo_test_" + std::to_string(::getpid()) + "_" + name);
  std::filesystem::remove_all(d);
  std::filesystem::create_directories(d);
  return d;
}

int run_command(const std::string& cmd, std::string* output) {
  FILE* p = ::popen((cmd + " 2>&1").c_str(), "r");
  if (!p) return -1;
  std::array<char, 4096> buf;
  std::string out;
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
  const int status = ::pclose(p);
  if (output) *output = out;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string cli() { return ATTNZOO_CLI; }

namespace {
void put_be32(std::string& s, uint32_t v) {
  for (int i = 3; i >= 0; --i) s.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void write_idx(const std::filesystem::path& dir, const std::string& prefix, int n, int classes, int size, unsigned seed) {
  std::string img, lbl;
  put_be32(img, 2051);
  put_be32(img, n);
  put_be32(img, size);
  put_be32(img, size);
  put_be32(lbl, 2049);
  put_be32(lbl, n);
  uint32_t state = seed * 2654435761u + 12345u;
  auto rnd = [&] { return (state = state * 1664525u + 1013904223u) >> 24; };
  for (int i = 0; i < n; ++i) {
    const int c = i % classes;
    lbl.push_back(static_cast<char>(c));
    const int ox = (c % 2) * (size / 2), oy = (c / 2 % 2) * (size / 2);
    for (int y = 0; y < size; ++y)
      for (int x = 0; x < size; ++x) {
        const bool on = x >= ox + 1 && x < ox + 7 && y >= oy + 1 && y < oy + 7;
        img.push_back(static_cast<char>(on ? 180 + rnd() % 70 : rnd() % 60));
      }
  }
  std::ofstream(dir / (prefix + "-images-idx3-ubyte"), std::ios::binary) << img;
  std::ofstream(dir / (prefix + "-labels-idx1-ubyte"), std::ios::binary) << lbl;
}
}  // namespace

std::filesystem::path write_tiny_idx(const std::filesystem::path& dir, int n_train, int n_test, int classes, int size,
                                     unsigned seed) {
  std::filesystem::create_directories(dir);
  write_idx(dir, "train", n_train, classes, size, seed);
  write_idx(dir, "t10k", n_test, classes, size, seed + 1);
  return dir;
}

std::string official_file_stem(const nlohmann::json& spec) {
  const std::string file = spec.at("official").value("file", "");
  const auto slash = file.find_last_of('/');
  std::string stem = slash == std::string::npos ? file : file.substr(slash + 1);
  const auto dot = stem.find('.');
  return dot == std::string::npos ? stem : stem.substr(0, dot);
}

double max_abs_diff(const at::Tensor& a, const at::Tensor& b) {
  return (a.to(at::kDouble) - b.to(at::kDouble)).abs().max().item<double>();
}

}  // namespace attnzoo::test
