// Data-parallel training over c10d Gloo, on loopback: replicas stay bit-identical, 2 ranks x batch B/2
// equal 1 process x batch B, and a dying worker makes the run fail fast with a clear error.
#include "test_util.h"

#include <attnzoo/checkpoint/safetensors.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#include <torch/torch.h>

#include <chrono>
#include <fstream>

namespace fs = std::filesystem;
using namespace attnzoo;

namespace {

// A LayerNorm model (no BatchNorm: its statistics are per replica), no dropout / drop path / mixup.
std::string common_args(const fs::path& data, const fs::path& out) {
  return " train --dataset mnist:" + data.string() +
         " --model nat --set embed_dim=8 'depths=[1,1]' 'num_heads=[1,2]' kernel_size=3 drop_path_rate=0"
         " --img-size 16 --in-chans 1 --epochs 2 --lr 2e-3 --warmup-epochs 0 --mixup 0 --cutmix 0"
         " --label-smoothing 0 --reprob 0 --workers 1 --output " + out.string();
}

TEST(Distributed, TwoRanksMatchOneProcessAndStayIdentical) {
  const auto dir = test::temp_dir("dist_equal");
  const auto data = test::write_tiny_idx(dir / "data", 64, 16);
  std::string out;
  ASSERT_EQ(test::run_command(test::cli() + " --threads 1" + common_args(data, dir / "one") + " --batch-size 16", &out), 0) << out;
  // --dist-verify: after every update the ranks compare their weights bit for bit (the run fails otherwise).
  ASSERT_EQ(test::run_command(test::cli() + common_args(data, dir / "two") + " --batch-size 8 --nproc 2 --dist-verify", &out), 0)
      << out;
  EXPECT_NE(out.find("launching 2 workers"), std::string::npos) << out;
  const auto a = checkpoint::read_safetensors(dir / "one" / "last.safetensors").tensors;
  const auto b = checkpoint::read_safetensors(dir / "two" / "last.safetensors").tensors;
  int compared = 0;
  for (const auto& item : a) {
    if (item.key().rfind("state_dict.", 0) != 0) continue;
    const at::Tensor& x = item.value();
    ASSERT_TRUE(b.contains(item.key())) << item.key();
    EXPECT_LT(test::max_abs_diff(x, b[item.key()]), 2e-5) << item.key();
    ++compared;
  }
  EXPECT_GT(compared, 10);
}

// --sync-bn: VAN (BatchNorm in every block and patch embedding) on 2 ranks x 8 images trains as 1 process x 16
// images, running statistics included; without it each rank normalises with its own half batch and they differ.
// SGD, not Adam: the conv biases in front of a BatchNorm have a zero gradient up to rounding, which Adam's
// normalisation would blow up into lr-sized steps of noise.
TEST(Distributed, SyncBatchNormTwoRanksMatchOneProcess) {
  const auto dir = test::temp_dir("dist_sync_bn");
  const auto data = test::write_tiny_idx(dir / "data", 32, 16);
  auto args = [&](const std::string& run) {
    return " train --dataset mnist:" + data.string() +
           " --model van --set 'embed_dims=[8,8,16,16]' 'depths=[1,1,1,1]' 'mlp_ratios=[2,2,2,2]' drop_path_rate=0"
           " --img-size 32 --in-chans 1 --epochs 1 --opt sgd --lr 0.05 --warmup-epochs 0 --mixup 0 --cutmix 0"
           " --label-smoothing 0 --reprob 0 --no-rrc --hflip 0 --workers 1 --output " + (dir / run).string();
  };
  std::string out;
  ASSERT_EQ(test::run_command(test::cli() + " --threads 1" + args("one") + " --batch-size 16", &out), 0) << out;
  ASSERT_EQ(test::run_command(test::cli() + args("sync") + " --batch-size 8 --nproc 2 --sync-bn --dist-verify", &out), 0) << out;
  ASSERT_EQ(test::run_command(test::cli() + args("local") + " --batch-size 8 --nproc 2", &out), 0) << out;
  const auto one = checkpoint::read_safetensors(dir / "one" / "last.safetensors").tensors;
  const auto sync = checkpoint::read_safetensors(dir / "sync" / "last.safetensors").tensors;
  const auto local = checkpoint::read_safetensors(dir / "local" / "last.safetensors").tensors;
  double sync_diff = 0, local_diff = 0;
  int running = 0;
  for (const auto& item : one) {
    if (item.key().rfind("state_dict.", 0) != 0 || !item.value().is_floating_point()) continue;
    ASSERT_TRUE(sync.contains(item.key())) << item.key();
    sync_diff = std::max(sync_diff, test::max_abs_diff(item.value(), sync[item.key()]));
    local_diff = std::max(local_diff, test::max_abs_diff(item.value(), local[item.key()]));
    running += item.key().find("running_var") != std::string::npos;
  }
  EXPECT_GT(running, 8);
  EXPECT_LT(sync_diff, 2e-5);
  EXPECT_GT(local_diff, 1e-3) << "per-rank statistics should differ from the global batch's";
}

// --sched plateau: rank 0 alone evaluates, so the lr it lowers must reach the other rank (--dist-verify compares the
// replicas' weights bit for bit after every update: a rank on the old lr would diverge at once).
TEST(Distributed, PlateauLrReachesEveryRank) {
  const auto dir = test::temp_dir("dist_plateau");
  const auto data = test::write_tiny_idx(dir / "data", 32, 16);
  std::string out;
  std::string args = common_args(data, dir / "run");
  args.replace(args.find("--epochs 2"), 10, "--epochs 3");
  args.replace(args.find("--lr 2e-3"), 9, "--lr 0.4");
  ASSERT_EQ(test::run_command(test::cli() + args +
                                  " --batch-size 8 --nproc 2 --dist-verify --opt sgd --clip-grad 1e-12"
                                  " --min-lr 0 --sched plateau --patience-epochs 0 --decay-rate 0.5",
                              &out),
            0)
      << out;
  std::ifstream log(dir / "run" / "log.jsonl");
  std::vector<double> lrs;
  for (std::string line; std::getline(log, line);) {
    const auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_object() && j.value("type", "") == "epoch") lrs.push_back(j["lr"].get<double>());
  }
  EXPECT_EQ(lrs, (std::vector<double>{0.4, 0.4, 0.2})) << out;
}

