#include <attnzoo/modules/biformer_block.h>
#include <attnzoo/modules/depthwise.h>

#include <torch/torch.h>

#include "module_entry.h"

namespace attnzoo::modules {

namespace nn = torch::nn;

void DWConvNHWCImpl::reset() {
  dwconv = register_module("dwconv", nn::Conv2d(nn::Conv2dOptions(dim_, dim_, 3).padding(1).groups(dim_)));
}

at::Tensor DWConvNHWCImpl::forward(const at::Tensor& x) { return depthwise_conv2d(x.permute({0, 3, 1, 2}), *dwconv).permute({0, 2, 3, 1}); }

BiFormerBlockImpl::BiFormerBlockImpl(const BiFormerBlockOptions& options_) : options(options_) { reset(); }

void BiFormerBlockImpl::reset() {
  const auto& o = options;
  const int64_t C = o.dim();
  if (o.layer_scale_init_value() > 0) {
    gamma1 = register_parameter("gamma1", torch::full({C}, o.layer_scale_init_value()));
    gamma2 = register_parameter("gamma2", torch::full({C}, o.layer_scale_init_value()));
  }
  // The official padding is 1 whatever the kernel (only kernel 3 keeps the size).
  if (o.before_attn_dwconv() > 0)
    pos_embed = register_module("pos_embed", nn::Conv2d(nn::Conv2dOptions(C, C, o.before_attn_dwconv()).padding(1).groups(C)));
  norm1 = register_module("norm1", nn::LayerNorm(nn::LayerNormOptions({C}).eps(1e-6)));
  if (o.topk() > 0) {
    bra = register_module("attn", BiLevelRoutingAttention(BiLevelRoutingAttentionOptions(C)
                                                              .num_heads(o.num_heads())
                                                              .n_win(o.n_win())
                                                              .qk_dim(o.qk_dim())
                                                              .qk_scale(o.qk_scale())
                                                              .kv_per_win(o.kv_per_win())
                                                              .kv_downsample_ratio(o.kv_downsample_ratio())
                                                              .kv_downsample_mode(o.kv_downsample_mode())
                                                              .topk(o.topk())
                                                              .param_attention(o.param_attention())
                                                              .param_routing(o.param_routing())
                                                              .diff_routing(o.diff_routing())
                                                              .soft_routing(o.soft_routing())
                                                              .side_dwconv(o.side_dwconv())
                                                              .auto_pad(o.auto_pad())));
  } else if (o.topk() == -1) {
    plain = register_module("attn", MultiHeadSelfAttention(MultiHeadSelfAttentionOptions(C, 8)));
  } else if (o.topk() == -2) {
    attn_lepe = register_module("attn", AttentionLePE(AttentionLePEOptions(C).side_dwconv(o.side_dwconv())));
  } else if (o.topk() == 0) {
    // Rearrange, 1x1 "qkv", depthwise 5x5 "attention", 1x1 "out", Rearrange: keys attn.1/2/3.
    conv_stand_in = register_module("attn", nn::Sequential(nn::Identity(), nn::Conv2d(nn::Conv2dOptions(C, C, 1)),
                                                           nn::Conv2d(nn::Conv2dOptions(C, C, 5).padding(2).groups(C)),
                                                           nn::Conv2d(nn::Conv2dOptions(C, C, 1)), nn::Identity()));
  } else {
    TORCH_CHECK(false, "BiFormer Block: topk must be > 0, 0, -1 or -2, got ", o.topk());
  }
  norm2 = register_module("norm2", nn::LayerNorm(nn::LayerNormOptions({C}).eps(1e-6)));
  const int64_t hidden = static_cast<int64_t>(o.mlp_ratio() * C);
  nn::Sequential m;
  m->push_back(nn::Linear(C, hidden));
  if (o.mlp_dwconv()) m->push_back(DWConvNHWC(hidden));
  else if (o.mlp_dwconv_slot()) m->push_back(nn::Identity());
  m->push_back(nn::GELU());
  m->push_back(nn::Linear(hidden, C));
  mlp = register_module("mlp", m);
  drop_path = register_module("drop_path", DropPath(o.drop_path()));
}

at::Tensor BiFormerBlockImpl::attend(const at::Tensor& x) {
  if (bra) return bra(x);
  if (attn_lepe) return attn_lepe(x);
  if (plain) {
    const int64_t B = x.size(0), H = x.size(1), W = x.size(2), C = x.size(3);
    return plain(x.reshape({B, H * W, C})).reshape({B, H, W, C});
  }
  return conv_stand_in->forward(x.permute({0, 3, 1, 2})).permute({0, 2, 3, 1});
}

at::Tensor BiFormerBlockImpl::forward(const at::Tensor& x_nchw) {
  TORCH_CHECK(x_nchw.dim() == 4 && x_nchw.size(1) == options.dim(), "BiFormer Block: expected [N, ", options.dim(),
              ", H, W], got ", x_nchw.sizes());
  at::Tensor x = pos_embed ? x_nchw + depthwise_conv2d(x_nchw, *pos_embed) : x_nchw;
  x = x.permute({0, 2, 3, 1});
  auto scaled = [](const at::Tensor& g, const at::Tensor& t) { return g.defined() ? g * t : t; };
  if (options.pre_norm()) {
    x = x + drop_path(scaled(gamma1, attend(norm1(x))));
    x = x + drop_path(scaled(gamma2, mlp->forward(norm2(x))));
  } else {
    x = norm1(x + drop_path(scaled(gamma1, attend(x))));
    x = norm2(x + drop_path(scaled(gamma2, mlp->forward(x))));
  }
  return x.permute({0, 3, 1, 2});
}

void register_biformer_modules(ModuleEntries& e) {
  e.push_back(module_entry<BiLevelRoutingAttention>(
      "biformer", "BiLevelRoutingAttention", "attnzoo::modules::BiLevelRoutingAttention",
      "bi-level routing attention (NHWC): top-k window routing + token attention + LePE", BiLevelRoutingAttentionOptions(0)));
  e.push_back(module_entry<AttentionLePE>("biformer", "AttentionLePE", "attnzoo::modules::AttentionLePE",
                                          "global attention + LePE side branch (NHWC)", AttentionLePEOptions(0)));
  e.push_back(module_entry<BiFormerBlock>("biformer", "Block", "attnzoo::modules::BiFormerBlock",
                                          "BiFormer block (NCHW; attention chosen by topk)", BiFormerBlockOptions(0)));
}

}  // namespace attnzoo::modules
