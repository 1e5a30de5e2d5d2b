#pragma once
// state_dict() / load_state_dict() for LibTorch modules with PyTorch's semantics, and the logic that
// finds the weights inside a checkpoint file (timm's envelope rules).
#include <attnzoo/checkpoint/tensor_dict.h>

#include <string>
#include <vector>

namespace torch::nn {
class Module;
}

namespace attnzoo::checkpoint {

/// PyTorch's state_dict order: each module's own parameters, then its own buffers, then its children
/// (recursively, in registration order). Tensors are the module's own (not copies).
TensorDict state_dict(const torch::nn::Module& module);

struct LoadReport {
  std::vector<std::string> missing;     // in the model, not in the checkpoint
  std::vector<std::string> unexpected;  // in the checkpoint, not in the model
  std::vector<std::string> mismatched;  // "name: checkpoint [..] vs model [..]"
  bool ok() const { return missing.empty() && unexpected.empty() && mismatched.empty(); }
  /// One line listing everything that differs (at most `limit` names per list).
  std::string describe(size_t limit = 20) const;
};

/// Compares without copying.
LoadReport compare_state_dict(const torch::nn::Module& module, const TensorDict& weights);

/// Copies `weights` into the module's parameters and buffers (converting dtype, keeping device).
/// strict: any missing or unexpected key is an error. Mis-shaped keys are always an error.
/// Throws std::runtime_error("<what>: ...") listing every problem at once.
LoadReport load_state_dict(torch::nn::Module& module, const TensorDict& weights, bool strict = true,
                           const std::string& what = "checkpoint");

/// Strips the wrappers' prefixes `module.` (DataParallel/DDP) and `_orig_mod.` (torch.compile).
TensorDict clean_state_dict(const TensorDict& weights);

/// Where the weights are in a checkpoint, as timm's load_checkpoint looks (unless `key` names an entry):
/// `state_dict` > `model` > the EMA entries > the top level, or with `use_ema` (timm's validate.py
/// --use-ema) `state_dict_ema` > `model_ema` > `state_dict` > `model` > the top level.
const std::vector<std::string>& checkpoint_keys(bool use_ema);

struct LoadedWeights {
  TensorDict tensors;   // cleaned state dict
  std::string source;   // e.g. "state_dict (torch.save)" or "top level (safetensors)"
};

/// Reads a safetensors or torch.save file and returns the cleaned state dict inside it.
/// `key` (may be empty) selects an entry of the checkpoint dict explicitly.
LoadedWeights read_weights(const std::string& path, const std::string& key = "", bool use_ema = false);

/// Writes a plain state dict, atomically, for Python's `model.load_state_dict(...)`: `.safetensors` (metadata
/// format=pt, as safetensors.torch.save_file writes) or `.pth` / `.pt` / `.bin` (torch::pickle_save, read by
/// torch.load, weights_only=True included). Other extensions are an error naming the path.
void write_weights(const std::string& path, const TensorDict& tensors);

}  // namespace attnzoo::checkpoint
