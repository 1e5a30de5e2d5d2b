// Sigmoid attention beyond the parity cases: known answers of its pieces (ALiBi slopes, RoPE's relative-position
// property, the row normalisation), the 1-D form against the official-form module, argument tables with the
// block's nested attn_fn / mlp_fn, and gradients.
#include <attnzoo/core/arg_table.h>
#include <attnzoo/models/registry.h>
#include <attnzoo/modules/sigmoid_attn.h>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

using namespace attnzoo;
using namespace attnzoo::modules;

TEST(SigmoidAttention, AlibiSlopesAreThePapersGeometricSequences) {
  const auto opts = torch::TensorOptions().dtype(torch::kDouble);
  // 8 heads: 2^-1 ... 2^-8; bias[h][i][j] = slope_h * (j - i).
  const at::Tensor b8 = alibi_bias(8, 3, 3, opts);
  for (int64_t h = 0; h < 8; ++h) EXPECT_DOUBLE_EQ(b8[h][0][2].item<double>(), 2.0 * std::pow(2.0, -(h + 1)));
  EXPECT_DOUBLE_EQ(b8[0][2][0].item<double>(), -1.0);
  // 6 heads: the 4-head slopes (2^-2, 2^-4, 2^-6, 2^-8), then every other one of the 8-head slopes (2^-1, 2^-3).
  const at::Tensor b6 = alibi_bias(6, 2, 2, opts);
  const double want[] = {0.25, 0.0625, 0.015625, 0.00390625, 0.5, 0.125};
  for (int64_t h = 0; h < 6; ++h) EXPECT_DOUBLE_EQ(b6[h][0][1].item<double>(), want[h]);
}

TEST(SigmoidAttention, RotaryEmbeddingDependsOnlyOnRelativePositions) {
  torch::manual_seed(0);
  // The same q at every position and the same k at every position: q_m . k_n is a function of n - m only.
  const at::Tensor q = torch::randn({1, 1, 1, 8}, torch::kDouble).expand({1, 1, 12, 8});
  const at::Tensor k = torch::randn({1, 1, 1, 8}, torch::kDouble).expand({1, 1, 12, 8});
  const auto [rq, rk] = rotary_embedding(q, k);
  const at::Tensor dots = torch::matmul(rq, rk.transpose(-2, -1))[0][0];
  for (int64_t shift = -3; shift <= 3; ++shift)
    for (int64_t m = 4; m < 8; ++m)
      EXPECT_NEAR(dots[m][m + shift].item<double>(), dots[4][4 + shift].item<double>(), 1e-5);  // q, k in float32
  // A rotation: each pair keeps its norm.
  EXPECT_NEAR((rq.norm() - q.to(torch::kFloat).to(torch::kDouble).norm()).item<double>(), 0.0, 1e-12);
}

TEST(SigmoidAttention, RowNormalisedSigmoidDividesRowIByItsCount) {
  const at::Tensor logits = torch::randn({1, 2, 5, 5}, torch::kDouble);
  const at::Tensor bias = torch::full({1}, -1.5, torch::kDouble);
  const at::Tensor plain = sigmoid_attention_weights(logits, {}, {}, bias, AttnActivation::Sigmoid);
  EXPECT_TRUE(torch::allclose(plain, torch::sigmoid(logits - 1.5)));
  const at::Tensor lin = sigmoid_attention_weights(logits, {}, {}, bias, AttnActivation::SeqLenNormalizedSigmoid);
  const at::Tensor sq = sigmoid_attention_weights(logits, {}, {}, bias, AttnActivation::SqrtSeqLenNormalizedSigmoid);
  for (int64_t i = 0; i < 5; ++i) {
    EXPECT_TRUE(torch::allclose(lin.select(2, i), plain.select(2, i) / (i + 1.0)));
    EXPECT_TRUE(torch::allclose(sq.select(2, i), plain.select(2, i) / std::sqrt(i + 1.0)));
  }
  // Masked entries (keep = false) vanish under sigmoid, even with a temperature.
  const at::Tensor keep = torch::ones({5, 5}, torch::kBool).tril();
  const at::Tensor masked = sigmoid_attention_weights(logits, keep, torch::full({1}, 0.7, torch::kDouble), bias,
                                                      AttnActivation::Sigmoid);
  EXPECT_EQ(masked.masked_select(keep.logical_not()).abs().max().item<double>(), 0.0);
}

