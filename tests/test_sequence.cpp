// The 1-D (sequence) attention modules: shapes, padding masks (padded tokens never influence the others,
// whatever they hold), causality, gradients, and agreement of the local ones with full attention where
// their window covers the whole sequence.
#include <attnzoo/modules/agent.h>
#include <attnzoo/modules/biformer.h>
#include <attnzoo/modules/convit.h>
#include <attnzoo/modules/davit.h>
#include <attnzoo/modules/halo_attn.h>
#include <attnzoo/modules/litv2.h>
#include <attnzoo/modules/lightning_attn.h>
#include <attnzoo/modules/nat.h>
#include <attnzoo/modules/sgconv.h>
#include <attnzoo/modules/unireplknet.h>
#include <attnzoo/modules/moh.h>
#include <attnzoo/modules/volo.h>
#include <attnzoo/modules/sigmoid_attn.h>
#include <attnzoo/modules/van.h>
#include <attnzoo/modules/sequence.h>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <functional>

using namespace attnzoo::modules;

namespace {

using Fn = std::function<at::Tensor(const at::Tensor&, const at::Tensor&)>;

struct Named {
  std::string name;
  std::shared_ptr<torch::nn::Module> module;
  Fn fn;
};

std::vector<Named> all_modules(int64_t C) {
  std::vector<Named> v;
  SoftmaxAttention1D sm(SoftmaxAttention1DOptions(C, 4));
  v.push_back({"softmax", sm.ptr(), [sm](const at::Tensor& x, const at::Tensor& m) mutable { return sm(x, m); }});
  NeighborhoodAttention1D na(NeighborhoodAttentionOptions(C, 4, 5).dilation(2));
  v.push_back({"neighborhood", na.ptr(), [na](const at::Tensor& x, const at::Tensor& m) mutable { return na(x, m); }});
  BlockLocalAttention1D bl(BlockLocalAttention1DOptions(C, 4).block(8).halo(4));
  v.push_back({"block_local", bl.ptr(), [bl](const at::Tensor& x, const at::Tensor& m) mutable { return bl(x, m); }});
  AgentAttention1D ag(AgentAttention1DOptions(C, 4).agent_num(6));
  v.push_back({"agent", ag.ptr(), [ag](const at::Tensor& x, const at::Tensor& m) mutable { return ag(x, m); }});
  LKA1D lka(C);
  v.push_back({"lka", lka.ptr(), [lka](const at::Tensor& x, const at::Tensor& m) mutable { return lka(x, m); }});
  HiLo1D hilo(HiLo1DOptions(C, 4).window(8).alpha(0.5));
  v.push_back({"hilo", hilo.ptr(), [hilo](const at::Tensor& x, const at::Tensor& m) mutable { return hilo(x, m); }});
  BiLevelRoutingAttention1D bra(BiLevelRoutingAttention1DOptions(C, 4).block(6).topk(3));
  v.push_back({"bra", bra.ptr(), [bra](const at::Tensor& x, const at::Tensor& m) mutable { return bra(x, m); }});
  ChannelGroupAttention1D cga(ChannelGroupAttention1DOptions(C, 4));
  v.push_back({"channel_group", cga.ptr(), [cga](const at::Tensor& x, const at::Tensor& m) mutable { return cga(x, m); }});
  GPSA1D gpsa(GPSA1DOptions(C, 4));
  v.push_back({"gpsa", gpsa.ptr(), [gpsa](const at::Tensor& x, const at::Tensor& m) mutable { return gpsa(x, m); }});
  SigmoidAttention1D sig(SigmoidAttention1DOptions(C, 4));
  v.push_back({"sigmoid", sig.ptr(), [sig](const at::Tensor& x, const at::Tensor& m) mutable { return sig(x, m); }});
  SigmoidAttention1D sig2(SigmoidAttention1DOptions(C, 4)
                              .attn_activ_fn(AttnActivation::SeqLenNormalizedSigmoid)
                              .qk_transform(QKTransform::RoPE)
                              .attn_logits_transform(AttnLogitsTransform::ALiBi)
                              .causal(true));
  v.push_back({"sigmoid_rope_alibi_causal", sig2.ptr(),
               [sig2](const at::Tensor& x, const at::Tensor& m) mutable { return sig2(x, m); }});
  TnlAttention tnl(TnlAttentionOptions(C, 4).causal(false).block_size(8));
  v.push_back({"lightning", tnl.ptr(), [tnl](const at::Tensor& x, const at::Tensor& m) mutable { return tnl(x, m); }});
  GConv sg(GConvOptions(C).l_max(64).kernel_dim(8).transposed(false).bidirectional(true).postact(GConvPostAct::GLU));
  v.push_back({"sgconv", sg.ptr(), [sg](const at::Tensor& x, const at::Tensor& m) mutable { return sg(x, m); }});
  DilatedReparamBlock1D drb(C, 13);
  drb->eval();  // BatchNorm statistics of the batch would mix padded zeros in
  v.push_back({"replk", drb.ptr(), [drb](const at::Tensor& x, const at::Tensor& m) mutable { return drb(x, m); }});
  OutlookAttention1D volo(OutlookAttention1DOptions(C, 4).kernel_size(5));
  v.push_back({"volo", volo.ptr(), [volo](const at::Tensor& x, const at::Tensor& m) mutable { return volo(x, m); }});
  MoHAttention1D moh(MoHAttention1DOptions(C, 4).shared_head(2).routed_head(1));
  v.push_back({"moh", moh.ptr(), [moh](const at::Tensor& x, const at::Tensor& m) mutable { return moh(x, m); }});
  for (auto& n : v) n.module->to(torch::kDouble);
  return v;
}

TEST(SequenceModules, PaddedTokensNeverInfluenceTheOthers) {
  torch::manual_seed(0);
  const int64_t B = 2, L = 37, C = 32;
  const at::Tensor x = torch::randn({B, L, C}, torch::kDouble);
  at::Tensor mask = torch::zeros({B, L}, torch::kBool);
  mask[0].slice(0, 28).fill_(true);  // sample 0: 9 padding tokens at the end
  mask[1].slice(0, 3, 6).fill_(true);  // sample 1: a hole in the middle
  at::Tensor x2 = x.clone();
  x2.masked_scatter_(mask.unsqueeze(-1).expand_as(x2), torch::randn({B, L, C}, torch::kDouble).mul(100).masked_select(mask.unsqueeze(-1).expand_as(x2)));
  for (auto& m : all_modules(C)) {
    const at::Tensor y = m.fn(x, mask), y2 = m.fn(x2, mask);
    ASSERT_EQ(y.sizes(), x.sizes()) << m.name;
    EXPECT_FALSE(y.isnan().any().item<bool>()) << m.name;
    const at::Tensor valid = mask.logical_not().unsqueeze(-1);
    EXPECT_LT((y - y2).abs().masked_select(valid).max().item<double>(), 1e-10) << m.name;
    EXPECT_EQ(y.masked_select(mask.unsqueeze(-1)).abs().max().item<double>(), 0.0) << m.name << ": padded outputs";
  }
}

TEST(SequenceModules, ForwardBackwardWithoutMask) {
  torch::manual_seed(1);
  for (auto& m : all_modules(16)) {
    m.module->to(torch::kFloat);
    const at::Tensor x = torch::randn({2, 50, 16}, torch::requires_grad());
    const at::Tensor y = m.fn(x, {});
    ASSERT_EQ(y.sizes(), x.sizes()) << m.name;
    y.pow(2).sum().backward();
    EXPECT_TRUE(x.grad().defined() && x.grad().isfinite().all().item<bool>()) << m.name;
    for (const auto& p : m.module->parameters()) EXPECT_TRUE(p.grad().defined()) << m.name;
  }
}

TEST(SequenceModules, CausalSoftmaxAndNeighborhoodSeeOnlyThePast) {
  torch::manual_seed(2);
  SoftmaxAttention1D sm(SoftmaxAttention1DOptions(16, 2).causal(true));
  NeighborhoodAttention1D na(NeighborhoodAttentionOptions(16, 2, 4).causal(true).bias(false));
  SigmoidAttention1D sig(SigmoidAttention1DOptions(16, 2).causal(true).qk_transform(QKTransform::RoPE));
  TnlAttention tnl(TnlAttentionOptions(16, 2).block_size(4));
  GConv sg(GConvOptions(16).l_max(32).kernel_dim(4).transposed(false));
  const at::Tensor x = torch::randn({1, 20, 16});
  at::Tensor x2 = x.clone();
  x2.select(1, 15).add_(10.0);
  for (auto y : {std::make_pair(sm(x), sm(x2)), std::make_pair(na(x), na(x2)), std::make_pair(sig(x), sig(x2)),
                 std::make_pair(tnl(x), tnl(x2)),
                 std::make_pair(sg(x), sg(x2))}) {
    EXPECT_LT((y.first.slice(1, 0, 15) - y.second.slice(1, 0, 15)).abs().max().item<double>(), 1e-6);
    EXPECT_GT((y.first.select(1, 15) - y.second.select(1, 15)).abs().max().item<double>(), 1e-4);
  }
}

// With a window covering the whole sequence, block-local attention is full attention.
TEST(SequenceModules, BlockLocalEqualsSoftmaxWhenTheHaloCoversEverything) {
  torch::manual_seed(3);
  SoftmaxAttention1D sm(SoftmaxAttention1DOptions(16, 2));
  BlockLocalAttention1D bl(BlockLocalAttention1DOptions(16, 2).block(4).halo(32));
  bl->qkv->weight.data().copy_(sm->qkv->weight);
  bl->qkv->bias.data().copy_(sm->qkv->bias);
  bl->proj->weight.data().copy_(sm->proj->weight);
  bl->proj->bias.data().copy_(sm->proj->bias);
  const at::Tensor x = torch::randn({2, 30, 16}, torch::kFloat);
  at::Tensor mask = torch::zeros({2, 30}, torch::kBool);
  mask[1].slice(0, 25).fill_(true);
  EXPECT_LT((sm(x, mask) - bl(x, mask)).abs().max().item<double>(), 1e-5);
}

// Without padding, the 1-D channel group attention is DaViT's ChannelAttention (same keys, same numbers).
TEST(SequenceModules, ChannelGroupEqualsDaViTChannelAttention) {
  torch::manual_seed(4);
  ChannelAttention ref(ChannelAttentionOptions(32, 4).qkv_bias(true));
  ChannelGroupAttention1D cga(ChannelGroupAttention1DOptions(32, 4));
  torch::NoGradGuard ng;
  for (const auto& p : ref->named_parameters()) cga->named_parameters()[p.key()].copy_(p.value());
  const at::Tensor x = torch::randn({2, 21, 32});
  EXPECT_LT((ref(x) - cga(x)).abs().max().item<double>(), 1e-5);
}

TEST(SequenceModules, ShapeErrorsAreClear) {
  SoftmaxAttention1D sm(SoftmaxAttention1DOptions(16, 2));
  try {
    sm(torch::randn({2, 10, 8}));
    FAIL();
  } catch (const c10::Error& e) {
    EXPECT_NE(std::string(e.what()).find("expected [B, L, 16]"), std::string::npos) << e.what();
  }
  EXPECT_THROW(sm(torch::randn({2, 10, 16}), torch::zeros({2, 9}, torch::kBool)), c10::Error);
  EXPECT_THROW(SoftmaxAttention1D(SoftmaxAttention1DOptions(16, 3)), c10::Error);
}

}  // namespace
