#include "commands.h"
#include "model_args.h"

#include <attnzoo/checkpoint/hub.h>
#include <attnzoo/checkpoint/state_dict.h>
#include <attnzoo/models/registry.h>

#include <ATen/Parallel.h>

#include <filesystem>
#include <iomanip>
#include <iostream>
#include <optional>
#include <sstream>

namespace attnzoo::cli {
namespace {

// The released weights: file, URL, hash, published top-1, license, and whether a copy is at hand.
void print_weights(const models::PretrainedCfg& cfg) {
  if (!cfg.has_weights()) {
    std::cout << "weights:        none released\n";
    return;
  }
  const std::string hash = checkpoint::hash_prefix_of(cfg.weights_file());
  std::ostringstream top1;
  if (cfg.top1 > 0) top1 << std::fixed << std::setprecision(1) << cfg.top1 << " % (ImageNet-1k, as the authors publish it)";
  else top1 << "not published";
  std::optional<std::filesystem::path> local;
  for (const auto& src : cfg.weight_sources())
    if (!local) local = checkpoint::local_weights(src.file_name);
  std::cout << "weights:        " << cfg.weights_file() << "\n"
            << "  url:          " << cfg.url << "\n";
  for (const auto& m : cfg.mirrors) std::cout << "  mirror:       " << m.url << " (as " << m.file_name << ")\n";
  std::cout << "  sha256:       " << (hash.empty() ? "not published" : hash + "... (from the file name)") << "\n"
            << "  top-1:        " << top1.str() << "\n"
            << "  license:      " << (cfg.license.empty() ? "not stated" : cfg.license) << "\n"
            << "  local copy:   " << (local ? local->string() : "not found (attnzoo ... --pretrained --download fetches it)")
            << "\n";
}

}  // namespace

void add_info_command(CLI::App& app, Action& action) {
  auto* cmd = app.add_subcommand("info", "parameter count, config, pretrained config, state_dict keys of a model");
  auto args = std::make_shared<ModelArgs>();
  auto keys = std::make_shared<bool>(false);
  auto json = std::make_shared<bool>(false);
  args->add_to(*cmd, /*positional_name=*/true);
  cmd->add_flag("--keys", *keys, "list the state_dict: name, shape, dtype (registration order)");
  cmd->add_flag("--json", *json, "machine-readable output");
  cmd->callback([&action, args, keys, json] {
    action = [args, keys, json] {
      auto model = args->build();
      const auto& reg = models::registry();
      const auto* variant = reg.find_variant(args->name);
      int64_t num_params = 0;
      for (const auto& p : model->parameters()) num_params += p.numel();
      const auto sd = checkpoint::state_dict(*model);
      nlohmann::json out;
      out["model"] = args->name;
      out["family"] = variant ? variant->family : args->name;
      out["num_params"] = num_params;
      out["num_features"] = model->num_features();
      out["args"] = reg.resolve_args(args->name, args->overrides());
      out["pretrained_cfg"] = model->pretrained_cfg().to_json();
      out["threads"] = at::get_num_threads();
      nlohmann::json fi = nlohmann::json::array();
      for (const auto& f : model->feature_info())
        fi.push_back({{"num_chs", f.num_chs}, {"reduction", f.reduction}, {"module", f.module}});
      out["feature_info"] = fi;
      if (*keys) {
        nlohmann::json list = nlohmann::json::array();
        for (const auto& item : sd)
          list.push_back({item.key(), item.value().sizes().vec(), dtype_name(item.value().scalar_type())});
        out["state_dict"] = list;
      }
      if (*json) {
        std::cout << out.dump(1) << "\n";
        return 0;
      }
      std::cout << "model:          " << out["model"].get<std::string>() << " (family " << out["family"].get<std::string>()
                << ")\n"
                << "parameters:     " << num_params << " (" << std::fixed << std::setprecision(2) << num_params / 1e6
                << " M)\n"
                << "state_dict:     " << sd.size() << " tensors\n"
                << "num_features:   " << model->num_features() << "\n"
                << "threads:        " << at::get_num_threads() << "\n"
                << "args:           " << out["args"].dump() << "\n"
                << "pretrained_cfg: " << out["pretrained_cfg"].dump() << "\n"
                << "feature_info:   " << fi.dump() << "\n";
      print_weights(model->pretrained_cfg());
      if (*keys) {
        for (const auto& item : sd) {
          std::ostringstream shape;
          shape << item.value().sizes();
          std::cout << "  " << std::left << std::setw(60) << item.key() << " " << std::setw(20) << shape.str() << " "
                    << dtype_name(item.value().scalar_type()) << "\n";
        }
      }
      return 0;
    };
  });
}

}  // namespace attnzoo::cli
