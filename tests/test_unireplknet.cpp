// UniRepLKNet's re-parameterisation: our reparameterize() / merge_dilated_branches() on the official training-form
// weights give the official deploy form (same keys, same values and outputs to float64 rounding), for blocks and
// a whole reduced model; the 1-D block merges exactly too; the dilated kernels sit where the dilated conv reads.
#include "test_util.h"

#include <attnzoo/checkpoint/safetensors.h>
#include <attnzoo/checkpoint/state_dict.h>
#include <attnzoo/models/load.h>
#include <attnzoo/models/registry.h>
#include <attnzoo/models/unireplknet.h>
#include <attnzoo/modules/unireplknet.h>

#include <gtest/gtest.h>
#include <torch/torch.h>

using namespace attnzoo;
using namespace attnzoo::modules;

namespace {

checkpoint::TensorDict fixture(const std::string& name, const std::string& what) {
  return checkpoint::read_safetensors(test::fixtures_dir() / "unireplknet" / (name + "." + what + ".safetensors")).tensors;
}

/// Our state_dict equals `want` key for key (order included) and value for value.
void expect_same_state(torch::nn::Module& m, const checkpoint::TensorDict& want, const std::string& what) {
  const auto got = checkpoint::state_dict(m);
  std::vector<std::string> got_keys, want_keys;
  for (const auto& item : got) got_keys.push_back(item.key());
  for (const auto& item : want) want_keys.push_back(item.key());
  ASSERT_EQ(got_keys, want_keys) << what;
  for (const auto& item : want)
    EXPECT_LT(test::max_abs_diff(got[item.key()], item.value()), 1e-12) << what << " " << item.key();
}

template <class Holder>
void check_block(Holder m, const std::string& name, void (*reparam)(Holder&)) {
  m->to(torch::kDouble);
  m->eval();
  checkpoint::load_state_dict(*m, fixture(name, "weights"), /*strict=*/true, name);
  const auto io = fixture(name + "_deploy", "io");
  torch::NoGradGuard ng;
  reparam(m);
  expect_same_state(*m, fixture(name + "_deploy", "weights"), name);
  EXPECT_LT(test::max_abs_diff(m->forward(io["x"]), io["y"]), 1e-12) << name;
}

}  // namespace

TEST(UniRepLKNet, ReparameterisationGivesTheOfficialDeployForm) {
  check_block<DilatedReparamBlock>(DilatedReparamBlock(8, 13), "dilated_reparam_block_c8_k13",
                                   [](DilatedReparamBlock& b) { b->merge_dilated_branches(); });
  for (const auto& [name, dim, k, ffn] : std::vector<std::tuple<std::string, int64_t, int64_t, double>>{
           {"unireplknet_block_c8_k13", 8, 13, 4.0}, {"unireplknet_block_c12_k3", 12, 3, 3.0}, {"unireplknet_block_c8_k0", 8, 0, 4.0}})
    check_block<UniRepLKNetBlock>(UniRepLKNetBlock(UniRepLKNetBlockOptions(dim, k).ffn_factor(ffn)), name,
                                  [](UniRepLKNetBlock& b) { b->reparameterize(); });
}

TEST(UniRepLKNet, ModelReparameterisationKeepsTheLogits) {
  const auto spec = test::read_json(test::fixtures_dir() / "unireplknet" / "unireplknet_reduced_64.json");
  auto model = models::create_model("unireplknet", spec.at("config"));
  model->to(torch::kDouble);
  model->eval();
  models::load_weights(*model, fixture("unireplknet_reduced_64", "weights"), "unireplknet_reduced_64");
  torch::NoGradGuard ng;
  std::dynamic_pointer_cast<models::UniRepLKNetImpl>(model)->reparameterize_unireplknet();
  expect_same_state(*model, fixture("unireplknet_reduced_64_deploy", "weights"), "model");
  const auto io = fixture("unireplknet_reduced_64_deploy", "io");
  EXPECT_LT(test::max_abs_diff(model->forward(io["x"]), io["logits"]), 1e-11);
}

TEST(UniRepLKNet, OneDBlockMergesExactlyAndKeepsPaddingOut) {
  torch::manual_seed(0);
  DilatedReparamBlock1D b(6, 9);
  b->to(torch::kDouble);
  {
    torch::NoGradGuard ng;
    for (auto& p : b->parameters()) p.add_(torch::randn_like(p) * 0.1);
    for (auto& buf : b->named_buffers())
      if (buf.key().find("running_var") != std::string::npos) buf.value().uniform_(0.5, 1.5);
  }
  b->eval();
  const at::Tensor x = torch::randn({2, 40, 6}, torch::kDouble);
  at::Tensor mask = torch::zeros({2, 40}, torch::kBool);
  mask[1].slice(0, 30).fill_(true);
  torch::NoGradGuard ng;
  const at::Tensor before = b(x, mask);
  b->merge_dilated_branches();
  EXPECT_TRUE(b->merged());
  EXPECT_LT((b(x, mask) - before).abs().max().item<double>(), 1e-13);
  EXPECT_EQ(before.masked_select(mask.unsqueeze(-1)).abs().max().item<double>(), 0.0);
  std::vector<std::string> keys;
  for (const auto& item : checkpoint::state_dict(*b)) keys.push_back(item.key());
  EXPECT_EQ(keys, (std::vector<std::string>{"lk_origin.weight", "lk_origin.bias"}));
}

TEST(UniRepLKNet, UndilatedKernelHasTheTapsWhereTheDilatedConvReads) {
  const at::Tensor k = torch::arange(1, 10, torch::kDouble).view({1, 1, 3, 3});
  const at::Tensor big = undilate_kernel(k, 2, 7);  // 3 taps at dilation 2 span 5, centred in 7
  EXPECT_EQ(big.sizes(), (std::vector<int64_t>{1, 1, 7, 7}));
  EXPECT_EQ(big[0][0][1][1].item<double>(), 1.0);
  EXPECT_EQ(big[0][0][3][3].item<double>(), 5.0);
  EXPECT_EQ(big[0][0][5][5].item<double>(), 9.0);
  EXPECT_EQ(big.sum().item<double>(), 45.0);
  // Convolving with it equals the dilated convolution.
  const at::Tensor x = torch::randn({1, 1, 12, 12}, torch::kDouble);
  const at::Tensor a = torch::conv2d(x, k, {}, 1, 2, 2), b = torch::conv2d(x, big, {}, 1, 3);
  EXPECT_LT((a - b).abs().max().item<double>(), 1e-12);
  EXPECT_THROW(dilated_reparam_branches(8), std::invalid_argument);
}
