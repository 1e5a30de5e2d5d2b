// Released weights by name (issue #15): torch.hub's folders and hash rule, atomic file:// downloads, and
// --pretrained through the attnzoo executable.
#include "test_util.h"

#include <attnzoo/checkpoint/hub.h>
#include <attnzoo/checkpoint/safetensors.h>
#include <attnzoo/checkpoint/state_dict.h>
#include <attnzoo/models/load.h>
#include <attnzoo/models/registry.h>

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <optional>

namespace fs = std::filesystem;
using namespace attnzoo;
using test::error_of;

namespace {

bool contains(const std::string& s, const std::string& n) { return s.find(n) != std::string::npos; }

void write_text(const fs::path& p, const std::string& text) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << text;
}

std::string read_text(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// A small valid weights file (safetensors) and its sha256.
std::string write_weights(const fs::path& p) {
  fs::create_directories(p.parent_path());
  checkpoint::TensorDict d;
  d.insert("w", at::arange(6, at::kFloat).view({2, 3}));
  checkpoint::write_safetensors(p.string(), d);
  return checkpoint::sha256_of_file(p);
}

// ATTNZOO_HOME and TORCH_HOME pointed at fresh folders for one test, restored after it.
class WeightsHomes : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = test::temp_dir(::testing::UnitTest::GetInstance()->current_test_info()->name());
    for (const char* name : {"ATTNZOO_HOME", "TORCH_HOME"}) {
      const char* v = std::getenv(name);
      saved_.emplace_back(name, v ? std::optional<std::string>(v) : std::nullopt);
    }
    setenv("ATTNZOO_HOME", (root_ / "attnzoo").c_str(), 1);
    setenv("TORCH_HOME", (root_ / "torch").c_str(), 1);
  }
  void TearDown() override {
    for (const auto& [name, v] : saved_) {
      if (v) setenv(name.c_str(), v->c_str(), 1);
      else unsetenv(name.c_str());
    }
  }
  fs::path ours() const { return root_ / "attnzoo" / "checkpoints"; }
  fs::path torch_hub() const { return root_ / "torch" / "hub" / "checkpoints"; }
  fs::path root_;
  std::vector<std::pair<std::string, std::optional<std::string>>> saved_;
};

TEST(Hub, HashPrefixFollowsTorchHubsRule) {
  EXPECT_EQ(checkpoint::hash_prefix_of("halonet26t_a1h_256-3083328c.pth"), "3083328c");
  EXPECT_EQ(checkpoint::hash_prefix_of("van_tiny_754.pth.tar"), "");
  EXPECT_EQ(checkpoint::hash_prefix_of("a-b-12ab.pth"), "12ab");  // the first '-' is not followed by hex + '.'
  EXPECT_EQ(checkpoint::hash_prefix_of("w-ABCD.pth"), "");        // lower-case hex only, as torch.hub's regex
  EXPECT_EQ(checkpoint::hash_prefix_of("w-.pth"), "");
}

