#pragma once
// Helpers shared by the tests.
#include <ATen/core/Tensor.h>
#include <nlohmann/json.hpp>

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
/// max |a - b|
double max_abs_diff(const at::Tensor& a, const at::Tensor& b);

}  // namespace attnzoo::test
