#pragma once
// The sequence attentions by name (the `attention` argument of lra_encoder, `attnzoo list --attentions`):
// each entry builds one layer's attention from the encoder's width, heads and per-attention settings.
// Adding a 1-D attention is one entry here.
#include <attnzoo/modules/sequence.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace torch::nn {
class Module;
}

namespace attnzoo::modules {

/// What a factory gets: the shared settings (dim, heads, block, halo, agent_num, window, alpha, topk), the
/// neighborhood settings, and the layer's index (for designs that alternate two attentions).
struct SequenceAttentionSpec {
  SequenceAttentionOptions options{0, 0};
  int64_t kernel_size = 31;
  int64_t dilation = 1;
  int64_t layer = 0;
};

/// One layer's attention: the module (the caller registers it as "attn") and its forward(x [B, L, C],
/// key padding mask [B, L] or undefined).
struct SequenceAttention {
  std::shared_ptr<torch::nn::Module> module;
  std::function<at::Tensor(const at::Tensor& x, const at::Tensor& mask)> forward;
};

struct SequenceAttentionEntry {
  std::string name;         // "neighborhood"
  std::string description;  // one line: the module(s) and the settings it reads
  std::function<SequenceAttention(const SequenceAttentionSpec& spec)> build;
};

/// Every sequence attention, in listing order.
const std::vector<SequenceAttentionEntry>& sequence_attentions();
/// Throws std::invalid_argument listing the known names when `name` is unknown.
const SequenceAttentionEntry& find_sequence_attention(const std::string& name);

}  // namespace attnzoo::modules
