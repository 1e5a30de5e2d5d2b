#pragma once
// Raw CPU kernels of softmax attention, softmax(scale * q k^T + bias) v, for many small independent
// problems (window / head / agent attention: N, M of tens to a few hundred tokens). Private to
// attnzoo_modules; the autograd function and the dispatch live in fused_attention.cpp. Pointers are to
// contiguous data: q [L, N, d], k [L, M, d], v [L, M, dv], out / gout [L, N, dv], probs [L, N, M].
#include <cstdint>

namespace attnzoo::modules::kernels {

struct AttentionGeometry {
  int64_t L;      // independent problems (batch x heads x windows)
  int64_t N, M;   // queries, keys
  int64_t d, dv;  // query/key and value widths
};

/// bias (may be null): problem i adds the [N, M] matrix at bias + bias_offsets[i]. probs (may be null) receives
/// the softmax rows, which the backward needs.
template <typename T>
void attention_forward(const AttentionGeometry& g, const T* q, const T* k, const T* v, T scale, const T* bias,
                       const int64_t* bias_offsets, T* out, T* probs);

/// Overwrites gq, gk, gv; glogits (may be null) receives the gradient of the logits scale * q k^T + bias.
template <typename T>
void attention_backward(const AttentionGeometry& g, const T* q, const T* k, const T* v, T scale, const T* probs,
                        const T* gout, T* gq, T* gk, T* gv, T* glogits);

}  // namespace attnzoo::modules::kernels
