// SGConv's entry in the sequence attention registry: GConv on (B, L, H) with a key padding mask, bidirectional,
// with the standalone README's kernel settings (kernel_dim 32, decay 2) and S4's GLU after the output linear.
#include <attnzoo/modules/sgconv.h>

#include <attnzoo/modules/sequence_registry.h>

namespace attnzoo::modules {

void register_sgconv_sequence_attentions(SequenceAttentionEntries& e) {
  e.push_back({"sgconv", "GConv (SGConv): bidirectional multi-scale decaying global convolution via FFT, O(L log L)",
               [](const SequenceAttentionSpec& s) {
                 return sequence_attention(GConv(GConvOptions(s.dim)
                                                     .l_max(s.max_len)
                                                     .bidirectional(true)
                                                     .transposed(false)
                                                     .kernel_dim(32)
                                                     .postact(GConvPostAct::GLU)));
               }});
}

}  // namespace attnzoo::modules