TEST(Distributed, DeadWorkerFailsTheRunFast) {
  const auto dir = test::temp_dir("dist_dead");
  const auto data = test::write_tiny_idx(dir / "data", 64, 16);
  std::string out;
  const auto t0 = std::chrono::steady_clock::now();
  // torchrun-style: two independent processes; rank 1 dies after its 2nd update. Rank 0 must not hang.
  const std::string env = "WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=29731 OMP_NUM_THREADS=1 ";
  const std::string args = common_args(data, dir / "run") + " --batch-size 8 --dist-timeout 60";
  const int rc = test::run_command("(" + env + "RANK=1 ATTNZOO_FAULT_INJECT=1:2 " + test::cli() + args + " >/dev/null 2>&1 &) ; " +
                                       env + "RANK=0 " + test::cli() + args,
                                   &out);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_NE(rc, 0) << out;
  EXPECT_NE(out.find("distributed"), std::string::npos) << out;
  EXPECT_LT(secs, 50.0) << "the surviving rank waited for the timeout instead of failing on the closed connection";
  // The launcher reports which worker failed and stops the others.
  ASSERT_NE(test::run_command("ATTNZOO_FAULT_INJECT=1:2 " + test::cli() + common_args(data, dir / "run2") +
                                  " --batch-size 8 --nproc 2 --dist-timeout 60",
                              &out),
            0);
  EXPECT_NE(out.find("worker rank"), std::string::npos) << out;
}

// --grad-accum-steps 2 at batch 8 updates exactly as batch 16 does (same samples per update, gradients
// summed with each half's loss scaled by 1/2, the schedule counting updates), on the LayerNorm model.
TEST(GradAccum, TwoHalfBatchesEqualOneFullBatch) {
  const auto dir = test::temp_dir("grad_accum");
  const auto data = test::write_tiny_idx(dir / "data", 64, 16);
  std::string out;
  ASSERT_EQ(test::run_command(test::cli() + " --threads 1" + common_args(data, dir / "full") + " --batch-size 16", &out), 0) << out;
  ASSERT_EQ(test::run_command(test::cli() + " --threads 1" + common_args(data, dir / "accum") + " --batch-size 8 --grad-accum-steps 2", &out),
            0)
      << out;
  const auto a = checkpoint::read_safetensors(dir / "full" / "last.safetensors").tensors;
  const auto b = checkpoint::read_safetensors(dir / "accum" / "last.safetensors").tensors;
  int compared = 0;
  for (const auto& item : a) {
    if (item.key().rfind("state_dict.", 0) != 0) continue;
    EXPECT_LT(test::max_abs_diff(item.value(), b[item.key()]), 2e-5) << item.key();
    ++compared;
  }
  EXPECT_GT(compared, 10);
  // Recovery checkpoints must fall between updates.
  EXPECT_EQ(test::run_command(test::cli() + common_args(data, dir / "bad") + " --batch-size 8 --grad-accum-steps 2 --checkpoint-every 3", &out), 2);
  EXPECT_NE(out.find("--checkpoint-every: must be a multiple of grad_accum_steps (2)"), std::string::npos) << out;
}