TEST(SigmoidAttention, OneDFormEqualsTheOfficialFormWithItsMask) {
  torch::manual_seed(1);
  const int64_t B = 2, L = 11, C = 24, H = 3;
  SigmoidAttention1D one_d(SigmoidAttention1DOptions(C, H).causal(true).qk_transform(QKTransform::RoPE));
  SigmoidAttention full(SigmoidAttentionOptions(C, H).bias(true).qk_norm(true).attn_bias(-std::log(double(L)))
                            .qk_transform(QKTransform::RoPE));
  one_d->to(torch::kDouble);
  full->to(torch::kDouble);
  {
    torch::NoGradGuard ng;
    for (const auto& name : {"qkv.weight", "qkv.bias", "proj.weight", "proj.bias", "q_norm.weight", "k_norm.bias"})
      full->named_parameters()[name].copy_(one_d->named_parameters()[name].add_(0.1));
    full->attn_bias.fill_(-std::log(double(L)));  // the buffer was made in float32, as the official one
  }
  const at::Tensor x = torch::randn({B, L, C}, torch::kDouble);
  at::Tensor pad = torch::zeros({B, L}, torch::kBool);
  pad[1].slice(0, 8).fill_(true);
  const at::Tensor keep = pad.logical_not().view({B, 1, 1, L}).logical_and(torch::ones({L, L}, torch::kBool).tril());
  const at::Tensor want = full(x, keep).masked_fill(pad.unsqueeze(-1), 0.0);
  EXPECT_LT((one_d(x, pad) - want).abs().max().item<double>(), 1e-12);
}

TEST(SigmoidAttention, BlockArgumentsRoundTripWithNestedPartials) {
  const nlohmann::json cfg = {{"dim", 32},
                              {"attn_fn", {{"num_heads", 4}, {"attn_activ_fn", "softmax"}, {"attn_bias", -2.0},
                                           {"qk_transform", "apply_rotary_emb"}}},
                              {"mlp_fn", {{"hidden_features", 64}, {"bias", true}}},
                              {"scaling_layer_fn", 0.1}};
  const auto o = options_from_args(cfg, "TransformerBlock", SigmoidTransformerBlockOptions(0, 8));
  EXPECT_EQ(o.attn_fn().dim(), 32);
  EXPECT_EQ(o.attn_fn().num_heads(), 4);
  EXPECT_EQ(o.attn_fn().attn_activ_fn(), AttnActivation::Softmax);
  EXPECT_EQ(o.attn_fn().qk_transform(), QKTransform::RoPE);
  EXPECT_EQ(o.mlp_fn().hidden_features(), 64);
  const nlohmann::json back = args_of(o);
  EXPECT_EQ(back.at("attn_fn").at("attn_bias"), -2.0);
  EXPECT_EQ(back.at("attn_fn").at("qk_transform"), "apply_rotary_emb");
  EXPECT_EQ(back.at("scaling_layer_fn"), 0.1);
  const auto again = options_from_args(back, "TransformerBlock", SigmoidTransformerBlockOptions(0, 8));
  EXPECT_EQ(args_of(again), back);
  // A partial whose dim disagrees with the block's is an error naming it.
  try {
    options_from_args(nlohmann::json{{"dim", 32}, {"attn_fn", {{"dim", 16}}}}, "TransformerBlock",
                      SigmoidTransformerBlockOptions(0, 8));
    FAIL() << "expected an error";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("attn_fn"), std::string::npos) << e.what();
  }
}

TEST(SigmoidAttention, ViTUsesMinusLogNAndTrainsEveryParameter) {
  auto model = models::create_model("sigmoid_vit_tiny_patch16_224",
                                    {{"img_size", 32}, {"depth", 2}, {"num_classes", 5}, {"init_values", 0.5}});
  const auto params = model->named_parameters();
  const auto buffers = model->named_buffers();
  EXPECT_FLOAT_EQ(buffers["blocks.1.attn.attn_bias"].item<float>(), static_cast<float>(-std::log(5.0)));  // 2x2 patches + class token
  EXPECT_DOUBLE_EQ(buffers["blocks.1.attn.attn_temp"].item<double>(), 0.0);
  torch::manual_seed(2);
  const at::Tensor y = model->forward(torch::randn({2, 3, 32, 32}));
  ASSERT_EQ(y.sizes(), (std::vector<int64_t>{2, 5}));
  torch::nn::functional::cross_entropy(y, torch::tensor({1, 3})).backward();
  for (const auto& p : params) EXPECT_TRUE(p.value().grad().defined() && p.value().grad().abs().sum().item<double>() > 0) << p.key();
  // An explicit attn_bias replaces -log n; null restores it.
  auto fixed = models::create_model("sigmoid_vit_tiny_patch16_224", {{"img_size", 32}, {"depth", 1}, {"attn_bias", -3.0}});
  EXPECT_DOUBLE_EQ(fixed->named_buffers()["blocks.0.attn.attn_bias"].item<double>(), -3.0);
}
