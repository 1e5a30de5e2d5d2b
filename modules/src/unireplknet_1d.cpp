// UniRepLKNet's entry in the sequence attention registry: the DilatedReparamBlock along the sequence (kernel 13,
// the large kernel of the official stages) as a token mixer.
#include <attnzoo/modules/unireplknet.h>

#include <attnzoo/modules/sequence_registry.h>

namespace attnzoo::modules {

void register_unireplknet_sequence_attentions(SequenceAttentionEntries& e) {
  e.push_back({"replk", "DilatedReparamBlock1D (UniRepLKNet): depthwise kernel 13 + dilated branches, O(L)",
               [](const SequenceAttentionSpec& s) { return sequence_attention(DilatedReparamBlock1D(s.dim, 13)); }});
}

}  // namespace attnzoo::modules