// torchrun's default (TORCHELASTIC_USE_AGENT_STORE=True): its agent already serves the rendezvous store on
// MASTER_ADDR:MASTER_PORT, and every rank, rank 0 included, connects as a client. Here the test process plays
// the agent: it serves a TCPStore and launches the two ranks with the environment torchrun gives them.
class AgentStore {
 public:
  AgentStore() {
    c10d::TCPStoreOptions so;
    so.port = 0;  // any free port
    so.isServer = true;
    so.waitWorkers = false;
    so.timeout = std::chrono::seconds(60);
    store_ = c10::make_intrusive<c10d::TCPStore>("127.0.0.1", so);
  }
  std::string env(int rank) const {
    return "WORLD_SIZE=2 LOCAL_WORLD_SIZE=2 GROUP_RANK=0 RANK=" + std::to_string(rank) + " LOCAL_RANK=" +
           std::to_string(rank) + " MASTER_ADDR=127.0.0.1 MASTER_PORT=" + std::to_string(store_->getPort()) +
           " TORCHELASTIC_USE_AGENT_STORE=True TORCHELASTIC_RESTART_COUNT=0 OMP_NUM_THREADS=1 ";
  }

 private:
  c10::intrusive_ptr<c10d::TCPStore> store_;
};

TEST(Distributed, TorchrunAgentStoreMakesEveryRankAClient) {
  const auto dir = test::temp_dir("dist_agent");
  const auto data = test::write_tiny_idx(dir / "data", 32, 16);
  AgentStore agent;
  const std::string args = common_args(data, dir / "run") + " --batch-size 8";
  std::string out;
  // One subshell, so that run_command's redirection captures rank 0's stderr too.
  const int rc = test::run_command("((" + agent.env(1) + test::cli() + args + " > " + (dir / "rank1.log").string() +
                                       " 2>&1; echo $? > " + (dir / "rank1.rc").string() + ") & " + agent.env(0) +
                                       test::cli() + args + "; rc=$?; wait; exit $rc)",
                                   &out);
  ASSERT_EQ(rc, 0) << out;
  std::ifstream rc1(dir / "rank1.rc");
  int rank1 = -1;
  rc1 >> rank1;
  std::ifstream log1(dir / "rank1.log");
  EXPECT_EQ(rank1, 0) << std::string(std::istreambuf_iterator<char>(log1), {});
  EXPECT_NE(out.find("rank 0 of 2 (local 0 of 2, node 0, restart 0, torchrun agent store), device cpu"), std::string::npos) << out;
  EXPECT_TRUE(fs::exists(dir / "run" / "last.safetensors"));
}

TEST(Distributed, MissingRanksAreNamedWithinTheInitTimeout) {
  const auto dir = test::temp_dir("dist_missing");
  const auto data = test::write_tiny_idx(dir / "data", 32, 16);
  AgentStore agent;
  std::string out;
  const auto t0 = std::chrono::steady_clock::now();
  // Only rank 1 starts (rank 0 "died at start-up"): it names rank 0 after --dist-init-timeout, not 30 minutes.
  EXPECT_EQ(test::run_command(agent.env(1) + test::cli() + common_args(data, dir / "run") + " --batch-size 8 --dist-init-timeout 3", &out), 1)
      << out;
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_NE(out.find("rank(s) 0 never arrived within --dist-init-timeout 3 s"), std::string::npos) << out;
  EXPECT_LT(secs, 30.0);
}

// A data-parallel run killed mid-epoch and resumed (on 2 ranks) ends where the uninterrupted one does.
TEST(Distributed, ResumeAfterAKilledWorkerMatchesTheUninterruptedRun) {
  const auto dir = test::temp_dir("dist_resume");
  const auto data = test::write_tiny_idx(dir / "data", 64, 16);
  std::string out;
  ASSERT_EQ(test::run_command(test::cli() + common_args(data, dir / "full") + " --batch-size 8 --nproc 2", &out), 0) << out;
  // Rank 1 is killed after update 3 (rank 0 has checkpointed it); the run fails; resume it on 2 ranks.
  EXPECT_NE(test::run_command("ATTNZOO_FAULT_INJECT=1:3 " + test::cli() + common_args(data, dir / "cut") +
                                  " --batch-size 8 --nproc 2 --checkpoint-every 1",
                              &out),
            0);
  ASSERT_EQ(test::run_command(test::cli() + common_args(data, dir / "cut") + " --batch-size 8 --nproc 2 --resume " +
                                  (dir / "cut" / "last.safetensors").string(),
                              &out),
            0)
      << out;
  const auto a = checkpoint::read_safetensors(dir / "full" / "last.safetensors").tensors;
  const auto b = checkpoint::read_safetensors(dir / "cut" / "last.safetensors").tensors;
  for (const auto& item : a)
    if (item.key().rfind("state_dict.", 0) == 0) EXPECT_LT(test::max_abs_diff(item.value(), b[item.key()]), 1e-6) << item.key();
}

TEST(Distributed, MalformedEnvironmentIsAClearError) {
  std::string out;
  EXPECT_EQ(test::run_command("WORLD_SIZE=two " + test::cli() + " train --epochs 1", &out), 2) << out;
  EXPECT_NE(out.find("WORLD_SIZE"), std::string::npos) << out;
}

}  // namespace
