#include <attnzoo/models/unireplknet.h>

#include <attnzoo/models/registry.h>
#include <attnzoo/modules/init.h>
#include <attnzoo/modules/norm.h>

#include <torch/torch.h>

#include <numeric>

namespace attnzoo::models {

namespace nn = torch::nn;
using json = nlohmann::json;
using namespace attnzoo::modules;

std::vector<std::vector<int64_t>> unireplknet_default_kernel_sizes(const std::vector<int64_t>& depths) {
  auto repeat = [](int64_t n, int64_t k) { return std::vector<int64_t>(static_cast<size_t>(n), k); };
  auto pattern = [](int64_t n, std::vector<int64_t> cycle) {
    std::vector<int64_t> out;
    for (int64_t i = 0; i < n; ++i) out.push_back(cycle[static_cast<size_t>(i) % cycle.size()]);
    return out;
  };
  if (depths == std::vector<int64_t>{2, 2, 6, 2}) return {repeat(2, 3), repeat(2, 13), repeat(6, 13), repeat(2, 13)};
  if (depths == std::vector<int64_t>{2, 2, 8, 2}) return {repeat(2, 3), repeat(2, 13), repeat(8, 13), repeat(2, 13)};
  if (depths == std::vector<int64_t>{3, 3, 18, 3}) return {repeat(3, 3), repeat(3, 13), pattern(18, {13, 3}), repeat(3, 13)};
  if (depths == std::vector<int64_t>{3, 3, 27, 3}) return {repeat(3, 3), repeat(3, 13), pattern(27, {13, 3, 3}), repeat(3, 13)};
  throw std::invalid_argument("unireplknet: no default kernel sizes for these depths: give kernel_sizes, one per block");
}

UniRepLKNetImpl::UniRepLKNetImpl(const UniRepLKNetOptions& o) : options(o) {
  const auto& depths = o.depths();
  const auto& dims = o.dims();
  TORCH_CHECK(depths.size() == 4 && dims.size() == 4, "unireplknet: depths and dims need 4 stages");
  const auto kernels = o.kernel_sizes().empty() ? unireplknet_default_kernel_sizes(depths) : o.kernel_sizes();
  TORCH_CHECK(kernels.size() == 4, "unireplknet: kernel_sizes needs 4 stages");
  for (size_t i = 0; i < 4; ++i)
    TORCH_CHECK(static_cast<int64_t>(kernels[i].size()) == depths[i], "unireplknet: kernel sizes do not match the depths (stage ", i, ")");
  downsample_layers = register_module("downsample_layers", nn::ModuleList());
  auto conv = [](int64_t in, int64_t out) { return nn::Conv2d(nn::Conv2dOptions(in, out, 3).stride(2).padding(1)); };
  auto ln = [](int64_t c) { return LayerNorm2d(LayerNorm2dOptions(c).eps(1e-6)); };
  downsample_layers->push_back(nn::Sequential(conv(o.in_chans(), dims[0] / 2), ln(dims[0] / 2), nn::GELU(), conv(dims[0] / 2, dims[0]), ln(dims[0])));
  for (size_t i = 0; i < 3; ++i) downsample_layers->push_back(nn::Sequential(conv(dims[i], dims[i + 1]), ln(dims[i + 1])));
  // dp_rates = linspace(0, drop_path_rate, sum(depths)).
  const int64_t total = std::accumulate(depths.begin(), depths.end(), int64_t{0});
  const at::Tensor dpr = torch::linspace(0.0, o.drop_path_rate(), total, torch::kDouble);
  stages = register_module("stages", nn::ModuleList());
  int64_t cur = 0;
  for (size_t i = 0; i < 4; ++i) {
    nn::Sequential stage;
    for (int64_t j = 0; j < depths[i]; ++j)
      stage->push_back(UniRepLKNetBlock(UniRepLKNetBlockOptions(dims[i], kernels[i][static_cast<size_t>(j)])
                                            .drop_path(dpr[cur + j].item<double>())
                                            .layer_scale_init_value(o.layer_scale_init_value())
                                            .deploy(o.deploy())));
    stages->push_back(stage);
    cur += depths[i];
  }
  norm = register_module("norm", nn::LayerNorm(nn::LayerNormOptions({dims.back()}).eps(1e-6)));
  num_features_ = dims.back();
  // _init_weights: Conv2d and Linear trunc_normal(.02), bias 0; then the head scaled by head_init_scale.
  torch::NoGradGuard ng;
  for (auto& m : modules(/*include_self=*/false)) {
    if (auto* c = m->as<nn::Conv2d>()) {
      trunc_normal_(c->weight, 0.02);
      if (c->bias.defined()) c->bias.zero_();
    } else if (auto* l = m->as<nn::Linear>()) {
      trunc_normal_(l->weight, 0.02);
      if (l->bias.defined()) l->bias.zero_();
    }
  }
  reset_classifier(o.num_classes());
}

void UniRepLKNetImpl::reset_classifier(int64_t num_classes) {
  ClassifierImpl::reset_classifier(num_classes);
  options.num_classes(num_classes);
  if (!head) return;
  torch::NoGradGuard ng;
  trunc_normal_(head->weight, 0.02);
  head->bias.zero_();
  head->weight.mul_(options.head_init_scale());
}

at::Tensor UniRepLKNetImpl::run(const at::Tensor& input, StageSink sink) {
  TORCH_CHECK(input.dim() == 4 && input.size(1) == options.in_chans(), "unireplknet: expected input [B, ", options.in_chans(),
              ", H, W], got ", input.sizes());
  at::Tensor x = input;
  for (size_t i = 0; i < 4; ++i) {
    x = downsample_layers[i]->as<nn::Sequential>()->forward(x);
    x = stages[i]->as<nn::Sequential>()->forward(x);
    if (sink.add(x)) return {};
  }
  return x;
}

at::Tensor UniRepLKNetImpl::forward_features(const at::Tensor& x) { return run(x, {}); }

at::Tensor UniRepLKNetImpl::forward_head(const at::Tensor& x, bool pre_logits) {
  return apply_head(norm(x.mean({-2, -1})), pre_logits);
}

std::vector<at::Tensor> UniRepLKNetImpl::forward_stages(const at::Tensor& x, int64_t last_stage) {
  std::vector<at::Tensor> f;
  run(x, StageSink(&f, last_stage));
  return f;
}

std::vector<FeatureInfo> UniRepLKNetImpl::feature_info() const { return hierarchical_feature_info(options.dims(), 4, "stages."); }

void UniRepLKNetImpl::reparameterize_unireplknet() {
  for (auto& m : modules(/*include_self=*/false))
    if (auto* b = m->as<UniRepLKNetBlock>()) b->reparameterize();
  options.deploy(true);
}

namespace {

PretrainedCfg unireplknet_cfg(int64_t img) {
  PretrainedCfg c;
  c.input_size = {3, img, img};
  c.crop_pct = img == 224 ? 0.875 : 1.0;
  c.interpolation = "bicubic";
  c.first_conv = "downsample_layers.0.0";
  c.classifier = "head";
  c.paper = "arXiv:2311.15599";
  return c;
}

}  // namespace

void register_unireplknet(Registry& r) {
  r.add_family(family_of<UniRepLKNet, UniRepLKNetOptions>(
      "unireplknet", "UniRepLKNet, dilated re-parameterised large-kernel ConvNet (Ding et al., arXiv 2311.15599)", unireplknet_cfg(224)));
  struct Size {
    const char* name;
    std::vector<int64_t> depths, dims;
    const char* file;  // unireplknet.py huggingface_file_names (DingXiaoH/UniRepLKNet): in1k, or in22k -> in1k at 384
    int64_t img;
    double top1;
  };
  const std::vector<int64_t> afp{2, 2, 6, 2}, n{2, 2, 8, 2}, t{3, 3, 18, 3}, sbl{3, 3, 27, 3};
  const Size sizes[] = {
      {"unireplknet_a", afp, {40, 80, 160, 320}, "unireplknet_a_in1k_224_acc77.03.pth", 224, 77.03},
      {"unireplknet_f", afp, {48, 96, 192, 384}, "unireplknet_f_in1k_224_acc78.58.pth", 224, 78.58},
      {"unireplknet_p", afp, {64, 128, 256, 512}, "unireplknet_p_in1k_224_acc80.23.pth", 224, 80.23},
      {"unireplknet_n", n, {80, 160, 320, 640}, "unireplknet_n_in1k_224_acc81.64.pth", 224, 81.64},
      {"unireplknet_t", t, {80, 160, 320, 640}, "unireplknet_t_in1k_224_acc83.21.pth", 224, 83.21},
      {"unireplknet_s", sbl, {96, 192, 384, 768}, "unireplknet_s_in1k_224_acc83.91.pth", 224, 83.91},
      {"unireplknet_b", sbl, {128, 256, 512, 1024}, "unireplknet_b_in22k_to_in1k_384_acc87.40.pth", 384, 87.40},
      {"unireplknet_l", sbl, {192, 384, 768, 1536}, "unireplknet_l_in22k_to_in1k_384_acc87.88.pth", 384, 87.88},
      {"unireplknet_xl", sbl, {256, 512, 1024, 2048}, "unireplknet_xl_in22k_to_in1k_384_acc87.96.pth", 384, 87.96},
  };
  for (const auto& s : sizes) {
    ModelVariant v;
    v.name = s.name;
    v.family = "unireplknet";
    v.args = {{"depths", s.depths}, {"dims", s.dims}};
    v.pretrained = unireplknet_cfg(s.img);
    v.pretrained.weights(std::string("https://huggingface.co/DingXiaoH/UniRepLKNet/resolve/main/") + s.file, s.top1,
                         "Apache-2.0 (the repository's license)", s.file);
    r.add_variant(v);
  }
}

}  // namespace attnzoo::models
