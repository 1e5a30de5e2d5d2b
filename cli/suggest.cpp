// "Did you mean ...?" for a misspelt subcommand or flag: the closest name by edit distance, when close enough.
#include "commands.h"

#include <algorithm>
#include <vector>

namespace attnzoo::cli {

namespace {

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = up;
    }
  }
  return row[b.size()];
}

// The candidate closest to `word` within a third of its length (at least 2, at most 3 edits), or "".
std::string closest(const std::string& word, const std::vector<std::string>& candidates) {
  std::string best;
  size_t best_d = std::min<size_t>(3, std::max<size_t>(2, word.size() / 3)) + 1;  // a swap of two letters is 2
  for (const auto& c : candidates) {
    const size_t d = edit_distance(word, c);
    if (d < best_d) {
      best_d = d;
      best = c;
    }
  }
  return best;
}

std::vector<std::string> long_flags(const CLI::App& app) {
  std::vector<std::string> out;
  for (const CLI::Option* o : app.get_options())
    for (const auto& name : o->get_lnames()) out.push_back("--" + name);
  return out;
}

}  // namespace

std::string did_you_mean(const CLI::App& app, int argc, char** argv) {
  const auto parsed = app.get_subcommands();
  std::vector<std::string> commands;
  for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; })) commands.push_back(sub->get_name());
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (parsed.empty() && arg.rfind("-", 0) != 0) {  // the first word that is no option should be a subcommand
      const std::string c = closest(arg, commands);
      if (!c.empty()) return ": '" + arg + "' is not a command (did you mean '" + c + "'?)";
      std::string all;
      for (const auto& name : commands) all += (all.empty() ? "" : ", ") + name;
      return ": '" + arg + "' is not a command (commands: " + all + ")";
    }
    if (arg.rfind("--", 0) != 0 || parsed.empty()) continue;
    const std::string name = arg.substr(0, arg.find('='));
    std::vector<std::string> flags = long_flags(*parsed.front());
    const std::vector<std::string> global = long_flags(app);
    flags.insert(flags.end(), global.begin(), global.end());
    if (std::find(flags.begin(), flags.end(), name) != flags.end()) continue;
    const std::string c = closest(name, flags);
    if (!c.empty()) return " (did you mean " + c + "?)";
  }
  return "";
}

}  // namespace attnzoo::cli
