// timm byoanet.py: the model configs of HaloNet and the other self-attention ByobNets, registered as
// the "halonet" family (ByobNet built from a ByoModelCfg).
#include <attnzoo/models/byobnet.h>
#include <attnzoo/models/registry.h>

#include <functional>
#include <stdexcept>

namespace attnzoo::models {

using json = nlohmann::json;

namespace {

json blk(const std::string& type, int64_t d, int64_t c, int64_t s, int64_t gs, double br, const json& extra = json::object()) {
  json b = {{"type", type}, {"d", d}, {"c", c}, {"s", s}, {"gs", gs}, {"br", br}};
  for (auto it = extra.begin(); it != extra.end(); ++it) b[it.key()] = it.value();
  return b;
}

json stage_kw(int64_t c, int64_t s, int64_t gs, double br, const json& extra = json::object()) {
  json k = {{"c", c}, {"s", s}, {"gs", gs}, {"br", br}};
  for (auto it = extra.begin(); it != extra.end(); ++it) k[it.key()] = it.value();
  return k;
}

// Fills every field, as dataclasses.asdict does, so `info --json` shows the whole config.
json full_cfg(const json& partial) { return ByoModelCfg::from_json(partial).to_json(); }

// `top1`: ImageNet-1k val top-1 of these weights in timm's results/results-imagenet.csv (aa4b5850; validate.py at the
// cfg's size and crop).
PretrainedCfg byoa_pretrained(int64_t size, double crop, const std::string& file, bool fixed = false, double top1 = 0) {
  PretrainedCfg c;
  c.input_size = {3, size, size};
  c.crop_pct = crop;
  c.interpolation = "bicubic";
  c.first_conv = "stem.conv1.conv";
  c.classifier = "head.fc";
  c.fixed_input_size = fixed;
  if (!file.empty())
    c.weights("https://github.com/rwightman/pytorch-image-models/releases/download/v0.1-attn-weights/" + file, top1,
              "Apache-2.0 (timm)");
  c.paper = "arXiv:2103.12731";
  return c;
}

json halonet26t_like(int64_t gs) {
  return json::array({blk("bottle", 2, 256, 1, gs, 0.25), blk("bottle", 2, 512, 2, gs, 0.25),
                      interleave_blocks("bottle", "self_attn", 2, 1, stage_kw(1024, 2, gs, 0.25)),
                      blk("self_attn", 2, 2048, 2, gs, 0.25)});
}

json halonet26t_cfg() {
  return full_cfg({{"blocks", halonet26t_like(0)},
                                    {"stem_chs", 64},
                                    {"stem_type", "tiered"},
                                    {"stem_pool", "maxpool"},
                                    {"self_attn_layer", "halo"},
                                    {"self_attn_kwargs", {{"block_size", 8}, {"halo_size", 2}}}});
}

using AddVariant = std::function<void(const std::string& name, const json& cfg, const PretrainedCfg& pc, const json& extra)>;

void add_halonets(const AddVariant& add) {
  add("halonet_h1",
      {{"blocks", json::array({blk("self_attn", 3, 64, 1, 0, 1.0), blk("self_attn", 3, 128, 2, 0, 1.0),
                               blk("self_attn", 10, 256, 2, 0, 1.0), blk("self_attn", 3, 512, 2, 0, 1.0)})},
       {"stem_chs", 64},
       {"stem_type", "7x7"},
       {"stem_pool", "maxpool"},
       {"self_attn_layer", "halo"},
       {"self_attn_kwargs", {{"block_size", 8}, {"halo_size", 3}}}},
      byoa_pretrained(256, 0.95, ""), {});
  add("halonet26t", halonet26t_cfg(), byoa_pretrained(256, 0.95, "halonet26t_a1h_256-3083328c.pth", false, 79.134), {});
  add("sehalonet33ts",
      {{"blocks", json::array({blk("bottle", 2, 256, 1, 0, 0.25),
                               interleave_blocks("bottle", "self_attn", 3, json::array({2}), stage_kw(512, 2, 0, 0.25)),
                               interleave_blocks("bottle", "self_attn", 3, json::array({2}), stage_kw(1024, 2, 0, 0.25)),
                               blk("self_attn", 2, 1536, 2, 0, 0.333)})},
       {"stem_chs", 64},
       {"stem_type", "tiered"},
       {"stem_pool", ""},
       {"act_layer", "silu"},
       {"num_features", 1280},
       {"attn_layer", "se"},
       {"self_attn_layer", "halo"},
       {"self_attn_kwargs", {{"block_size", 8}, {"halo_size", 3}}}},
      byoa_pretrained(256, 0.94, "sehalonet33ts_256-87e053f9.pth", false, 80.976), {});
  add("halonet50ts",
      {{"blocks",
        json::array({blk("bottle", 3, 256, 1, 0, 0.25),
                     interleave_blocks("bottle", "self_attn", 4, 4,
                                       stage_kw(512, 2, 0, 0.25,
                                                {{"self_attn_layer", "halo"},
                                                 {"self_attn_kwargs", {{"block_size", 8}, {"halo_size", 3}, {"num_heads", 4}}}})),
                     interleave_blocks("bottle", "self_attn", 6, 1, stage_kw(1024, 2, 0, 0.25)),
                     interleave_blocks("bottle", "self_attn", 3, 1, stage_kw(2048, 2, 0, 0.25))})},
       {"stem_chs", 64},
       {"stem_type", "tiered"},
       {"stem_pool", "maxpool"},
       {"act_layer", "silu"},
       {"self_attn_layer", "halo"},
       {"self_attn_kwargs", {{"block_size", 8}, {"halo_size", 3}}}},
      byoa_pretrained(256, 0.94, "halonet50ts_a1h2_256-f3a3daee.pth", false, 81.640), {});
  add("eca_halonext26ts",
      {{"blocks", halonet26t_like(16)},
       {"stem_chs", 64},
       {"stem_type", "tiered"},
       {"stem_pool", "maxpool"},
       {"act_layer", "silu"},
       {"attn_layer", "eca"},
       {"self_attn_layer", "halo"},
       {"self_attn_kwargs", {{"block_size", 8}, {"halo_size", 2}, {"dim_head", 16}}}},
      byoa_pretrained(256, 0.94, "eca_halonext26ts_c_256-06906299.pth", false, 79.518), {});
}

void add_haloregnetz(const AddVariant& add) {
  PretrainedCfg regz = byoa_pretrained(224, 0.94, "haloregnetz_c_raa_256-c8ad7616.pth", false, 81.058);
  regz.mean = {0.5, 0.5, 0.5};
  regz.std = {0.5, 0.5, 0.5};
  regz.first_conv = "stem.conv";
  add("haloregnetz_b",
      {{"blocks", json::array({blk("bottle", 2, 48, 2, 16, 3), blk("bottle", 6, 96, 2, 16, 3),
                               interleave_blocks("bottle", "self_attn", 12, 3, stage_kw(192, 2, 16, 3)),
                               blk("self_attn", 2, 288, 2, 16, 3)})},
       {"stem_chs", 32},
       {"stem_pool", ""},
       {"downsample", ""},
       {"num_features", 1536},
       {"act_layer", "silu"},
       {"attn_layer", "se"},
       {"attn_kwargs", {{"rd_ratio", 0.25}}},
       {"block_kwargs", {{"bottle_in", true}, {"linear_out", true}}},
       {"self_attn_layer", "halo"},
       {"self_attn_kwargs", {{"block_size", 7}, {"halo_size", 2}, {"qk_ratio", 0.33}}}},
      regz, {});
}

void add_botnet_hybrids(const AddVariant& add) {
  // The *_256 variants end in BoTNet attention over the whole 8x8 map: built for a fixed 256x256 input
  // (timm passes img_size from the pretrained cfg's fixed_input_size).
  auto botnet50_like = [&](const json& stage2) {
    return json{{"blocks",
                 json::array({blk("bottle", 3, 256, 1, 0, 0.25), stage2,
                              interleave_blocks("bottle", "self_attn", 6, 1,
                                                stage_kw(1024, 2, 0, 0.25,
                                                         {{"self_attn_layer", "halo"},
                                                          {"self_attn_kwargs", {{"halo_size", 3}}}})),
                              interleave_blocks("bottle", "self_attn", 3, 1,
                                                stage_kw(2048, 2, 0, 0.25,
                                                         {{"self_attn_layer", "bottleneck"},
                                                          {"self_attn_kwargs", json::object()}}))})},
                {"stem_chs", 64},
                {"stem_type", "tiered"},
                {"stem_pool", ""},
                {"act_layer", "silu"}};
  };
  add("lamhalobotnet50ts_256",
      botnet50_like(interleave_blocks("bottle", "self_attn", 4, 1,
                                      stage_kw(512, 2, 0, 0.25,
                                               {{"self_attn_layer", "lambda"}, {"self_attn_kwargs", {{"r", 13}}}}))),
      byoa_pretrained(256, 0.95, "lamhalobotnet50ts_a1h2_256-fe3d9445.pth", true, 81.552), {{"img_size", 256}});
  add("halo2botnet50ts_256",
      botnet50_like(interleave_blocks("bottle", "self_attn", 4, 1,
                                      stage_kw(512, 2, 0, 0.25,
                                               {{"self_attn_layer", "halo"}, {"self_attn_kwargs", {{"halo_size", 3}}}}))),
      byoa_pretrained(256, 0.95, "halo2botnet50ts_a1h2_256-fd9c11a3.pth", true, 82.084), {{"img_size", 256}});
}

}  // namespace

void register_byoanet(Registry& r) {
  ModelFamily fam;
  fam.name = "halonet";
  fam.description = "HaloNet & timm self-attention hybrids: halo / bottleneck / lambda attention in a ByobNet "
                    "(Vaswani et al. 2021, arXiv 2103.12731; timm reference)";
  fam.default_args = {{"cfg", halonet26t_cfg()},  {"num_classes", 1000},  {"in_chans", 3},
                      {"global_pool", nullptr},    {"output_stride", 32},  {"img_size", nullptr},
                      {"drop_rate", 0.0},          {"drop_block_rate", 0.0}, {"drop_block_size", 3},
                      {"drop_path_rate", 0.0},     {"zero_init_last", true}};
  for (const std::string& f : byo_model_cfg_overlay_fields()) fam.default_args[f] = nullptr;  // overlays cfg when set
  fam.build = [](const json& args) -> ClassifierPtr { return ByobNet(byobnet_options_from_args(args)).ptr(); };
  fam.pretrained = byoa_pretrained(256, 0.95, "");
  r.add_family(fam);

  auto add = [&r](const std::string& name, const json& cfg, const PretrainedCfg& pc, const json& extra) {
    ModelVariant v;
    v.name = name;
    v.family = "halonet";
    v.args = {{"cfg", full_cfg(cfg)}};
    for (auto it = extra.begin(); it != extra.end(); ++it) v.args[it.key()] = it.value();
    v.pretrained = pc;
    r.add_variant(v);
  };

  add_halonets(add);
  add_haloregnetz(add);
  add_botnet_hybrids(add);
}

}  // namespace attnzoo::models
