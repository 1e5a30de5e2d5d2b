#include <attnzoo/modules/sequence_registry.h>

#include <stdexcept>

namespace attnzoo::modules {
namespace {

SequenceAttentionEntries make_entries() {
  SequenceAttentionEntries e;
  register_softmax_sequence_attentions(e);
  register_nat_sequence_attentions(e);
  register_halo_attn_sequence_attentions(e);
  register_agent_sequence_attentions(e);
  register_van_sequence_attentions(e);
  register_litv2_sequence_attentions(e);
  register_convit_sequence_attentions(e);
  register_davit_sequence_attentions(e);
  register_biformer_sequence_attentions(e);
  register_sigmoid_attn_sequence_attentions(e);
  register_lightning_attn_sequence_attentions(e);
  register_sgconv_sequence_attentions(e);
  register_unireplknet_sequence_attentions(e);
  register_moh_sequence_attentions(e);
  register_volo_sequence_attentions(e);
  return e;
}

}  // namespace

const std::vector<SequenceAttentionEntry>& sequence_attentions() {
  static const std::vector<SequenceAttentionEntry> entries = make_entries();
  return entries;
}

const SequenceAttentionEntry& find_sequence_attention(const std::string& name) {
  std::string known;
  for (const auto& e : sequence_attentions()) {
    if (e.name == name) return e;
    known += (known.empty() ? "" : ", ") + e.name;
  }
  throw std::invalid_argument("unknown attention '" + name + "' (" + known + ")");
}

}  // namespace attnzoo::modules
