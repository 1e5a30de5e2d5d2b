#include <attnzoo/models/van.h>

#include <attnzoo/models/registry.h>
#include <attnzoo/modules/drop_path.h>
#include <attnzoo/core/args.h>
#include <attnzoo/modules/activation.h>
#include <attnzoo/modules/fast_kernels.h>
#include <attnzoo/modules/init.h>


namespace attnzoo::models {

namespace nn = torch::nn;
using modules::OverlapPatchEmbed;
using modules::OverlapPatchEmbedOptions;
using modules::VANBlock;
using modules::VANBlockOptions;

VANImpl::VANImpl(const VANOptions& o) : options(o) {
  const int64_t S = o.num_stages();
  TORCH_CHECK(S >= 1 && S <= 4, "VAN: num_stages must be 1..4, got ", S);
  TORCH_CHECK(static_cast<int64_t>(o.embed_dims().size()) >= S && static_cast<int64_t>(o.depths().size()) >= S &&
                  static_cast<int64_t>(o.mlp_ratios().size()) >= S,
              "VAN: embed_dims, depths and mlp_ratios need num_stages (", S, ") entries");
  int64_t total = 0;
  for (int64_t i = 0; i < S; ++i) total += o.depths()[i];
  const std::vector<double> rates = modules::drop_path_rates(o.drop_path_rate(), total);
  int64_t cur = 0;
  for (int64_t i = 0; i < S; ++i) {
    const int64_t dim = o.embed_dims()[i];
    auto pe = OverlapPatchEmbedOptions(i == 0 ? o.in_chans() : o.embed_dims()[i - 1], dim)
                  .patch_size(i == 0 ? 7 : 3)
                  .stride(i == 0 ? 4 : 2);
    patch_embeds.push_back(register_module("patch_embed" + std::to_string(i + 1), OverlapPatchEmbed(pe)));
    nn::ModuleList blk;
    for (int64_t j = 0; j < o.depths()[i]; ++j) {
      const double dpr = rates[static_cast<size_t>(cur + j)];
      blk->push_back(VANBlock(VANBlockOptions(dim).mlp_ratio(o.mlp_ratios()[i]).drop(o.drop_rate()).drop_path(dpr)));
    }
    cur += o.depths()[i];
    blocks.push_back(register_module("block" + std::to_string(i + 1), blk));
    norms.push_back(register_module("norm" + std::to_string(i + 1),
                                    nn::LayerNorm(nn::LayerNormOptions({dim}).eps(o.norm_eps()))));
  }
  // The official head always reads embed_dims[3] (van.py), whatever num_stages is.
  num_features_ = o.embed_dims().size() > 3 ? o.embed_dims()[3] : o.embed_dims().back();
  reset_classifier(o.num_classes());
  // VAN._init_weights: Linear trunc_normal(.02), LayerNorm 1/0, Conv2d N(0, sqrt(2/fan_out)); layer scales
  // keep 1e-2 and BatchNorm its defaults.
  modules::init_vit_weights(*this, /*conv_fan_out=*/true);
}

at::Tensor VANImpl::stage(int64_t i, const at::Tensor& x) {
  // The layout is chosen after the patch embedding: a 1-channel input is both NCHW- and NHWC-contiguous.
  at::Tensor y = in_layout(patch_embeds[i]->forward(x));
  for (const auto& b : *blocks[i]) y = b->as<VANBlock>()->forward(y);
  // Channels-last: the [B, H, W, C] view is contiguous, LayerNorm runs on it without copies.
  if (const at::Tensor nhwc = modules::nhwc_view(y); nhwc.defined()) return norms[i]->forward(nhwc).permute({0, 3, 1, 2});
  const int64_t B = y.size(0), C = y.size(1), H = y.size(2), W = y.size(3);
  y = norms[i]->forward(y.flatten(2).transpose(1, 2));  // LayerNorm over channels, NLC
  return y.reshape({B, H, W, C}).permute({0, 3, 1, 2}).contiguous();
}

// Channels-last when our kernels are on (CPU): oneDNN's 1x1 and patch convolutions, BatchNorm and the
// depthwise kernels all run natively on NHWC, so the NCHW <-> NHWC reorders around every conv disappear
// (bench/README.md). The reference path (--reference-kernels) keeps plain NCHW.
at::Tensor VANImpl::in_layout(const at::Tensor& x) const {
  const bool nhwc = modules::fast_kernels_enabled() && x.device().is_cpu();
  return nhwc ? x.contiguous(at::MemoryFormat::ChannelsLast) : x;
}

at::Tensor VANImpl::forward_features(const at::Tensor& x) {
  TORCH_CHECK(x.dim() == 4 && x.size(1) == options.in_chans(), "VAN: expected input [B, ", options.in_chans(),
              ", H, W], got ", x.sizes());
  at::Tensor y = x;
  for (int64_t i = 0; i < options.num_stages(); ++i) y = stage(i, y);
  return y;
}

std::vector<at::Tensor> VANImpl::forward_stages(const at::Tensor& x, int64_t last_stage) {
  TORCH_CHECK(x.dim() == 4 && x.size(1) == options.in_chans(), "VAN: expected input [B, ", options.in_chans(),
              ", H, W], got ", x.sizes());
  std::vector<at::Tensor> out;
  at::Tensor y = x;
  StageSink sink(&out, last_stage);
  for (int64_t i = 0; i < options.num_stages(); ++i)
    if (sink.add(y = stage(i, y))) break;
  return out;
}

at::Tensor VANImpl::forward_head(const at::Tensor& x, bool pre_logits) {
  at::Tensor pooled = x.mean({2, 3});  // == official x.mean(dim=1) over the tokens
  return apply_head(pooled, pre_logits);
}

void VANImpl::reset_classifier(int64_t num_classes) {
  ClassifierImpl::reset_classifier(num_classes);
  options.num_classes(num_classes);
}

std::vector<FeatureInfo> VANImpl::feature_info() const {
  return hierarchical_feature_info(options.embed_dims(), options.num_stages(), "norm", 1);
}

namespace {

// van.py uses timm-0.4.12 vision_transformer._cfg(): crop 0.9, bicubic, Inception mean/std (0.5).
// (_cfg also says fixed_input_size, which VAN does not need: any size works.)
PretrainedCfg van_pretrained_cfg() {
  PretrainedCfg c;
  c.first_conv = "patch_embed1.proj";
  c.classifier = "head";
  c.crop_pct = 0.9;
  c.mean = {0.5, 0.5, 0.5};
  c.std = {0.5, 0.5, 0.5};
  c.paper = "arXiv:2202.09741";
  return c;
}

}  // namespace

VANOptions van_options_from_args(const nlohmann::json& args) { return options_from_args<VANOptions>(args, "van"); }

void register_van(Registry& r) {
  r.add_family(family_of<VAN, VANOptions>("van", "VAN, Large Kernel Attention (Guo et al. 2022, arXiv 2202.09741)",
                                           van_pretrained_cfg()));

  const std::string ln = "functools.partial(torch.nn.LayerNorm, eps=1e-06)";
  struct V {
    const char* name;
    std::vector<int64_t> dims, depths;
    const char* url;
    double top1;
  };
  const std::string hf = "https://huggingface.co/Visual-Attention-Network/VAN-";
  const V vs[] = {
      {"van_b0", {32, 64, 160, 256}, {3, 3, 5, 2}, "Tiny/resolve/main/van_tiny_754.pth.tar", 75.4},
      {"van_b1", {64, 128, 320, 512}, {2, 2, 4, 2}, "Small/resolve/main/van_small_811.pth.tar", 81.1},
      {"van_b2", {64, 128, 320, 512}, {3, 3, 12, 3}, "Base/resolve/main/van_base_828.pth.tar", 82.8},
      {"van_b3", {64, 128, 320, 512}, {3, 5, 27, 3}, "Large/resolve/main/van_large_839.pth.tar", 83.9},
      {"van_b4", {64, 128, 320, 512}, {3, 6, 40, 3}, "", 0},
      {"van_b5", {96, 192, 480, 768}, {3, 3, 24, 3}, "", 0},
      {"van_b6", {96, 192, 384, 768}, {6, 6, 90, 6}, "", 0},
  };
  for (const auto& v : vs) {
    ModelVariant mv;
    mv.name = v.name;
    mv.family = "van";
    mv.args = {{"embed_dims", v.dims}, {"mlp_ratios", {8, 8, 4, 4}}, {"norm_layer", ln}, {"depths", v.depths}};
    mv.pretrained = van_pretrained_cfg();
    // VAN-Classification README: top-1 per model; "Apache-2.0 license. For commercial use, please contact the authors."
    if (*v.url) mv.pretrained.weights(hf + v.url, v.top1, "Apache-2.0 (commercial use: contact the authors)");
    r.add_variant(mv);
  }
}

}  // namespace attnzoo::models
