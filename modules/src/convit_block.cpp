#include <attnzoo/modules/convit_block.h>

#include "module_entry.h"

namespace attnzoo::modules {

namespace nn = torch::nn;

ConViTBlockImpl::ConViTBlockImpl(const ConViTBlockOptions& options_) : options(options_) { reset(); }

void ConViTBlockImpl::reset() {
  const int64_t C = options.dim();
  norm1 = register_module("norm1", nn::LayerNorm(nn::LayerNormOptions({C}).eps(options.norm_eps())));
  if (options.use_gpsa()) {
    gpsa = register_module("attn", GPSA(GPSAOptions(C, options.num_heads())
                                            .qkv_bias(options.qkv_bias())
                                            .qk_scale(options.qk_scale())
                                            .attn_drop(options.attn_drop())
                                            .proj_drop(options.drop())
                                            .locality_strength(options.locality_strength())));
  } else {
    mhsa = register_module("attn", MultiHeadSelfAttention(MultiHeadSelfAttentionOptions(C, options.num_heads())
                                                              .qkv_bias(options.qkv_bias())
                                                              .qk_scale(options.qk_scale())
                                                              .attn_drop(options.attn_drop())
                                                              .proj_drop(options.drop())));
  }
  drop_path = register_module("drop_path", DropPath(options.drop_path()));
  norm2 = register_module("norm2", nn::LayerNorm(nn::LayerNormOptions({C}).eps(options.norm_eps())));
  mlp = register_module("mlp", Mlp(MlpOptions(C).hidden_features(static_cast<int64_t>(C * options.mlp_ratio())).drop(options.drop())));
}

at::Tensor ConViTBlockImpl::forward(const at::Tensor& x) {
  const at::Tensor h = norm1(x);
  at::Tensor y = x + drop_path(gpsa ? gpsa(h) : mhsa(h));
  return y + drop_path(mlp(norm2(y)));
}

void register_convit_modules(ModuleEntries& e) {
  // The C++ constructors take num_heads, so it is required here (Python defaults it to 8).
  e.push_back(module_entry<GPSA>("convit", "GPSA", "attnzoo::modules::GPSA", "ConViT gated positional self-attention",
                                 GPSAOptions(0, 0)));
  e.push_back(module_entry<MultiHeadSelfAttention>("convit", "MHSA", "attnzoo::modules::MultiHeadSelfAttention",
                                                   "plain multi-head self-attention (ViT/ConViT)",
                                                   MultiHeadSelfAttentionOptions(0, 0)));
  e.push_back(module_entry<ConViTBlock>("convit", "Block", "attnzoo::modules::ConViTBlock",
                                        "ConViT block (pre-norm GPSA or MHSA + Mlp)", ConViTBlockOptions(0, 0)));
}

}  // namespace attnzoo::modules
