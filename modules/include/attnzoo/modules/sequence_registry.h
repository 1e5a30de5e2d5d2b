#pragma once
// The sequence attentions by name (the `attention` argument of lra_encoder, `attnzoo list --attentions`):
// each entry builds one layer's attention from the encoder's settings. Each family registers its own
// entries beside its 1-D form (register_<family>_sequence_attentions); adding one is a line in
// sequence_registry.cpp.
#include <ATen/core/Tensor.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace torch::nn {
class Module;
}

namespace attnzoo::modules {

/// What a factory gets: the encoder's width and heads, the per-attention settings (each family reads its
/// own), and the layer's index (for designs that alternate two attentions).
struct SequenceAttentionSpec {
  int64_t dim = 0;
  int64_t num_heads = 0;
  int64_t block = 64;        // block_local, bra (region size)
  int64_t halo = 32;         // block_local
  int64_t agent_num = 64;    // agent
  int64_t window = 16;       // hilo
  double alpha = 0.5;        // hilo
  int64_t topk = 4;          // bra
  int64_t kernel_size = 31;  // neighborhood
  int64_t dilation = 1;      // neighborhood
  int64_t layer = 0;
  int64_t num_layers = 1;   // the encoder's depth (lightning: per-layer decay rates)
  int64_t max_len = 1024;   // the longest sequence, class token included (sgconv: its number of kernel scales)
};

/// One layer's attention: the module (the caller registers it as "attn") and its forward(x [B, L, C],
/// key padding mask [B, L] or undefined).
struct SequenceAttention {
  std::shared_ptr<torch::nn::Module> module;
  std::function<at::Tensor(const at::Tensor& x, const at::Tensor& mask)> forward;
};

/// A 1-D module holder as a SequenceAttention.
template <typename Holder>
SequenceAttention sequence_attention(Holder m) {
  return {m.ptr(), [m](const at::Tensor& x, const at::Tensor& mask) mutable { return m(x, mask); }};
}

struct SequenceAttentionEntry {
  std::string name;         // "neighborhood"
  std::string description;  // one line: the module(s) and the settings it reads
  std::function<SequenceAttention(const SequenceAttentionSpec& spec)> build;
};
using SequenceAttentionEntries = std::vector<SequenceAttentionEntry>;

/// Every sequence attention, in listing order.
const std::vector<SequenceAttentionEntry>& sequence_attentions();
/// Throws std::invalid_argument listing the known names when `name` is unknown.
const SequenceAttentionEntry& find_sequence_attention(const std::string& name);

// One per family, each beside its 1-D form.
void register_softmax_sequence_attentions(SequenceAttentionEntries& e);
void register_nat_sequence_attentions(SequenceAttentionEntries& e);
void register_halo_attn_sequence_attentions(SequenceAttentionEntries& e);
void register_agent_sequence_attentions(SequenceAttentionEntries& e);
void register_van_sequence_attentions(SequenceAttentionEntries& e);
void register_litv2_sequence_attentions(SequenceAttentionEntries& e);
void register_convit_sequence_attentions(SequenceAttentionEntries& e);
void register_davit_sequence_attentions(SequenceAttentionEntries& e);
void register_biformer_sequence_attentions(SequenceAttentionEntries& e);
void register_sigmoid_attn_sequence_attentions(SequenceAttentionEntries& e);
void register_lightning_attn_sequence_attentions(SequenceAttentionEntries& e);
void register_sgconv_sequence_attentions(SequenceAttentionEntries& e);
void register_unireplknet_sequence_attentions(SequenceAttentionEntries& e);
void register_moh_sequence_attentions(SequenceAttentionEntries& e);
void register_volo_sequence_attentions(SequenceAttentionEntries& e);

}  // namespace attnzoo::modules
