#pragma once
// Loading checkpoint files into zoo models (timm's load_checkpoint / load_pretrained rules).
#include <attnzoo/checkpoint/hub.h>
#include <attnzoo/checkpoint/state_dict.h>
#include <attnzoo/models/classifier.h>

#include <string>

namespace attnzoo::models {

struct LoadOptions {
  std::string checkpoint_key;  // explicit entry of the checkpoint dict; empty = timm's priority
  bool use_ema = false;        // prefer the EMA weights (state_dict_ema / model_ema) when the file has them
  bool strict = true;
  /// Drop the classifier weights when their shape differs from the model's (fine-tuning to new classes).
  bool drop_mismatched_head = false;
  /// Adapt the first conv when in_chans differs (timm adapt_input_conv: 1 channel = sum over RGB).
  bool adapt_input_conv = false;
};

/// Reads `path` (safetensors or torch.save) and loads it into `model`. Returns what was loaded
/// (report + where the weights were found). Throws std::runtime_error naming the file on mismatch.
checkpoint::LoadReport load_weights(ClassifierImpl& model, const std::string& path, const LoadOptions& options = {});

/// The same on an in-memory state dict (`what` names it in errors).
checkpoint::LoadReport load_weights(ClassifierImpl& model, checkpoint::TensorDict weights, const std::string& what,
                                    const LoadOptions& options = {});

/// The file of the weights the authors released for `variant` (its pretrained cfg's file name and URL),
/// found in checkpoint::weights_dirs() or, with `download`, fetched there (checkpoint::find_weights).
/// Throws std::invalid_argument when `variant` is not a registered variant or has no released weights.
std::string pretrained_weights(const std::string& variant, bool download,
                               const checkpoint::DownloadProgress& progress = {});

}  // namespace attnzoo::models
