#pragma once
// Options of VOLO's modules (Yuan et al., "VOLO: Vision Outlooker for Visual Recognition", arXiv 2106.13112),
// official code sail-sg/volo models/volo.py (timm's volo.py has the same keys).
#include <attnzoo/core/args.h>
#include <attnzoo/modules/options/attention.h>

#include <torch/arg.h>

#include <cstdint>

namespace attnzoo::modules {

/// OutlookAttention on NHWC maps: v Linear, attention weights [k^2 x k^2] per head predicted from the
/// (stride-pooled) token by the `attn` Linear, softmax, weighted sum of the unfolded k x k window of v, folded
/// back (overlapping windows add up), proj. Keys v, attn, proj.
struct OutlookAttentionOptions {
  OutlookAttentionOptions(int64_t dim, int64_t num_heads) : dim_(dim), num_heads_(num_heads) {}
  TORCH_ARG(int64_t, dim);
  TORCH_ARG(int64_t, num_heads);
  TORCH_ARG(int64_t, kernel_size) = 3;
  TORCH_ARG(int64_t, padding) = 1;
  TORCH_ARG(int64_t, stride) = 1;
  TORCH_ARG(bool, qkv_bias) = false;
  TORCH_ARG(double, qk_scale) = 0.0;  // None: head_dim ** -0.5
  TORCH_ARG(double, attn_drop) = 0.0;
  TORCH_ARG(double, proj_drop) = 0.0;
};

template <class V>
void visit_args(OutlookAttentionOptions& o, V& v) {
  visit_attention_args(o, v);
  v.arg("kernel_size", o.kernel_size());
  v.arg("padding", o.padding());
  v.arg("stride", o.stride());
}

/// Outlooker: x + drop_path(OutlookAttention(norm1(x))), x + drop_path(Mlp(norm2(x))) on NHWC maps.
/// Keys norm1, attn.*, norm2, mlp.fc1, mlp.fc2.
struct OutlookerOptions {
  OutlookerOptions(int64_t dim, int64_t kernel_size, int64_t padding)
      : dim_(dim), kernel_size_(kernel_size), padding_(padding) {}
  TORCH_ARG(int64_t, dim);
  TORCH_ARG(int64_t, kernel_size);
  TORCH_ARG(int64_t, padding);
  TORCH_ARG(int64_t, stride) = 1;
  TORCH_ARG(int64_t, num_heads) = 1;
  TORCH_ARG(double, mlp_ratio) = 3.0;
  TORCH_ARG(double, attn_drop) = 0.0;
  TORCH_ARG(double, drop_path) = 0.0;
  TORCH_ARG(double, norm_eps) = 1e-5;
  TORCH_ARG(bool, qkv_bias) = false;
  TORCH_ARG(double, qk_scale) = 0.0;
};

template <class V>
void visit_args(OutlookerOptions& o, V& v) {
  v.required("dim", o.dim());
  v.required("kernel_size", o.kernel_size());
  v.required("padding", o.padding());
  v.arg("stride", o.stride());
  v.arg("num_heads", o.num_heads());
  v.arg("mlp_ratio", o.mlp_ratio());
  v.arg("attn_drop", o.attn_drop());
  v.arg("drop_path", o.drop_path());
  v.ignored("act_layer", "nn.GELU");
  v.norm_layer("norm_layer", o.norm_eps());
  v.arg("qkv_bias", o.qkv_bias());
  v.nullable("qk_scale", o.qk_scale(), 0.0);
}

/// VOLO's Transformer block on NHWC maps: global multi-head self-attention over the H*W tokens + Mlp.
/// Keys norm1, attn.qkv, attn.proj, norm2, mlp.fc1, mlp.fc2.
struct VOLOTransformerOptions {
  VOLOTransformerOptions(int64_t dim, int64_t num_heads) : dim_(dim), num_heads_(num_heads) {}
  TORCH_ARG(int64_t, dim);
  TORCH_ARG(int64_t, num_heads);
  TORCH_ARG(double, mlp_ratio) = 4.0;
  TORCH_ARG(bool, qkv_bias) = false;
  TORCH_ARG(double, qk_scale) = 0.0;
  TORCH_ARG(double, attn_drop) = 0.0;
  TORCH_ARG(double, drop_path) = 0.0;
  TORCH_ARG(double, norm_eps) = 1e-5;
};

template <class V>
void visit_args(VOLOTransformerOptions& o, V& v) {
  v.required("dim", o.dim());
  v.required("num_heads", o.num_heads());
  v.arg("mlp_ratio", o.mlp_ratio());
  v.arg("qkv_bias", o.qkv_bias());
  v.nullable("qk_scale", o.qk_scale(), 0.0);
  v.arg("attn_drop", o.attn_drop());
  v.arg("drop_path", o.drop_path());
  v.ignored("act_layer", "nn.GELU");
  v.norm_layer("norm_layer", o.norm_eps());
}

/// CaiT's class attention: the class token (token 0) attends to all tokens. Keys kv, q, proj.
struct ClassAttentionOptions {
  ClassAttentionOptions(int64_t dim, int64_t num_heads) : dim_(dim), num_heads_(num_heads) {}
  TORCH_ARG(int64_t, dim);
  TORCH_ARG(int64_t, num_heads);
  TORCH_ARG(int64_t, head_dim) = 0;  // None: dim / num_heads
  TORCH_ARG(bool, qkv_bias) = false;
  TORCH_ARG(double, qk_scale) = 0.0;
  TORCH_ARG(double, attn_drop) = 0.0;
  TORCH_ARG(double, proj_drop) = 0.0;
};

template <class V>
void visit_args(ClassAttentionOptions& o, V& v) {
  visit_attention_args(o, v);
  v.nullable("head_dim", o.head_dim(), int64_t{0});
}

/// CaiT's class block: only the class token is updated (attention over all tokens, then Mlp). Keys norm1,
/// attn.{kv, q, proj}, norm2, mlp.fc1, mlp.fc2.
struct ClassBlockOptions {
  ClassBlockOptions(int64_t dim, int64_t num_heads) : dim_(dim), num_heads_(num_heads) {}
  TORCH_ARG(int64_t, dim);
  TORCH_ARG(int64_t, num_heads);
  TORCH_ARG(int64_t, head_dim) = 0;
  TORCH_ARG(double, mlp_ratio) = 4.0;
  TORCH_ARG(bool, qkv_bias) = false;
  TORCH_ARG(double, qk_scale) = 0.0;
  TORCH_ARG(double, drop) = 0.0;
  TORCH_ARG(double, attn_drop) = 0.0;
  TORCH_ARG(double, drop_path) = 0.0;
  TORCH_ARG(double, norm_eps) = 1e-5;
};

template <class V>
void visit_args(ClassBlockOptions& o, V& v) {
  v.required("dim", o.dim());
  v.required("num_heads", o.num_heads());
  v.nullable("head_dim", o.head_dim(), int64_t{0});
  v.arg("mlp_ratio", o.mlp_ratio());
  v.arg("qkv_bias", o.qkv_bias());
  v.nullable("qk_scale", o.qk_scale(), 0.0);
  v.arg("drop", o.drop());
  v.arg("attn_drop", o.attn_drop());
  v.arg("drop_path", o.drop_path());
  v.ignored("act_layer", "nn.GELU");
  v.norm_layer("norm_layer", o.norm_eps());
}

/// attnzoo's 1-D form of outlook attention for sequences: each token predicts the k x k weights of its k-token
/// window (stride 1), overlapping windows add up (fold); padded tokens give no values and no windows. Keys v, attn,
/// proj.
struct OutlookAttention1DOptions {
  OutlookAttention1DOptions(int64_t dim, int64_t num_heads) : dim_(dim), num_heads_(num_heads) {}
  TORCH_ARG(int64_t, dim);
  TORCH_ARG(int64_t, num_heads);
  TORCH_ARG(int64_t, kernel_size) = 3;
  TORCH_ARG(bool, qkv_bias) = false;
};

template <class V>
void visit_args(OutlookAttention1DOptions& o, V& v) {
  v.required("dim", o.dim());
  v.required("num_heads", o.num_heads());
  v.arg("kernel_size", o.kernel_size());
  v.arg("qkv_bias", o.qkv_bias());
}

/// VOLO's patch embedding: optional stem (conv 7x7 stride stem_stride, two conv 3x3, each + BN + ReLU) then a
/// patch_size / stem_stride convolution. Keys conv.{0,1,3,4,6,7}.*, proj.
struct VOLOPatchEmbedOptions {
  TORCH_ARG(int64_t, img_size) = 224;
  TORCH_ARG(bool, stem_conv) = false;
  TORCH_ARG(int64_t, stem_stride) = 1;
  TORCH_ARG(int64_t, patch_size) = 8;
  TORCH_ARG(int64_t, in_chans) = 3;
  TORCH_ARG(int64_t, hidden_dim) = 64;
  TORCH_ARG(int64_t, embed_dim) = 384;
};

template <class V>
void visit_args(VOLOPatchEmbedOptions& o, V& v) {
  v.arg("img_size", o.img_size());
  v.arg("stem_conv", o.stem_conv());
  v.arg("stem_stride", o.stem_stride());
  v.arg("patch_size", o.patch_size());
  v.arg("in_chans", o.in_chans());
  v.arg("hidden_dim", o.hidden_dim());
  v.arg("embed_dim", o.embed_dim());
}

}  // namespace attnzoo::modules
