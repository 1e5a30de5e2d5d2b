#include <attnzoo/modules/module_registry.h>

#include <attnzoo/modules/args.h>
#include <attnzoo/modules/convit_block.h>
#include <attnzoo/modules/lka.h>

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
