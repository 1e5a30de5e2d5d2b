#pragma once
// timm's train.py arguments: the keys of the args.yaml timm writes next to every run, with their defaults.
// `attnzoo train --config args.yaml` takes such a file as it is: the keys attnzoo implements are used, timm's
// other keys are listed in one warning (never silently dropped), keys that are neither are an error.
#include <nlohmann/json.hpp>

#include <map>
#include <string>

namespace attnzoo::train {

/// Every argument of timm's train.py (generated from timm at the commit named in timm_train_args.inc) ->
/// its default.
const std::map<std::string, nlohmann::json>& timm_train_defaults();

}  // namespace attnzoo::train
