#include <attnzoo/modules/sequence_registry.h>

#include <attnzoo/modules/nat.h>

#include <stdexcept>

namespace attnzoo::modules {
namespace {

template <typename Holder>
SequenceAttention wrap(Holder m) {
  return {m.ptr(), [m](const at::Tensor& x, const at::Tensor& mask) mutable { return m(x, mask); }};
}

// One factory per module whose options are the shared settings.
template <typename Holder>
SequenceAttention from_shared(const SequenceAttentionSpec& s) {
  return wrap(Holder(s.options));
}

std::vector<SequenceAttentionEntry> make_entries() {
  return {
      {"softmax", "SoftmaxAttention1D: full softmax attention, O(L^2) (the LRA baseline)", from_shared<SoftmaxAttention1D>},
      {"neighborhood", "NeighborhoodAttention1D (NAT / DiNAT): kernel_size neighbours per query, dilation",
       [](const SequenceAttentionSpec& s) {
         const auto& o = s.options;
         return wrap(NeighborhoodAttention1D(
             NeighborhoodAttentionOptions(o.dim(), o.num_heads(), s.kernel_size).dilation(s.dilation)));
       }},
      {"block_local", "BlockLocalAttention1D (HaloNet): query blocks of `block`, keys +- `halo`",
       from_shared<BlockLocalAttention1D>},
      {"agent", "AgentAttention1D (Agent Attention): agent_num pooled agent tokens", from_shared<AgentAttention1D>},
      {"lka", "LKA1D (VAN): depthwise k5 -> dilated k7 -> 1x1 gate",
       [](const SequenceAttentionSpec& s) { return wrap(LKA1D(s.options.dim())); }},
      {"hilo", "HiLo1D (LITv2): alpha of the heads on window-pooled keys, the rest inside windows of `window`",
       from_shared<HiLo1D>},
      {"gpsa", "GPSA1D (ConViT): gated content + 1-D positional attention", from_shared<GPSA1D>},
      {"davit", "DaViT: window attention (block_local, halo 0) and ChannelGroupAttention1D, alternating by layer",
       [](const SequenceAttentionSpec& s) {
         if (s.layer % 2 == 0) return wrap(BlockLocalAttention1D(SequenceAttentionOptions(s.options).halo(0)));
         return wrap(ChannelGroupAttention1D(s.options));
       }},
      {"bra", "BiLevelRoutingAttention1D (BiFormer): regions of `block`, topk routed regions per region",
       from_shared<BiLevelRoutingAttention1D>},
  };
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