TEST(Hub, Sha256OfAFile) {
  const fs::path p = test::temp_dir("hub_sha") / "abc";
  write_text(p, "abc");
  EXPECT_EQ(checkpoint::sha256_of_file(p), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST_F(WeightsHomes, FoldersDefaultAndOrder) {
  const auto dirs = checkpoint::weights_dirs();
  ASSERT_EQ(dirs.size(), 2u);
  EXPECT_EQ(dirs[0], ours());
  EXPECT_EQ(dirs[1], torch_hub());
  unsetenv("ATTNZOO_HOME");
  unsetenv("TORCH_HOME");
  setenv("XDG_CACHE_HOME", (root_ / "xdg").c_str(), 1);
  EXPECT_EQ(checkpoint::weights_dirs()[0], root_ / "xdg" / "attnzoo" / "checkpoints");
  EXPECT_EQ(checkpoint::weights_dirs()[1], root_ / "xdg" / "torch" / "hub" / "checkpoints");
  unsetenv("XDG_CACHE_HOME");
}

TEST_F(WeightsHomes, LookupOrderAndHashCheck) {
  const checkpoint::WeightsSource src{"w.pth", "https://example.invalid/w.pth"};
  // Only torch.hub's folder has it (downloaded for Python): reused.
  write_weights(torch_hub() / "w.pth");
  EXPECT_EQ(checkpoint::find_weights(src, false), torch_hub() / "w.pth");
  // attnzoo's own folder comes first.
  write_weights(ours() / "w.pth");
  EXPECT_EQ(checkpoint::find_weights(src, false), ours() / "w.pth");

  // A torch.hub-style name is verified: the right prefix passes, a wrong one names both hashes.
  const std::string sha = write_weights(root_ / "tmp.safetensors");
  const std::string good = "m-" + sha.substr(0, 8) + ".pth";
  fs::copy_file(root_ / "tmp.safetensors", torch_hub() / good);
  EXPECT_EQ(checkpoint::find_weights({good, "u"}, false), torch_hub() / good);
  const std::string bad = "m-00000000.pth";
  fs::copy_file(root_ / "tmp.safetensors", torch_hub() / bad);
  const std::string e = error_of([&] { checkpoint::find_weights({bad, "u"}, false); });
  EXPECT_TRUE(contains(e, (torch_hub() / bad).string() + ": sha256 " + sha + " does not start with 00000000")) << e;
}

TEST_F(WeightsHomes, MissingFileSaysWhereToGetItAndWhereToPutIt) {
  const std::string e =
      error_of([&] { checkpoint::find_weights({"van_tiny_754.pth.tar", "https://example.invalid/van_tiny_754.pth.tar"}, false); });
  EXPECT_TRUE(contains(e, "download it from https://example.invalid/van_tiny_754.pth.tar")) << e;
  EXPECT_TRUE(contains(e, "place it at " + (ours() / "van_tiny_754.pth.tar").string())) << e;
  EXPECT_TRUE(contains(e, "--download")) << e;
  EXPECT_EQ(e.find('\n'), std::string::npos);
}

TEST_F(WeightsHomes, FileUrlDownloadIsAtomicAndHashChecked) {
  const fs::path served = root_ / "server" / "weights.safetensors";
  const std::string sha = write_weights(served);
  const std::string url = "file://" + served.string();
  const std::string name = "m_in1k-" + sha.substr(0, 10) + ".pth";
  uint64_t last = 0;
  const fs::path got = checkpoint::find_weights({name, url}, true, [&](uint64_t received, uint64_t) { last = received; });
  EXPECT_EQ(got, ours() / name);
  EXPECT_EQ(read_text(got), read_text(served));
  EXPECT_EQ(last, fs::file_size(served));
  // Nothing but the file itself is left in the folder.
  int entries = 0;
  for (const auto& e : fs::directory_iterator(ours())) entries += e.path().filename() != name;
  EXPECT_EQ(entries, 0);

  // A hash that does not match: an error, and neither the file nor a partial one is left.
  const std::string wrong = "m_in1k-ffffffff.pth";
  const std::string e = error_of([&] { checkpoint::find_weights({wrong, url}, true); });
  EXPECT_TRUE(contains(e, "does not start with ffffffff")) << e;
  EXPECT_TRUE(contains(e, "nothing was written")) << e;
  EXPECT_FALSE(fs::exists(ours() / wrong));
  for (const auto& entry : fs::directory_iterator(ours()))
    EXPECT_EQ(entry.path().filename().string().find(".partial"), std::string::npos) << entry.path();

  // A page instead of a checkpoint (what Google Drive answers for large files) is refused.
  write_text(root_ / "server" / "page.html", "<!DOCTYPE html><html>confirm</html>");
  const std::string html = error_of([&] { checkpoint::find_weights({"p.pth", "file://" + (root_ / "server" / "page.html").string()}, true); });
  EXPECT_TRUE(contains(html, "did not send a checkpoint")) << html;
  EXPECT_FALSE(fs::exists(ours() / "p.pth"));
  // An unreachable source names the URL.
  const std::string gone = error_of([&] { checkpoint::find_weights({"q.pth", "file://" + (root_ / "nope").string()}, true); });
  EXPECT_TRUE(contains(gone, "download failed")) << gone;
}

// Several sources of the same weights (a release, then mirrors): a local copy of any wins; a download tries them in
// order; when all fail, the error names each URL.
TEST_F(WeightsHomes, MirrorsAreTriedAfterTheRelease) {
  const fs::path served = root_ / "server" / "mirror.safetensors";
  write_weights(served);
  const checkpoint::WeightsSource release{"r.pth", "file://" + (root_ / "server" / "gone.pth").string()};
  const checkpoint::WeightsSource mirror{"r.mirror.safetensors", "file://" + served.string()};
  EXPECT_EQ(checkpoint::find_any_weights(std::vector<checkpoint::WeightsSource>{release, mirror}, true), ours() / "r.mirror.safetensors");
  EXPECT_EQ(checkpoint::find_any_weights(std::vector<checkpoint::WeightsSource>{release, mirror}, false), ours() / "r.mirror.safetensors");
  const checkpoint::WeightsSource gone_too{"r2.safetensors", "file://" + (root_ / "nope").string()};
  const std::string e = error_of([&] { checkpoint::find_any_weights(std::vector<checkpoint::WeightsSource>{release, gone_too}, true); });
  EXPECT_TRUE(contains(e, "no source of r.pth could be downloaded")) << e;
  EXPECT_TRUE(contains(e, release.url) && contains(e, gone_too.url)) << e;
  // DaViT's releases are on Google Drive (a browser download); timm's Hugging Face copy is the mirror.
  const auto* v = models::registry().find_variant("davit_tiny");
  ASSERT_TRUE(v && v->pretrained.mirrors.size() == 1);
  EXPECT_EQ(v->pretrained.mirrors[0].url, "https://huggingface.co/timm/davit_tiny.msft_in1k/resolve/main/model.safetensors");
  EXPECT_EQ(v->pretrained.weight_sources().size(), 2u);
}

TEST(Hub, EveryFamilyListsItsReleasedWeights) {
  // The nine families of the issue, each with released weights on at least one variant, named and sourced.
  const auto& reg = models::registry();
  for (const char* v : {"van_b0", "halonet26t", "biformer_tiny", "davit_tiny", "litv2_s", "convit_tiny", "agent_deit_tiny",
                        "agent_pvt_tiny", "agent_swin_tiny", "agent_cswin_tiny", "nat_mini", "dinat_mini"}) {
    const models::ModelVariant* mv = reg.find_variant(v);
    ASSERT_NE(mv, nullptr) << v;
    EXPECT_TRUE(mv->pretrained.has_weights()) << v;
    EXPECT_FALSE(mv->pretrained.weights_file().empty()) << v;
    EXPECT_FALSE(mv->pretrained.license.empty()) << v;
  }
  EXPECT_EQ(reg.find_variant("van_b0")->pretrained.weights_file(), "van_tiny_754.pth.tar");
  EXPECT_DOUBLE_EQ(reg.find_variant("van_b0")->pretrained.top1, 75.4);
  EXPECT_EQ(checkpoint::hash_prefix_of(reg.find_variant("halonet26t")->pretrained.weights_file()), "3083328c");
  EXPECT_EQ(reg.find_variant("agent_pvt_large")->pretrained.weights_file(), "agent_pvt_b.pth");
  EXPECT_FALSE(reg.find_variant("van_b4")->pretrained.has_weights());
  // Every file name is unique: two variants never share a cache entry.
  std::map<std::string, std::string> owner;
  for (const auto& mv : reg.variants())
    if (mv.pretrained.has_weights()) {
      auto [it, fresh] = owner.emplace(mv.pretrained.weights_file(), mv.name);
      EXPECT_TRUE(fresh) << mv.name << " and " << it->second << " share " << it->first;
    }
  EXPECT_TRUE(contains(error_of([] { models::pretrained_weights("van_b4", false); }), "released no weights for van_b4"));
  EXPECT_TRUE(contains(error_of([] { models::pretrained_weights("van", false); }), "(van is a family)"));
}

int run(const std::string& env, const std::string& args, std::string* out) {
  return test::run_command(env + " " + test::cli() + " --threads 1 " + args, out);
}

TEST_F(WeightsHomes, PretrainedThroughTheCli) {
  const std::string env = "ATTNZOO_HOME=" + (root_ / "attnzoo").string() + " TORCH_HOME=" + (root_ / "torch").string();
  // van_b0's weights where torch.hub keeps them (here: a random init saved under the release's name).
  auto model = models::create_model("van_b0");
  const fs::path weights = torch_hub() / "van_tiny_754.pth.tar";
  fs::create_directories(torch_hub());
  checkpoint::write_safetensors(weights.string(), checkpoint::state_dict(*model));
  checkpoint::TensorDict input;
  input.insert("x", at::randn({1, 3, 224, 224}));
  checkpoint::write_safetensors((root_ / "x.safetensors").string(), input);

  std::string out, ref;
  const std::string io = " --input " + (root_ / "x.safetensors").string() + " --output ";
  ASSERT_EQ(run(env, "forward --model van_b0 --pretrained" + io + (root_ / "a.safetensors").string(), &out), 0) << out;
  ASSERT_EQ(run(env, "forward --model van_b0 --weights " + weights.string() + io + (root_ / "b.safetensors").string(), &ref), 0) << ref;
  const auto a = checkpoint::read_safetensors((root_ / "a.safetensors").string());
  const auto b = checkpoint::read_safetensors((root_ / "b.safetensors").string());
  EXPECT_TRUE(at::equal(*a.tensors.find("logits"), *b.tensors.find("logits")));

  ASSERT_EQ(run(env, "list --pretrained 'van_*'", &out), 0) << out;
  EXPECT_TRUE(contains(out, "van_b0\t75.4\tvan_tiny_754.pth.tar\t" + weights.string())) << out;
  EXPECT_TRUE(contains(out, "van_b1\t81.1\tvan_small_811.pth.tar\t-")) << out;
  EXPECT_FALSE(contains(out, "van_b4")) << out;
  ASSERT_EQ(run(env, "list --pretrained --json 'van_b*'", &out), 0) << out;
  const auto listed = nlohmann::json::parse(out);
  ASSERT_EQ(listed.size(), 4u);  // van_b0 ... van_b3 have released weights
  EXPECT_EQ(listed[0]["name"], "van_b0");
  EXPECT_EQ(listed[0]["pretrained_cfg"]["file"], "van_tiny_754.pth.tar");
  ASSERT_EQ(run(env, "info van_b0", &out), 0) << out;
  EXPECT_TRUE(contains(out, "  top-1:        75.4 %")) << out;
  EXPECT_TRUE(contains(out, "  local copy:   " + weights.string())) << out;
  ASSERT_EQ(run(env, "info halonet26t --json", &out), 0) << out;
  EXPECT_TRUE(contains(out, "\"sha256_prefix\": \"3083328c\"")) << out;

  // Fine-tuning from them: head dropped (4 classes), stem adapted to gray input.
  const fs::path idx = test::write_tiny_idx(root_ / "idx", 8, 8);
  ASSERT_EQ(run(env, "train --model van_b0 --pretrained --data mnist:" + idx.string() +
                         " --in-chans 1 --img-size 32 --epochs 1 -b 4 --max-steps-per-epoch 1 --workers 1 --output " +
                         (root_ / "run").string(),
                &out),
            0)
      << out;

  // Errors: one line each, exit 2 for usage.
  EXPECT_EQ(run(env, "forward --model van_b1 --pretrained" + io + (root_ / "c.safetensors").string(), &out), 1) << out;
  EXPECT_TRUE(contains(out, "download it from https://huggingface.co/Visual-Attention-Network/VAN-Small/resolve/main/van_small_811.pth.tar")) << out;
  EXPECT_TRUE(contains(out, "place it at " + (ours() / "van_small_811.pth.tar").string())) << out;
  EXPECT_EQ(run(env, "forward --model van_b4 --pretrained" + io + (root_ / "c.safetensors").string(), &out), 2) << out;
  EXPECT_TRUE(contains(out, "released no weights for van_b4")) << out;
  EXPECT_EQ(run(env, "forward --model van_b0 --pretrained --weights " + weights.string() + io + (root_ / "c.safetensors").string(), &out), 2) << out;
  EXPECT_EQ(run(env, "eval --download --model van_b0", &out), 2) << out;
  EXPECT_TRUE(contains(out, "--download requires --pretrained")) << out;
}

}  // namespace
