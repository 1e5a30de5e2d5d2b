// Google Benchmark programs for attnzoo. Results are written down in bench/README.md.
//   build/bench/attnzoo_bench --benchmark_filter=Loader
#include <attnzoo/datasets/dataset.h>
#include <attnzoo/datasets/loader.h>
#include <attnzoo/modules/agent.h>
#include <attnzoo/modules/biformer.h>
#include <attnzoo/modules/convit.h>
#include <attnzoo/modules/davit.h>
#include <attnzoo/modules/depthwise.h>
#include <attnzoo/modules/fused_attention.h>
#include <attnzoo/modules/halo_attn.h>
#include <attnzoo/modules/litv2.h>
#include <attnzoo/modules/van.h>
#include <attnzoo/modules/nat.h>
#include <attnzoo/modules/sequence.h>
#include <attnzoo/modules/moh.h>
#include <attnzoo/modules/volo.h>
#include <attnzoo/modules/unireplknet.h>
#include <attnzoo/modules/sgconv.h>
#include <attnzoo/modules/lightning_attn.h>
#include <attnzoo/modules/sigmoid_attn.h>

#include <benchmark/benchmark.h>
#include <torch/torch.h>

namespace {

using namespace attnzoo;

// LKA forward (inference) at the four VAN stage resolutions of a 224 input.
void BM_LKA_Forward(benchmark::State& st) {
  const int64_t hw = st.range(0), dim = st.range(1);
  modules::LKA lka{modules::LKAOptions(dim)};
  lka->eval();
  auto x = torch::randn({8, dim, hw, hw});
  torch::NoGradGuard ng;
  for (auto _ : st) benchmark::DoNotOptimize(lka(x));
  st.SetItemsProcessed(st.iterations() * 8);
}
BENCHMARK(BM_LKA_Forward)->Args({56, 64})->Args({28, 128})->Args({14, 320})->Args({7, 512})->Unit(benchmark::kMillisecond);

// HaloAttention forward (inference, batch 8) at halonet26t's attention layers (256 input):
// stage 3 (16x16, 256 ch), stage 4 first block (16x16 -> 8x8 strided queries, 512 ch), stage 4 (8x8, 512).
void BM_HaloAttention_Forward(benchmark::State& st) {
  const int64_t hw = st.range(0), dim = st.range(1), stride = st.range(2);
  modules::HaloAttention halo{modules::HaloAttentionOptions(dim).num_heads(8).block_size(8).halo_size(2).stride(stride)};
  halo->eval();
  auto x = torch::randn({8, dim, hw, hw});
  torch::NoGradGuard ng;
  for (auto _ : st) benchmark::DoNotOptimize(halo(x));
  st.SetItemsProcessed(st.iterations() * 8);
}
BENCHMARK(BM_HaloAttention_Forward)->Args({16, 256, 1})->Args({16, 512, 2})->Args({8, 512, 1})->Unit(benchmark::kMillisecond);

// Neighborhood attention, k = 7, batch 8, at nat_mini's first three levels (56x56 2 heads, 28x28 4 heads,
// 14x14 8 heads; head dim 32): our kernels (na_qk + softmax + na_av) vs the naive gather path
// (na_reference: copies K and V per query). Args: map side, naive?, with backward?
void BM_NeighborhoodAttention(benchmark::State& st) {
  const int64_t hw = st.range(0), heads = 2 * 56 / hw;
  const bool naive = st.range(1) != 0, backward = st.range(2) != 0;
  torch::manual_seed(0);
  auto make = [&] { return torch::randn({8, heads, hw, hw, 32}).requires_grad_(backward); };
  auto q = make(), k = make(), v = make();
  auto rpb = torch::randn({heads, 13, 13}).requires_grad_(backward);
  std::unique_ptr<torch::NoGradGuard> ng;
  if (!backward) ng = std::make_unique<torch::NoGradGuard>();
  for (auto _ : st) {
    at::Tensor y = naive ? modules::na_reference(q, k, v, rpb, {7, 7}, {1, 1})
                         : modules::na_av(modules::na_qk(q, k, rpb, {7, 7}, {1, 1}).softmax(-1), v, {7, 7}, {1, 1});
    if (backward) y.sum().backward();
    benchmark::DoNotOptimize(y);
  }
  st.SetItemsProcessed(st.iterations() * 8);
}
BENCHMARK(BM_NeighborhoodAttention)
    ->ArgsProduct({{56, 28, 14}, {0, 1}, {0, 1}})
    ->ArgNames({"hw", "naive", "bwd"})
    ->Unit(benchmark::kMillisecond);

// Sequence attention complexity: forward of one 1-D module (dim 64, 4 heads, batch 1) over L = 1k .. 16k.
// kinds: 0 softmax (quadratic), 1 neighborhood k=31, 2 block-local (block 128, halo 64), 3 agent (64 agents),
// 4 LKA-1D, 5 HiLo-1D (window 16, alpha 0.5), 6 GPSA-1D, 7 bi-level routing (regions 128, top-4),
// 8 channel group (DaViT), 9 sigmoid, 10 lightning (bidirectional, block 64), 11 SGConv (bidirectional, kernel 32),
// 12 UniRepLKNet's dilated re-param block (k13), 13 VOLO outlook (k3), 14 MoH (2 shared + 1 routed of 4 heads).
// The quadratic ones (softmax, GPSA, sigmoid, MoH) skip 16k.
void BM_SequenceAttention(benchmark::State& st) {
  const int64_t kind = st.range(0), L = st.range(1), C = 64;
  if ((kind == 0 || kind == 6 || kind == 9 || kind == 14) && L > 8192) {
    st.SkipWithError("quadratic at 16k: 4 GiB attention matrix");
    return;
  }
  torch::manual_seed(0);
  modules::SoftmaxAttention1D sm(C, 4);
  modules::NeighborhoodAttention1D na(modules::NeighborhoodAttentionOptions(C, 4, 31));
  modules::BlockLocalAttention1D bl(modules::BlockLocalAttention1DOptions(C, 4).block(128).halo(64));
  modules::AgentAttention1D ag(modules::AgentAttention1DOptions(C, 4).agent_num(64));
  modules::LKA1D lka(C);
  modules::HiLo1D hilo(modules::HiLo1DOptions(C, 4).window(16).alpha(0.5));
  modules::GPSA1D gpsa(C, 4);
  modules::BiLevelRoutingAttention1D bra(modules::BiLevelRoutingAttention1DOptions(C, 4).block(128).topk(4));
  modules::ChannelGroupAttention1D cga(C, 4);
  modules::SigmoidAttention1D sig(C, 4);
  modules::TnlAttention tnl(modules::TnlAttentionOptions(C, 4).causal(false));
  modules::GConv sg(modules::GConvOptions(C).l_max(L).kernel_dim(32).bidirectional(true).transposed(false));
  modules::DilatedReparamBlock1D replk(C, 13);
  replk->eval();
  modules::OutlookAttention1D volo(C, 4);
  modules::MoHAttention1D moh(modules::MoHAttention1DOptions(C, 4).shared_head(2).routed_head(1));
  const auto x = torch::randn({1, L, C});
  torch::NoGradGuard ng;
  for (auto _ : st) {
    at::Tensor y;
    switch (kind) {
      case 0: y = sm(x); break;
      case 1: y = na(x); break;
      case 2: y = bl(x); break;
      case 3: y = ag(x); break;
      case 5: y = hilo(x); break;
      case 6: y = gpsa(x); break;
      case 7: y = bra(x); break;
      case 8: y = cga(x); break;
      case 9: y = sig(x); break;
      case 10: y = tnl(x); break;
      case 11: y = sg(x); break;
      case 12: y = replk(x); break;
      case 13: y = volo(x); break;
      case 14: y = moh(x); break;
      default: y = lka(x);
    }
    benchmark::DoNotOptimize(y);
  }
  st.SetItemsProcessed(st.iterations() * L);
}
BENCHMARK(BM_SequenceAttention)
    ->ArgsProduct({{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14}, {1024, 2048, 4096, 8192, 16384}})
    ->ArgNames({"kind", "L"})
    ->Unit(benchmark::kMillisecond);

// Softmax attention (batch 8, fp32) at the shapes of the families that use it: attnzoo's kernel (path 1), LibTorch's
// fused scaled_dot_product_attention (path 2; flash attention on CPU in 2.2+, the composition on 1.13) and the
// reference (path 0). Args: problems (batch x windows x heads), N, M, head dim, path, backward.
void BM_SoftmaxAttention(benchmark::State& st) {
  const int64_t L = st.range(0), N = st.range(1), M = st.range(2), d = st.range(3), path = st.range(4);
  const bool backward = st.range(5) != 0;
  auto q = torch::randn({L, N, d}).requires_grad_(backward), k = torch::randn({L, M, d}).requires_grad_(backward),
       v = torch::randn({L, M, d}).requires_grad_(backward);
  const double scale = 1.0 / std::sqrt(static_cast<double>(d));
  std::unique_ptr<torch::NoGradGuard> ng;
  if (!backward) ng = std::make_unique<torch::NoGradGuard>();
  for (auto _ : st) {
    auto y = path == 1   ? modules::softmax_attention_kernel(q, k, v, scale)
             : path == 2 ? modules::softmax_attention_sdpa(q, k, v, scale)
                         : modules::softmax_attention_reference(q, k, v, scale);
    if (backward) y.sum().backward();
    benchmark::DoNotOptimize(y);
  }
  st.SetItemsProcessed(st.iterations() * 8);
  st.SetLabel(std::string(path == 1 ? "kernel" : path == 2 ? "sdpa" : "reference") + (backward ? " fwd+bwd" : " fwd"));
}
BENCHMARK(BM_SoftmaxAttention)
    ->ArgsProduct({{8 * 64 * 3}, {49}, {49}, {32}, {0, 1, 2}, {0, 1}})   // davit_tiny stage 1 windows
    ->ArgsProduct({{8 * 3}, {197}, {197}, {64}, {0, 1, 2}, {0, 1}})      // deit/convit tiny
    ->ArgsProduct({{8 * 3}, {197}, {49}, {64}, {0, 1, 2}, {0, 1}})       // agent tokens
    ->ArgsProduct({{8 * 2}, {3136}, {49}, {32}, {0, 1, 2}, {0, 1}})      // pvt/litv2 stage 1 (sr attention)
    ->Unit(benchmark::kMillisecond);

// Depthwise convs (batch 8 unless said): attnzoo's kernels (path 1) vs the reference (path 0: ATen's conv2d with
// the padding-only taps dropped), NCHW or channels-last, inference or forward + backward.
// Args: map side, channels, kernel, dilation, path, channels-last, backward.
void BM_Depthwise(benchmark::State& st) {
  const int64_t hw = st.range(0), dim = st.range(1), k = st.range(2), dil = st.range(3);
  const bool kernel = st.range(4) != 0, nhwc = st.range(5) != 0, backward = st.range(6) != 0;
  const int64_t pad = dil * (k - 1) / 2;
  auto w = torch::randn({dim, 1, k, k}).requires_grad_(backward), b = torch::randn({dim}).requires_grad_(backward);
  auto x = torch::randn({8, dim, hw, hw});
  if (nhwc) x = x.contiguous(at::MemoryFormat::ChannelsLast);
  x.requires_grad_(backward);
  std::unique_ptr<torch::NoGradGuard> ng;
  if (!backward) ng = std::make_unique<torch::NoGradGuard>();
  for (auto _ : st) {
    auto y = kernel ? modules::depthwise_conv2d_kernel(x, w, b, {pad, pad}, {dil, dil})
                    : modules::depthwise_conv2d_reference(x, w, b, {pad, pad}, {dil, dil});
    if (backward) y.sum().backward();
    benchmark::DoNotOptimize(y);
  }
  st.SetItemsProcessed(st.iterations() * 8);
  st.SetLabel(std::string(kernel ? "kernel" : "reference") + (nhwc ? " NHWC" : " NCHW") + (backward ? " fwd+bwd" : " fwd"));
}
BENCHMARK(BM_Depthwise)
    ->ArgsProduct({{56}, {64}, {5}, {1}, {0, 1}, {0, 1}, {0, 1}})
    ->ArgsProduct({{56}, {64}, {7}, {3}, {0, 1}, {0, 1}, {0, 1}})
    ->ArgsProduct({{14}, {320}, {7}, {3}, {0, 1}, {0, 1}, {0, 1}})
    ->ArgsProduct({{7}, {32}, {7}, {3}, {0, 1}, {0, 1}, {0, 1}})
    ->ArgsProduct({{28}, {512}, {3}, {1}, {0, 1}, {0, 1}, {0, 1}})
    ->ArgNames({"hw", "C", "k", "d", "kernel", "nhwc", "bwd"})
    ->Unit(benchmark::kMillisecond);

// Loader throughput on Fashion-MNIST (decode + train augmentation + batching), images/s.
void BM_Loader_FashionMnist(benchmark::State& st) {
  auto ds = datasets::open_dataset("fashion-mnist", "train");
  datasets::TransformOptions to;
  to.img_size = st.range(1) ? 224 : 28;
  to.in_chans = 3;
  if (st.range(1)) to.auto_augment = "rand-m9-mstd0.5-inc1";
  to.reprob = st.range(1) ? 0.25 : 0.0;
  datasets::LoaderOptions lo;
  lo.batch_size = 128;
  lo.workers = static_cast<int>(st.range(0));
  datasets::Loader loader(ds, datasets::Transform(to, true), lo);
  int64_t images = 0, epoch = 0;
  loader.start_epoch(epoch);
  for (auto _ : st) {
    auto b = loader.next();
    if (!b) {
      loader.start_epoch(++epoch);
      b = loader.next();
    }
    images += b->images.size(0);
  }
  st.SetItemsProcessed(images);
  st.SetLabel(st.range(1) ? "224px RRC+flip+RandAugment+erasing" : "28px RRC+flip");
}
BENCHMARK(BM_Loader_FashionMnist)->Args({1, 0})->Args({2, 0})->Args({1, 1})->Args({2, 1})->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

int main(int argc, char** argv) {
  at::set_num_threads(1);  // one intra-op thread: comparable numbers on a loaded 2-core machine
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
