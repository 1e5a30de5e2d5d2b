// MoH beyond the parity cases: the routing (exactly routed_head heads per token, gates summing to their counts),
// the load-balance loss (training only, the official formula; MoH-TransNeXt's weighted mean as its auxiliary loss),
// the relative-position tables, the one input size of the model, and the 1-D form's padding.
#include <attnzoo/models/moh.h>
#include <attnzoo/modules/moh.h>

#include <gtest/gtest.h>
#include <torch/torch.h>

using namespace attnzoo::modules;

TEST(MoH, RoutedHeadsPerTokenAndLoadBalanceLoss) {
  torch::manual_seed(0);
  MoHAttention m(MoHAttentionOptions(32, {4, 4}).num_heads(8).shared_head(0).routed_head(3));
  m->to(torch::kDouble);
  const at::Tensor x = torch::randn({2, 16, 32}, torch::kDouble);
  m->eval();
  m->forward(x, 4, 4);
  EXPECT_FALSE(m->load_balancing_loss.defined());  // inference records none
  m->train();
  const at::Tensor y = m->forward(x, 4, 4);
  ASSERT_TRUE(m->load_balancing_loss.defined());
  // The official l_aux: mean(mean gates * mean top-k mask) * E^2 over the 8 routed experts.
  const at::Tensor gates = torch::softmax(m->wg(x.reshape({32, 32})), 1);
  const at::Tensor mask = torch::zeros_like(gates).scatter_(1, std::get<1>(torch::topk(gates, 3, 1)), 1.0);
  EXPECT_NEAR(m->load_balancing_loss.item<double>(), (gates.mean(0) * mask.mean(0)).mean().item<double>() * 64, 1e-12);
  m->load_balancing_loss.backward();  // it trains the router
  EXPECT_TRUE(m->wg->weight.grad().defined());
  EXPECT_EQ(y.sizes(), x.sizes());
}

TEST(MoH, RelativePositionTablesOfATwoByTwoMap) {
  const auto [idx, table] = relative_position_cpb({2, 2}, {2, 2});
  EXPECT_EQ(idx.numel(), 16);
  EXPECT_EQ(table.size(0), 9);  // (dh, dw) in {-1, 0, 1}^2, scaled by 8 / (2 - 1) and log-spaced
  const double v = std::log2(9.0) / 3.0;  // log2(8 + 1) / log2(8)
  EXPECT_NEAR(table.max().item<double>(), v, 1e-6);
  EXPECT_NEAR(table.min().item<double>(), -v, 1e-6);
  EXPECT_EQ(idx[0].item<int64_t>(), 4);  // query (0,0) to key (0,0): the zero offset, the middle of 9 sorted rows
}

TEST(MoH, OneDFormKeepsPaddingOutAndNeedsValidHeadCounts) {
  torch::manual_seed(1);
  MoHAttention1D m(MoHAttention1DOptions(16, 4).shared_head(2).routed_head(1));
  m->to(torch::kDouble);
  const at::Tensor x = torch::randn({2, 12, 16}, torch::kDouble);
  at::Tensor mask = torch::zeros({2, 12}, torch::kBool);
  mask[0].slice(0, 9).fill_(true);
  at::Tensor x2 = x.clone();
  x2[0].slice(0, 9).normal_();
  const at::Tensor y = m(x, mask), y2 = m(x2, mask);
  EXPECT_LT((y - y2).abs().max().item<double>(), 1e-12);
  EXPECT_EQ(y[0].slice(0, 9).abs().max().item<double>(), 0.0);
  EXPECT_THROW(MoHAttention1D(MoHAttention1DOptions(16, 4).shared_head(3).routed_head(2)), c10::Error);
  EXPECT_THROW(MoHAttention1D(MoHAttention1DOptions(16, 4).shared_head(1).routed_head(0)), c10::Error);
}

namespace {

attnzoo::models::TransNeXt small_transnext() {
  return attnzoo::models::TransNeXt(attnzoo::models::TransNeXtOptions()
                                        .img_size(64)
                                        .patch_size(4)
                                        .embed_dims({8, 16, 16, 32})
                                        .num_heads({2, 2, 2, 4})
                                        .depths({1, 2, 1, 1})
                                        .shared_head({2, 1, 0, 1})
                                        .routed_head({0, 1, 1, 2})
                                        .num_classes(5));
}

}  // namespace

// engine.py: loss + 0.01 * mean of the routed attentions' load-balance losses; nothing in eval or without routing.
TEST(MoH, TransNeXtAuxiliaryLossIsTheWeightedMeanOfItsRoutedBlocks) {
  torch::manual_seed(2);
  auto m = small_transnext();
  m->to(torch::kDouble);
  const at::Tensor x = torch::randn({2, 3, 64, 64}, torch::kDouble);
  m->train();
  m->forward(x);
  double sum = 0;
  int n = 0;
  for (const auto& stage : m->blocks)
    for (const auto& b : *stage) {
      const at::Tensor l = b->as<TransNeXtBlock>()->load_balancing_loss();
      if (l.defined()) sum += l.item<double>(), ++n;
    }
  EXPECT_EQ(n, 4);  // stages 2 (two blocks), 3 and 4 route; stage 1 only shares
  ASSERT_TRUE(m->auxiliary_loss().defined());
  EXPECT_NEAR(m->auxiliary_loss().item<double>(), 0.01 * sum / n, 1e-14);
  m->eval();
  m->forward(x);
  EXPECT_FALSE(m->auxiliary_loss().defined());
}

TEST(MoH, TransNeXtIsBuiltForOneInputSize) {
  auto m = small_transnext();
  try {
    m->forward(torch::randn({1, 3, 96, 96}));
    FAIL() << "a 96 px input to a model built for 64 px must be refused";
  } catch (const c10::Error& e) {
    EXPECT_NE(std::string(e.what()).find("built for [B, 3, 64, 64]"), std::string::npos) << e.what();
  }
  EXPECT_THROW(attnzoo::models::TransNeXt(attnzoo::models::TransNeXtOptions().img_size(48)), c10::Error);
}

// The tables the model passes equal the ones the module computes itself; another map size is refused.
TEST(MoH, AggregatedAttentionTablesAndMapSize) {
  torch::manual_seed(3);
  AggregatedAttention a(AggregatedAttentionOptions(16, {6, 4}).num_heads(2).sr_ratio(2).shared_head(1).routed_head(1));
  a->to(torch::kDouble);
  a->eval();
  const at::Tensor x = torch::randn({2, 24, 16}, torch::kDouble);
  const auto [idx, table] = relative_position_cpb({6, 4}, {3, 2});
  EXPECT_LT((a->forward(x, 6, 4) - a->forward(x, 6, 4, idx, table)).abs().max().item<double>(), 1e-15);
  EXPECT_THROW(a->forward(torch::randn({2, 24, 16}, torch::kDouble), 4, 6), c10::Error);
  EXPECT_THROW(AggregatedAttention(AggregatedAttentionOptions(16, {6, 4}).num_heads(2).window_size(4).shared_head(2)), c10::Error);
}
