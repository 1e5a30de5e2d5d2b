#pragma once
// Helpers shared by the tests.
#include <ATen/core/Tensor.h>
#include <nlohmann/json.hpp>

#include <exception>
#include <filesystem>
#include <string>

namespace attnzoo::test {

std::filesystem::path fixtures_dir();
nlohmann::json read_json(const std::filesystem::path& p);
/// A fresh empty directory under the system temp dir.
std::filesystem::path temp_dir(const std::string& name);
/// Runs a shell command; returns the exit status and fills `output` with stdout+stderr.
int run_command(const std::string& cmd, std::string* output);
/// The attnzoo executable.
std::string cli();
/// Writes a tiny, learnable MNIST-format dataset into `dir` (train-/t10k-*-ubyte, uncompressed):
/// class c has a bright 6x6 square at a class-specific place plus noise. Returns dir.
std::filesystem::path write_tiny_idx(const std::filesystem::path& dir, int n_train, int n_test, int classes = 4,
                                     int size = 16, unsigned seed = 1);
/// The model family of a fixture case: the fixture folder's name when that is a registered family, else
/// the official file's stem when registered ("agent_pvt"), else the official class name in lower case
/// ("hilo/" holds the LITv2 model case).
std::string model_family_for(const std::string& folder, const nlohmann::json& spec);
/// The official file's name without folder and extension ("agent_deit" for .../models/agent_deit.py).
std::string official_file_stem(const nlohmann::json& spec);
/// max |a - b|
double max_abs_diff(const at::Tensor& a, const at::Tensor& b);

/// The message of the std::exception `f` throws, or "(no error)".
template <typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace attnzoo::test
