// Lightning attention's entry in the sequence attention registry: TnlAttention is a 1-D module already; in an
// encoder it runs bidirectionally, its decay rates set by the layer's depth as in the official stack.
#include <attnzoo/modules/lightning_attn.h>

#include <attnzoo/modules/sequence_registry.h>

#include <algorithm>

namespace attnzoo::modules {

void register_lightning_attn_sequence_attentions(SequenceAttentionEntries& e) {
  e.push_back({"lightning", "TnlAttention: decayed linear attention (Lightning Attention-2 blocks, bidirectional), O(n d^2)",
               [](const SequenceAttentionSpec& s) {
                 return sequence_attention(TnlAttention(TnlAttentionOptions(s.dim, s.num_heads)
                                                            .causal(false)
                                                            .layer_idx(s.layer)
                                                            .num_layers(std::max<int64_t>(s.num_layers, s.layer + 1))));
               }});
}

}  // namespace attnzoo::modules
