#include <attnzoo/modules/module_registry.h>

#include <attnzoo/modules/agent_attention.h>
#include <attnzoo/modules/cswin_attention.h>
#include <attnzoo/modules/args.h>
#include <attnzoo/modules/biformer_block.h>
#include <attnzoo/modules/bra_nchw.h>
#include <attnzoo/modules/byob_blocks.h>
#include <attnzoo/modules/convit_block.h>
#include <attnzoo/modules/davit.h>
#include <attnzoo/modules/hilo.h>

#include <cmath>
#include <attnzoo/modules/lka.h>
#include <attnzoo/modules/neighborhood.h>

#include <stdexcept>

namespace attnzoo::modules {
namespace {

// Wraps a module with a single NCHW/NLC tensor input and output.
template <typename Holder>
BuiltModule unary(Holder m) {
  BuiltModule b;
  b.module = m.ptr();
  b.forward = [m](const std::vector<at::Tensor>& in, const nlohmann::json&) mutable {
    TORCH_CHECK(in.size() == 1, "module takes one input tensor, got ", in.size());
    return std::vector<at::Tensor>{m->forward(in[0])};
  };
  return b;
}

// Wraps a block taking tokens and the map size: extra {"size": [H, W]}.
template <typename Holder>
BuiltModule sized(Holder m) {
  BuiltModule b;
  b.module = m.ptr();
  b.forward = [m](const std::vector<at::Tensor>& in, const nlohmann::json& extra) mutable {
    TORCH_CHECK(in.size() == 1, "module takes one input tensor, got ", in.size());
    if (!extra.contains("size")) throw std::invalid_argument("this block needs the map size: extra {\"size\": [H, W]}");
    const auto s = extra.at("size").get<std::vector<int64_t>>();
    TORCH_CHECK(s.size() == 2, "size must be [H, W]");
    return std::vector<at::Tensor>{m->forward(in[0], {s[0], s[1]})};
  };
  return b;
}

DaViTBlockOptions davit_block_options(ArgReader& a) {
  DaViTBlockOptions o(a.get<int64_t>("dim"), a.get<int64_t>("num_heads"));
  o.window_size(a.get<int64_t>("window_size", 7))
      .mlp_ratio(a.get<double>("mlp_ratio", 4.0))
      .drop_path(a.get<double>("drop_path", 0.0))
      .ffn(a.get<bool>("ffn", true));
  a.ignore("act_layer");
  a.ignore("norm_layer");
  return o;
}

// Token modules on an H x W map: extra {"H", "W"}, else the square side sqrt(N) (the official
// classification code's assumption).
template <typename Holder>
BuiltModule on_map(Holder m, int64_t fixed_h = 0, int64_t fixed_w = 0) {
  BuiltModule b;
  b.module = m.ptr();
  b.forward = [m, fixed_h, fixed_w](const std::vector<at::Tensor>& in, const nlohmann::json& extra) mutable {
    TORCH_CHECK(in.size() == 1, "module takes one input tensor, got ", in.size());
    int64_t H = fixed_h, W = fixed_w;
    if (extra.contains("H")) {
      H = extra.at("H").get<int64_t>();
      W = extra.at("W").get<int64_t>();
    } else if (H == 0) {
      H = W = static_cast<int64_t>(std::llround(std::sqrt(static_cast<double>(in[0].size(1)))));
    }
    return std::vector<at::Tensor>{m->forward(in[0], H, W)};
  };
  return b;
}

std::vector<ModuleEntry> make_entries() {
  std::vector<ModuleEntry> e;
  e.push_back({"van", "LKA", "attnzoo::modules::LKA", "Large Kernel Attention (depthwise 5x5 + dilated 7x7 + 1x1 gate)",
               [](const nlohmann::json& c) {
                 ArgReader a(c, "van.LKA");
                 LKAOptions o(a.get<int64_t>("dim"));
                 a.finish();
                 return unary(LKA(o));
               }});
  e.push_back({"van", "Attention", "attnzoo::modules::LKAAttention",
               "VAN spatial attention: proj_1 -> GELU -> LKA -> proj_2 + shortcut", [](const nlohmann::json& c) {
                 ArgReader a(c, "van.Attention");
                 LKAAttentionOptions o(a.get<int64_t>("d_model"));
                 a.finish();
                 return unary(LKAAttention(o));
               }});
  e.push_back({"van", "Block", "attnzoo::modules::VANBlock", "VAN block (BN, LKA attention, conv MLP, layer scale)",
               [](const nlohmann::json& c) {
                 ArgReader a(c, "van.Block");
                 VANBlockOptions o(a.get<int64_t>("dim"));
                 o.mlp_ratio(a.get<double>("mlp_ratio", 4.0))
                     .drop(a.get<double>("drop", 0.0))
                     .drop_path(a.get<double>("drop_path", 0.0));
                 a.ignore("act_layer");
                 a.finish();
                 return unary(VANBlock(o));
               }});
  e.push_back({"convit", "GPSA", "attnzoo::modules::GPSA", "ConViT gated positional self-attention", [](const nlohmann::json& c) {
                 ArgReader a(c, "convit.GPSA");
                 GPSAOptions o(a.get<int64_t>("dim"), a.get<int64_t>("num_heads", 8));
                 o.qkv_bias(a.get<bool>("qkv_bias", false))
                     .qk_scale(a.get<double>("qk_scale", 0.0))
                     .attn_drop(a.get<double>("attn_drop", 0.0))
                     .proj_drop(a.get<double>("proj_drop", 0.0))
                     .locality_strength(a.get<double>("locality_strength", 1.0))
                     .use_local_init(a.get<bool>("use_local_init", true));
                 a.finish();
                 return unary(GPSA(o));
               }});
  e.push_back({"convit", "MHSA", "attnzoo::modules::MultiHeadSelfAttention", "plain multi-head self-attention (ViT/ConViT)",
               [](const nlohmann::json& c) {
                 ArgReader a(c, "convit.MHSA");
                 MultiHeadSelfAttentionOptions o(a.get<int64_t>("dim"), a.get<int64_t>("num_heads", 8));
                 o.qkv_bias(a.get<bool>("qkv_bias", false))
                     .qk_scale(a.get<double>("qk_scale", 0.0))
                     .attn_drop(a.get<double>("attn_drop", 0.0))
                     .proj_drop(a.get<double>("proj_drop", 0.0));
                 a.finish();
                 return unary(MultiHeadSelfAttention(o));
               }});
  e.push_back({"convit", "Block", "attnzoo::modules::ConViTBlock", "ConViT block (pre-norm GPSA or MHSA + Mlp)",
               [](const nlohmann::json& c) {
                 ArgReader a(c, "convit.Block");
                 ConViTBlockOptions o(a.get<int64_t>("dim"), a.get<int64_t>("num_heads"));
                 o.mlp_ratio(a.get<double>("mlp_ratio", 4.0))
                     .qkv_bias(a.get<bool>("qkv_bias", false))
                     .qk_scale(a.get<double>("qk_scale", 0.0))
                     .drop(a.get<double>("drop", 0.0))
                     .attn_drop(a.get<double>("attn_drop", 0.0))
                     .drop_path(a.get<double>("drop_path", 0.0))
                     .use_gpsa(a.get<bool>("use_gpsa", true))
                     .locality_strength(a.get<double>("locality_strength", 1.0))
                     .norm_eps(layer_norm_eps(a.get<std::string>("norm_layer", "nn.LayerNorm"), "convit.Block"));
                 a.ignore("act_layer");
                 a.finish();
                 return unary(ConViTBlock(o));
               }});
  e.push_back({"biformer", "BiLevelRoutingAttention", "attnzoo::modules::BiLevelRoutingAttention",
               "bi-level routing attention (NHWC): top-k window routing + token attention + LePE", [](const nlohmann::json& c) {
                 ArgReader a(c, "biformer.BiLevelRoutingAttention");
                 BiLevelRoutingAttentionOptions o(a.get<int64_t>("dim"));
                 o.num_heads(a.get<int64_t>("num_heads", 8))
                     .n_win(a.get<int64_t>("n_win", 7))
                     .qk_dim(a.get<int64_t>("qk_dim", 0))
                     .qk_scale(a.get<double>("qk_scale", 0.0))
                     .kv_per_win(a.get<int64_t>("kv_per_win", 4))
                     .kv_downsample_ratio(a.get<int64_t>("kv_downsample_ratio", 4))
                     .kv_downsample_mode(a.get<std::string>("kv_downsample_mode", "identity"))
                     .topk(a.get<int64_t>("topk", 4))
                     .param_attention(a.get<std::string>("param_attention", "qkvo"))
                     .param_routing(a.get<bool>("param_routing", false))
                     .diff_routing(a.get<bool>("diff_routing", false))
                     .soft_routing(a.get<bool>("soft_routing", false))
                     .side_dwconv(a.get<int64_t>("side_dwconv", 3))
                     .auto_pad(a.get<bool>("auto_pad", false));
                 a.ignore("kv_downsample_kernel");
                 a.finish();
                 return unary(BiLevelRoutingAttention(o));
               }});
  e.push_back({"biformer", "AttentionLePE", "attnzoo::modules::AttentionLePE", "global attention + LePE side branch (NHWC)",
               [](const nlohmann::json& c) {
                 ArgReader a(c, "biformer.AttentionLePE");
                 AttentionLePEOptions o(a.get<int64_t>("dim"));
                 o.num_heads(a.get<int64_t>("num_heads", 8))
                     .qkv_bias(a.get<bool>("qkv_bias", false))
                     .qk_scale(a.get<double>("qk_scale", 0.0))
                     .side_dwconv(a.get<int64_t>("side_dwconv", 5));
                 a.finish();
                 return unary(AttentionLePE(o));
               }});
  e.push_back({"biformer", "Block", "attnzoo::modules::BiFormerBlock", "BiFormer block (NCHW; attention chosen by topk)",
               [](const nlohmann::json& c) {
                 ArgReader a(c, "biformer.Block");
                 BiFormerBlockOptions o(a.get<int64_t>("dim"));
                 o.drop_path(a.get<double>("drop_path", 0.0))
                     .layer_scale_init_value(a.get<double>("layer_scale_init_value", -1))
                     .num_heads(a.get<int64_t>("num_heads", 8))
                     .n_win(a.get<int64_t>("n_win", 7))
                     .qk_dim(a.get<int64_t>("qk_dim", 0))
                     .qk_scale(a.get<double>("qk_scale", 0.0))
                     .kv_per_win(a.get<int64_t>("kv_per_win", 4))
                     .kv_downsample_ratio(a.get<int64_t>("kv_downsample_ratio", 4))
                     .kv_downsample_mode(a.get<std::string>("kv_downsample_mode", "ada_avgpool"))
                     .topk(a.get<int64_t>("topk", 4))
                     .param_attention(a.get<std::string>("param_attention", "qkvo"))
                     .param_routing(a.get<bool>("param_routing", false))
                     .diff_routing(a.get<bool>("diff_routing", false))
                     .soft_routing(a.get<bool>("soft_routing", false))
                     .mlp_ratio(a.get<double>("mlp_ratio", 4.0))
                     .mlp_dwconv(a.get<bool>("mlp_dwconv", false))
                     .side_dwconv(a.get<int64_t>("side_dwconv", 5))
                     .before_attn_dwconv(a.get<int64_t>("before_attn_dwconv", 3))
                     .pre_norm(a.get<bool>("pre_norm", true))
                     .auto_pad(a.get<bool>("auto_pad", false));
                 a.ignore("kv_downsample_kernel");
                 a.finish();
                 return unary(BiFormerBlock(o));
               }});
  e.push_back({"biformer_stl_nchw", "nchwBRA", "attnzoo::modules::NchwBRA",
               "refactored NCHW bi-level routing attention (ops/bra_nchw.py; auto-pads to whole regions)",
               [](const nlohmann::json& c) {
                 ArgReader a(c, "biformer_stl_nchw.nchwBRA");
                 NchwBRAOptions o(a.get<int64_t>("dim"));
                 o.num_heads(a.get("num_heads", o.num_heads()))
                     .n_win(a.get("n_win", o.n_win()))
                     .qk_scale(a.get("qk_scale", o.qk_scale()))
                     .topk(a.get("topk", o.topk()))
                     .side_dwconv(a.get("side_dwconv", o.side_dwconv()));
                 a.ignore("auto_pad");  // accepted and unused by the official forward (it always pads)
                 if (a.get<std::string>("attn_backend", "torch") != "torch")
                   throw std::invalid_argument("biformer_stl_nchw.nchwBRA: attn_backend must be 'torch'");
                 a.finish();
                 return unary(NchwBRA(o));
               }});
  e.push_back({"biformer_stl_nchw", "nchwAttentionLePE", "attnzoo::modules::NchwAttentionLePE",
               "global attention + LePE on NCHW input", [](const nlohmann::json& c) {
                 ArgReader a(c, "biformer_stl_nchw.nchwAttentionLePE");
                 NchwAttentionLePEOptions o(a.get<int64_t>("dim"));
                 o.num_heads(a.get("num_heads", o.num_heads()))
                     .qkv_bias(a.get("qkv_bias", o.qkv_bias()))
                     .qk_scale(a.get("qk_scale", o.qk_scale()))
                     .side_dwconv(a.get("side_dwconv", o.side_dwconv()));
                 a.ignore("attn_drop");
                 a.ignore("proj_drop");
                 a.finish();
                 return unary(NchwAttentionLePE(o));
               }});
  e.push_back({"biformer_stl_nchw", "BiFormerBlock", "attnzoo::modules::NchwBiFormerBlock",
               "biformer_stl_nchw block (LayerNorm2d, nchwBRA or global attention, 1x1-conv MLP)",
               [](const nlohmann::json& c) {
                 ArgReader a(c, "biformer_stl_nchw.BiFormerBlock");
                 NchwBiFormerBlockOptions o(a.get<int64_t>("dim"));
                 o.drop_path(a.get("drop_path", o.drop_path()))
                     .num_heads(a.get("num_heads", o.num_heads()))
                     .n_win(a.get("n_win", o.n_win()))
                     .qk_scale(a.get("qk_scale", o.qk_scale()))
                     .topk(a.get("topk", o.topk()))
                     .mlp_ratio(a.get("mlp_ratio", o.mlp_ratio()))
                     .side_dwconv(a.get("side_dwconv", o.side_dwconv()));
                 a.ignore("norm_layer");
                 a.finish();
                 return unary(NchwBiFormerBlock(o));
               }});
  e.push_back({"davit", "WindowAttention", "attnzoo::modules::MultiHeadSelfAttention",
               "DaViT window attention on pre-partitioned windows [B*nW, ws*ws, C]", [](const nlohmann::json& c) {
                 ArgReader a(c, "davit.WindowAttention");
                 MultiHeadSelfAttentionOptions o(a.get<int64_t>("dim"), a.get<int64_t>("num_heads"));
                 o.qkv_bias(a.get<bool>("qkv_bias", true));
                 a.ignore("window_size");  // the module sees whole windows; size only matters to the block
                 a.finish();
                 return unary(MultiHeadSelfAttention(o));
               }});
  e.push_back({"davit", "ChannelAttention", "attnzoo::modules::ChannelAttention", "DaViT channel group attention",
               [](const nlohmann::json& c) {
                 ArgReader a(c, "davit.ChannelAttention");
                 ChannelAttention m(a.get<int64_t>("dim"), a.get<int64_t>("num_heads", 8), a.get<bool>("qkv_bias", false));
                 a.finish();
                 return unary(m);
               }});
  e.push_back({"davit", "SpatialBlock", "attnzoo::modules::DaViTSpatialBlock", "DaViT spatial-window block (tokens + size)",
               [](const nlohmann::json& c) {
                 ArgReader a(c, "davit.SpatialBlock");
                 auto o = davit_block_options(a).qkv_bias(a.get<bool>("qkv_bias", true));
                 a.finish();
                 return sized(DaViTSpatialBlock(o));
               }});
  e.push_back({"davit", "ChannelBlock", "attnzoo::modules::DaViTChannelBlock", "DaViT channel-group block (tokens + size)",
               [](const nlohmann::json& c) {
                 ArgReader a(c, "davit.ChannelBlock");
                 auto o = davit_block_options(a).qkv_bias(a.get<bool>("qkv_bias", false));
                 a.finish();
                 return sized(DaViTChannelBlock(o));
               }});
  e.push_back({"hilo", "HiLo", "attnzoo::modules::HiLo", "LITv2 HiLo attention (Lo-Fi pooled heads + Hi-Fi window heads)",
               [](const nlohmann::json& c) {
                 ArgReader a(c, "hilo.HiLo");
                 HiLoOptions o(a.get<int64_t>("dim"));
                 o.num_heads(a.get<int64_t>("num_heads", 8))
                     .qkv_bias(a.get<bool>("qkv_bias", false))
                     .qk_scale(a.get<double>("qk_scale", 0.0))
                     .window_size(a.get<int64_t>("window_size", 2))
                     .alpha(a.get<double>("alpha", 0.5));
                 a.ignore("attn_drop");
                 a.ignore("proj_drop");
                 a.finish();
                 return on_map(HiLo(o));
               }});
  e.push_back({"hilo", "Block", "attnzoo::modules::LITBlock", "LITv2 block (HiLo + DWMlp; ConvFFN without attention)",
               [](const nlohmann::json& c) {
                 ArgReader a(c, "hilo.Block");
                 LITBlockOptions o(a.get<int64_t>("dim"), a.get<int64_t>("num_heads"));
                 o.mlp_ratio(a.get<double>("mlp_ratio", 4.0))
                     .qkv_bias(a.get<bool>("qkv_bias", true))
                     .qk_scale(a.get<double>("qk_scale", 0.0))
                     .drop_path(a.get<double>("drop_path", 0.0))
                     .local_ws(a.get<int64_t>("local_ws", 1))
                     .alpha(a.get<double>("alpha", 0.5));
                 const auto res = a.get<std::vector<int64_t>>("input_resolution");
                 for (const char* k : {"drop", "attn_drop", "norm_layer", "act_layer"}) a.ignore(k);
                 a.finish();
                 return on_map(LITBlock(o), res.at(0), res.at(1));
               }});
  e.push_back({"hilo", "DTM", "attnzoo::modules::DTM", "LITv2 deformable token merging (deform conv 2x2/2 + BN + GELU)",
               [](const nlohmann::json& c) {
                 ArgReader a(c, "hilo.DTM");
                 const auto res = a.get<std::vector<int64_t>>("input_resolution");
                 DTM m(a.get<int64_t>("dim"));
                 a.ignore("norm_layer");
                 a.finish();
                 return on_map(m, res.at(0), res.at(1));
               }});

  // NAT / DiNAT: natten 0.14 module arguments.
  auto na_options = [](ArgReader& a) {
    NeighborhoodAttentionOptions o(a.get<int64_t>("dim"), a.get<int64_t>("num_heads"), a.get<int64_t>("kernel_size"));
    o.dilation(a.get<int64_t>("dilation", 1))
        .bias(a.get("bias", o.bias()))
        .qkv_bias(a.get("qkv_bias", o.qkv_bias()))
        .qk_scale(a.get("qk_scale", 0.0))
        .attn_drop(a.get("attn_drop", 0.0))
        .proj_drop(a.get("proj_drop", 0.0));
    return o;
  };
  e.push_back({"nat", "NeighborhoodAttention2D", "attnzoo::modules::NeighborhoodAttention2D",
               "(dilated) 2-D neighborhood attention, NATTEN semantics, own kernels (channels-last)",
               [na_options](const nlohmann::json& c) {
                 ArgReader a(c, "nat.NeighborhoodAttention2D");
                 auto o = na_options(a);
                 a.finish();
                 return unary(NeighborhoodAttention2D(o));
               }});
  e.push_back({"nat", "NeighborhoodAttention1D", "attnzoo::modules::NeighborhoodAttention1D",
               "(dilated, optionally causal) 1-D neighborhood attention [B, L, C]", [na_options](const nlohmann::json& c) {
                 ArgReader a(c, "nat.NeighborhoodAttention1D");
                 auto o = na_options(a);
                 o.causal(a.get("causal", false));
                 a.finish();
                 return unary(NeighborhoodAttention1D(o));
               }});
  // Agent Attention: one module, three official flavours (files).
  e.push_back({"agent_deit", "AgentAttention", "attnzoo::modules::AgentAttention",
               "agent attention on [B, 1 + window^2, C] tokens with a class token (Agent-DeiT)",
               [](const nlohmann::json& c) {
                 ArgReader a(c, "agent_deit.AgentAttention");
                 AgentAttentionOptions o(a.get<int64_t>("dim"), a.get<int64_t>("num_heads", 8));
                 o.flavour("deit")
                     .qkv_bias(a.get("qkv_bias", false))
                     .agent_num(a.get<int64_t>("agent_num", 49))
                     .window(a.get<int64_t>("window", 14))
                     .attn_drop(a.get("attn_drop", 0.0))
                     .proj_drop(a.get("proj_drop", 0.0));
                 a.finish();
                 return unary(AgentAttention(o));
               }});
  e.push_back({"agent_pvt", "AgentAttention", "attnzoo::modules::AgentAttention",
               "agent attention on a square token map with optional spatial reduction (Agent-PVT; extra {H, W})",
               [](const nlohmann::json& c) {
                 ArgReader a(c, "agent_pvt.AgentAttention");
                 AgentAttentionOptions o(a.get<int64_t>("dim"), a.get<int64_t>("num_heads", 8));
                 const auto np = a.get<int64_t>("num_patches");
                 o.flavour("pvt")
                     .qkv_bias(a.get("qkv_bias", false))
                     .agent_num(a.get<int64_t>("agent_num", 49))
                     .window(static_cast<int64_t>(std::sqrt(static_cast<double>(np)) + 1e-9))
                     .sr_ratio(a.get<int64_t>("sr_ratio", 1))
                     .attn_drop(a.get("attn_drop", 0.0))
                     .proj_drop(a.get("proj_drop", 0.0));
                 a.ignore("qk_scale");  // unused by the official agent attention
                 a.finish();
                 AgentAttention m(o);
                 BuiltModule b;
                 b.module = m.ptr();
                 b.forward = [m](const std::vector<at::Tensor>& in, const nlohmann::json& extra) mutable {
                   TORCH_CHECK(in.size() == 1, "module takes one input tensor, got ", in.size());
                   return std::vector<at::Tensor>{m->forward(in[0], extra.value("H", int64_t{0}), extra.value("W", int64_t{0}))};
                 };
                 return b;
               }});
  e.push_back({"agent_swin", "AgentAttention", "attnzoo::modules::AgentAttention",
               "agent attention inside windows [num_windows * B, ws * ws, C] (Agent-Swin)", [](const nlohmann::json& c) {
                 ArgReader a(c, "agent_swin.AgentAttention");
                 AgentAttentionOptions o(a.get<int64_t>("dim"), a.get<int64_t>("num_heads", 8));
                 const auto ws = a.get<std::vector<int64_t>>("window_size");
                 if (ws.size() != 2 || ws[0] != ws[1]) throw std::invalid_argument("agent_swin.AgentAttention: square window_size [w, w] expected");
                 o.flavour("swin")
                     .qkv_bias(a.get("qkv_bias", true))
                     .agent_num(a.get<int64_t>("agent_num", 49))
                     .window(ws[0])
                     .attn_drop(a.get("attn_drop", 0.0))
                     .proj_drop(a.get("proj_drop", 0.0));
                 a.ignore("qk_scale");
                 a.ignore("shift_size");  // accepted and unused by the official module
                 a.finish();
                 return unary(AgentAttention(o));
               }});
  // Agent-CSWin stripes: the official forward takes the block's stacked qkv [3, B, H*W, dim].
  auto cswin_entry = [&e](const char* official, const char* cpp, const char* desc, bool agent) {
    e.push_back({"agent_cswin", official, cpp, desc, [official, agent](const nlohmann::json& c) {
                   const std::string owner = std::string("agent_cswin.") + official;
                   ArgReader a(c, owner);
                   CSWinAttentionOptions o(a.get<int64_t>("dim"), a.get<int64_t>("resolution"), a.get<int64_t>("idx"),
                                           a.get<int64_t>("split_size", 7), a.get<int64_t>("num_heads", 8));
                   o.attn_drop(a.get("attn_drop", 0.0));
                   if (agent) o.agent_num(a.get<int64_t>("agent_num", 49));
                   const auto dim_out = a.get<nlohmann::json>("dim_out", nullptr);
                   if (!dim_out.is_null() && dim_out.get<int64_t>() != o.dim())
                     throw std::invalid_argument(owner + ": dim_out must equal dim");
                   a.ignore("proj_drop");  // accepted and unused by the official modules
                   a.ignore("qk_scale");   // LePE: None in every official use; Agent: accepted via **kwargs
                   a.finish();
                   std::shared_ptr<torch::nn::Module> mod;
                   std::function<at::Tensor(const at::Tensor&, const at::Tensor&, const at::Tensor&)> fwd;
                   if (agent) {
                     CSWinAgentAttention m(o);
                     mod = m.ptr();
                     fwd = [m](const at::Tensor& q, const at::Tensor& k, const at::Tensor& v) mutable { return m(q, k, v); };
                   } else {
                     CSWinLePEAttention m(o);
                     mod = m.ptr();
                     fwd = [m](const at::Tensor& q, const at::Tensor& k, const at::Tensor& v) mutable { return m(q, k, v); };
                   }
                   BuiltModule b;
                   b.module = mod;
                   b.forward = [fwd, owner](const std::vector<at::Tensor>& in, const nlohmann::json&) {
                     TORCH_CHECK(in.size() == 1 && in[0].dim() == 4 && in[0].size(0) == 3, owner,
                                 " takes one tensor qkv [3, B, H*W, dim]");
                     return std::vector<at::Tensor>{fwd(in[0][0], in[0][1], in[0][2])};
                   };
                   return b;
                 }});
  };
  cswin_entry("LePEAttention", "attnzoo::modules::CSWinLePEAttention",
              "CSWin stripe attention with LePE on qkv [3, B, H*W, dim] (Agent-CSWin 'B' blocks)", false);
  cswin_entry("AgentAttention", "attnzoo::modules::CSWinAgentAttention",
              "agent attention inside CSWin stripes + LePE on qkv [3, B, H*W, dim] (Agent-CSWin 'A' blocks)", true);
  // HaloNet / timm byoanet: attention layers take timm's keyword arguments (dim and stride explicit).
  auto self_attn_entry = [&e](const char* official, const char* layer, const char* cpp, const char* desc) {
    e.push_back({"halonet", official, cpp, desc, [official, layer](const nlohmann::json& c) {
                   nlohmann::json kw = c;
                   const std::string owner = std::string("halonet.") + official;
                   if (!kw.is_object() || !kw.contains("dim")) throw std::invalid_argument(owner + ": missing required argument 'dim'");
                   const auto dim = kw.at("dim").get<int64_t>();
                   const auto stride = kw.value("stride", int64_t{1});
                   kw.erase("dim");
                   kw.erase("stride");
                   std::vector<int64_t> feat;
                   if (kw.contains("feat_size") && !kw.at("feat_size").is_null()) {
                     const auto& f = kw.at("feat_size");
                     feat = f.is_array() ? f.get<std::vector<int64_t>>() : std::vector<int64_t>{f.get<int64_t>(), f.get<int64_t>()};
                   }
                   torch::nn::AnyModule m = make_self_attn(layer, kw, dim, stride, feat);
                   BuiltModule b;
                   b.module = m.ptr();
                   b.forward = [m](const std::vector<at::Tensor>& in, const nlohmann::json&) mutable {
                     TORCH_CHECK(in.size() == 1, "module takes one input tensor, got ", in.size());
                     return std::vector<at::Tensor>{m.forward(in[0])};
                   };
                   return b;
                 }});
  };
  self_attn_entry("HaloAttn", "halo", "attnzoo::modules::HaloAttention",
                  "halo attention: blocked local self-attention with halo windows + relative logits (NCHW)");
  self_attn_entry("BottleneckAttn", "bottleneck", "attnzoo::modules::BottleneckAttention",
                  "BoTNet global self-attention with relative logits over a fixed feat_size (NCHW)");
  self_attn_entry("LambdaLayer", "lambda", "attnzoo::modules::LambdaLayer",
                  "LambdaNetworks lambda layer (content + local positional lambdas, NCHW)");
  auto block_entry = [&e](const char* official, const char* type, const char* cpp, const char* desc) {
    e.push_back({"halonet", official, cpp, desc, [official, type](const nlohmann::json& c) {
                   ArgReader a(c, std::string("halonet.") + official);
                   ByobBlockOptions o(a.get<int64_t>("in_chs"), a.get<int64_t>("out_chs"));
                   o.kernel_size(a.get("kernel_size", o.kernel_size()))
                       .stride(a.get("stride", o.stride()))
                       .group_size(a.get("group_size", o.group_size()))
                       .bottle_ratio(a.get("bottle_ratio", o.bottle_ratio()))
                       .downsample(a.get<std::string>("downsample", "avg"))
                       .attn_last(a.get("attn_last", std::string(type) == "basic"))
                       .linear_out(a.get("linear_out", o.linear_out()))
                       .extra_conv(a.get("extra_conv", o.extra_conv()))
                       .bottle_in(a.get("bottle_in", o.bottle_in()))
                       .post_attn_na(a.get("post_attn_na", o.post_attn_na()))
                       .feat_size(a.get("feat_size", o.feat_size()))
                       .drop_path_rate(a.get("drop_path_rate", o.drop_path_rate()));
                   // layer_cfg: the ByoModelCfg fields timm's get_layer_fns reads.
                   const nlohmann::json layer_cfg = a.get<nlohmann::json>("layer_cfg", nlohmann::json::object());
                   ArgReader l(layer_cfg, "layer_cfg");  // ArgReader keeps a reference: no temporaries
                   ByobLayers layers;
                   layers.act_layer = l.get<std::string>("act_layer", "relu");
                   if (l.get<std::string>("norm_layer", "batchnorm") != "batchnorm")
                     throw std::invalid_argument("layer_cfg: only norm_layer 'batchnorm' is supported");
                   layers.attn_layer = l.get<std::string>("attn_layer", "");
                   layers.attn_kwargs = l.get<nlohmann::json>("attn_kwargs", nlohmann::json::object());
                   layers.self_attn_layer = l.get<std::string>("self_attn_layer", "");
                   layers.self_attn_kwargs = l.get<nlohmann::json>("self_attn_kwargs", nlohmann::json::object());
                   l.finish();
                   o.layers(layers);
                   a.finish();
                   auto block = make_byob_block(type, o);
                   BuiltModule b;
                   b.module = block;
                   b.forward = [block](const std::vector<at::Tensor>& in, const nlohmann::json&) {
                     TORCH_CHECK(in.size() == 1, "module takes one input tensor, got ", in.size());
                     return std::vector<at::Tensor>{block->forward(in[0])};
                   };
                   return b;
                 }});
  };
  block_entry("SelfAttnBlock", "self_attn", "attnzoo::modules::SelfAttnBlock",
              "ByobNet self-attention bottleneck: 1x1 -> self-attn -> BN+act -> 1x1 + shortcut");
  block_entry("BottleneckBlock", "bottle", "attnzoo::modules::BottleneckBlock",
              "ByobNet ResNet bottleneck: 1x1 -> kxk (groups) -> [SE/ECA] -> 1x1 + shortcut");
  return e;
}

}  // namespace

const std::vector<ModuleEntry>& module_entries() {
  static const std::vector<ModuleEntry> entries = make_entries();
  return entries;
}

const ModuleEntry& find_module(const std::string& family, const std::string& official) {
  for (const auto& m : module_entries())
    if (m.family == family && m.official == official) return m;
  std::string known;
  for (const auto& m : module_entries()) known += (known.empty() ? "" : ", ") + m.family + "." + m.official;
  throw std::invalid_argument("unknown module '" + family + "." + official + "' (known: " + known + ")");
}

}  // namespace attnzoo::modules
