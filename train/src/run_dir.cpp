#include <attnzoo/train/run_dir.h>

#include <ctime>
#include <filesystem>
#include <stdexcept>
#include <vector>

namespace attnzoo::train {

namespace fs = std::filesystem;

namespace {

// What a run (image or LRA trainer) writes into its folder.
bool is_run_file(const std::string& name) {
  static const char* fixed[] = {"log.jsonl", "summary.csv", "args.json", "args.yaml", "last.safetensors",
                                "best.safetensors", "final.safetensors", "result.json"};
  for (const char* f : fixed)
    if (name == f) return true;
  const auto ends_with = [&](const std::string& suffix) {
    return name.size() >= suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  return (name.rfind("checkpoint-", 0) == 0 || name.rfind("recovery-", 0) == 0) && ends_with(".safetensors");
}

}  // namespace

std::string run_output_dir(const std::string& output, const std::string& experiment, const std::string& model,
                           int64_t img_size, const std::string& kind) {
  if (!output.empty()) return output;
  std::string name = experiment;
  if (name.empty()) {
    const std::time_t now = std::time(nullptr);
    std::tm local{};
    localtime_r(&now, &local);
    char stamp[32];
    std::strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &local);
    name = std::string(stamp) + "-" + model + (img_size > 0 ? "-" + std::to_string(img_size) : "");
  }
  return (fs::path("output") / kind / name).string();
}

void claim_output_dir(const std::string& dir, bool resuming, bool overwrite) {
  std::vector<fs::path> found;
  std::error_code ec;
  if (fs::is_directory(dir, ec))
    for (const auto& e : fs::directory_iterator(dir, ec))
      if (e.is_regular_file() && is_run_file(e.path().filename().string())) found.push_back(e.path());
  if (found.empty() || resuming) return;
  if (!overwrite) {
    std::string names;
    for (size_t i = 0; i < found.size() && i < 4; ++i) names += (i ? ", " : "") + found[i].filename().string();
    if (found.size() > 4) names += ", ...";
    throw std::invalid_argument(dir + " already holds a run (" + names + "): --resume " +
                                (fs::path(dir) / "last.safetensors").string() +
                                " continues it, --overwrite replaces it, or choose another --output / --experiment");
  }
  for (const auto& p : found) fs::remove(p);
}

}  // namespace attnzoo::train
