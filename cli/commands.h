#pragma once
// The attnzoo subcommands. Each add_* function registers one subcommand on the app; the work itself
// lives in the libraries, the CLI only parses flags and prints.
#include <CLI/CLI.hpp>

#include <functional>
#include <optional>
#include <stdexcept>
#include <string>

namespace attnzoo::cli {

/// A problem with the command line itself (exit code 2); anything else that fails exits with 1.
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// --device values: cpu, cuda or cuda:N that this build and machine have (checked while parsing).
CLI::Validator device_validator();

/// `text` as a whole integer (no trailing characters); nullopt otherwise.
std::optional<long long> parse_integer(const std::string& text);

/// Integers >= lo, with a one-line message ("--flag: must be an integer >= 0, got -1").
CLI::Validator at_least(long long lo);

/// ": 'trian' is not a command (did you mean 'train'?)" or " (did you mean --epochs?)" for the first misspelt subcommand or flag
/// (closest by edit distance, when close enough); "" when nothing is close.
std::string did_you_mean(const CLI::App& app, int argc, char** argv);

/// Set by the subcommand's callback; run by main() after parsing, so errors are reported uniformly.
using Action = std::function<int()>;

void add_list_command(CLI::App& app, Action& action);
void add_info_command(CLI::App& app, Action& action);
void add_forward_command(CLI::App& app, Action& action);
void add_train_command(CLI::App& app, Action& action);
void add_eval_commands(CLI::App& app, Action& action);  // eval, predict, extract
void add_bench_command(CLI::App& app, Action& action);
void add_data_command(CLI::App& app, Action& action);
void add_export_command(CLI::App& app, Action& action);
void add_plot_command(CLI::App& app, Action& action);
void add_viz_command(CLI::App& app, Action& action);   // viz erf, viz attention

}  // namespace attnzoo::cli
