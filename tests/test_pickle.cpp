// The safe torch.save reader: real release-style files, views over shared storages, opaque objects,
// and corrupted/truncated files that must end in an error, never a crash.
#include "test_util.h"

#include <attnzoo/core/file_util.h>
#include <attnzoo/checkpoint/pickle.h>
#include <attnzoo/checkpoint/safetensors.h>
#include <attnzoo/checkpoint/state_dict.h>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <random>

namespace fs = std::filesystem;
using namespace attnzoo;
using checkpoint::PyValue;
using Kind = PyValue::Kind;

namespace {

fs::path pth(const std::string& name) { return test::fixtures_dir() / "pth" / name; }

TEST(Pickle, ReadsReleaseCheckpointWithOptimizerAndNamespace) {
  const fs::path f = test::fixtures_dir() / "van" / "van_reduced_64.checkpoint.pth";
  auto root = checkpoint::load_pth(f);
  ASSERT_TRUE(root->is(Kind::Dict));
  ASSERT_NE(root->find("epoch"), nullptr);
  EXPECT_TRUE(root->find("epoch")->is(Kind::Int));
  const PyValue* args = root->find("args");
  ASSERT_NE(args, nullptr);
  EXPECT_EQ(args->type_name(), "argparse.Namespace");
  ASSERT_NE(root->find("optimizer"), nullptr);
  // The state dict inside equals the fixture's safetensors weights bit for bit.
  auto w = checkpoint::read_weights(f.string());
  EXPECT_EQ(w.source, "state_dict (torch.save)");
  auto ref = checkpoint::read_safetensors((test::fixtures_dir() / "van" / "van_reduced_64.weights.safetensors").string());
  ASSERT_EQ(w.tensors.size(), ref.tensors.size());
  for (const auto& item : ref.tensors) {
    const at::Tensor* t = w.tensors.find(item.key());
    ASSERT_NE(t, nullptr) << item.key();
    EXPECT_TRUE(t->equal(item.value())) << item.key();
  }
}

void check_views(const std::string& file) {
  auto root = checkpoint::load_pth(pth(file));
  const PyValue* sd = root->find("state_dict");
  ASSERT_NE(sd, nullptr);
  auto get = [&](const std::string& k) { return sd->find(k)->tensor; };
  auto full = get("full");
  EXPECT_TRUE(full.equal(torch::arange(12, torch::kDouble).view({3, 4})));
  EXPECT_TRUE(get("row1").equal(torch::arange(4, 8, torch::kDouble)));
  EXPECT_TRUE(get("transposed").equal(full.t()));
  EXPECT_TRUE(get("param").equal(torch::arange(8, 12, torch::kDouble).view({2, 2})));
  EXPECT_TRUE(get("ints").equal(torch::tensor({7, -8, 9}, torch::kLong)));
  EXPECT_TRUE(get("halfs").to(torch::kFloat).equal(torch::tensor({1.5f, -2.25f})));
  EXPECT_TRUE(get("flags").equal(torch::tensor({true, false, true})));
  EXPECT_EQ(get("scalar").dim(), 0);
  EXPECT_EQ(get("scalar").item<int64_t>(), 9);
  // Views share one storage, as in Python.
  EXPECT_EQ(get("row1").data_ptr<double>(), full.data_ptr<double>() + 4);

  EXPECT_EQ(root->find("epoch")->i, 7);
  EXPECT_DOUBLE_EQ(root->find("metric")->f, 1.25);
  EXPECT_EQ(root->find("neg")->i, -5);
  EXPECT_DOUBLE_EQ(root->find("big")->f, std::ldexp(1.0, 70));
  EXPECT_EQ(root->find("blob")->s, std::string("\x00\x01", 2));
  EXPECT_TRUE(root->find("flags")->is(Kind::Set));
  const PyValue* ns = root->find("args");
  ASSERT_NE(ns, nullptr);
  EXPECT_EQ(ns->s, "argparse.Namespace");
  EXPECT_DOUBLE_EQ(ns->find("lr")->f, 0.1);
  EXPECT_EQ(ns->find("model")->s, "van_b0");
  EXPECT_TRUE(ns->find("sched")->is(Kind::None));
  EXPECT_EQ(ns->find("betas")->items.size(), 2u);
  // Optimizer state with integer keys stays readable.
  const PyValue* opt = root->find("optimizer");
  ASSERT_TRUE(opt && opt->find("state"));
  EXPECT_EQ(opt->find("state")->dict.at(0).first->i, 0);
}

TEST(Pickle, SharedStoragesOffsetsStridesProtocol2) { check_views("views.pth"); }
TEST(Pickle, SharedStoragesOffsetsStridesProtocol4) { check_views("views_p4.pth"); }

TEST(Pickle, SingleEntryDictAndModulePrefix) {
  auto w = checkpoint::read_weights(pth("single_module_prefix.pth").string());
  ASSERT_EQ(w.tensors.size(), 1u);
  ASSERT_NE(w.tensors.find("w"), nullptr);  // "module." stripped
  EXPECT_TRUE(w.tensors["w"].equal(torch::tensor({0.5f, -1.0f})));
}

TEST(Pickle, ViewBeyondStorageIsRejected) {
  try {
    checkpoint::load_pth(pth("out_of_bounds.pth"));
    FAIL() << "expected an error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("exceeds its storage"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("out_of_bounds.pth"), std::string::npos) << e.what();
  }
}

TEST(Pickle, ExplicitCheckpointKeyAndBadKey) {
  const std::string f = pth("views.pth");
  EXPECT_THROW(checkpoint::read_weights(f, "nope"), std::runtime_error);
  try {
    checkpoint::read_weights(f, "args");
    FAIL();
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("not a state dict"), std::string::npos) << e.what();
  }
}

TEST(Pickle, PlainPickleOpcodes) {
  // {'a': [1, 2.5, 'x', None, True], 'b': (b'\x01',)}, protocol 2, written by CPython (make_pth.py).
  const std::string prog = attnzoo::read_file_bytes(pth("plain.pkl").string());
  auto v = checkpoint::unpickle(prog, nullptr, "inline");
  ASSERT_TRUE(v->is(Kind::Dict));
  const PyValue* a = v->find("a");
  ASSERT_TRUE(a && a->is(Kind::List));
  ASSERT_EQ(a->items.size(), 5u);
  EXPECT_EQ(a->items[0]->i, 1);
  EXPECT_DOUBLE_EQ(a->items[1]->f, 2.5);
  EXPECT_EQ(a->items[2]->s, "x");
  EXPECT_TRUE(a->items[3]->is(Kind::None));
  EXPECT_TRUE(a->items[4]->b);
  EXPECT_EQ(v->find("b")->items[0]->s, "\x01");
}

// Module.state_dict() is an OrderedDict whose `_metadata` is an instance attribute, pickled as BUILD state after
// the items: it must not become an item (timm's train.py checkpoints, torch.save(model.state_dict())).
TEST(Pickle, OrderedDictAttributesAreNotItems) {
  // od = OrderedDict(w=1); od._metadata = OrderedDict([('', {'version': 1})]); pickle.dumps(od, protocol=2)
  const std::string prog("\x80\x02\x63\x63\x6f\x6c\x6c\x65\x63\x74\x69\x6f\x6e\x73\x0a\x4f\x72\x64\x65\x72\x65\x64\x44\x69\x63\x74\x0a\x71\x00\x29\x52\x71\x01\x58\x01\x00\x00\x00\x77\x71\x02\x4b\x01\x73\x7d\x71\x03\x58\x09\x00\x00\x00\x5f\x6d\x65\x74\x61\x64\x61\x74\x61\x71\x04\x68\x00\x29\x52\x71\x05\x58\x00\x00\x00\x00\x71\x06\x7d\x71\x07\x58\x07\x00\x00\x00\x76\x65\x72\x73\x69\x6f\x6e\x71\x08\x4b\x01\x73\x73\x73\x62\x2e", 100);
  auto v = checkpoint::unpickle(prog, nullptr, "inline");
  ASSERT_TRUE(v->is(Kind::Dict));
  ASSERT_EQ(v->dict.size(), 1u);
  EXPECT_EQ(v->find("w")->i, 1);
  EXPECT_EQ(v->find("_metadata"), nullptr);
}

// write_weights: torch.save's format as Python writes it (an OrderedDict of _rebuild_tensor_v2 tensors), every
// dtype a state dict holds, views written as their own bytes; read back exactly. (Python's own torch.load,
// weights_only=True, reads the same files in tests/interop.)
TEST(Pickle, WrittenStateDictsReadBackExactly) {
  auto tmp = test::temp_dir("pth_writer");
  torch::manual_seed(3);
  checkpoint::TensorDict sd;
  sd.insert("a.weight", torch::randn({3, 4}));
  sd.insert("a.bias", torch::randn({4}, at::kDouble));
  sd.insert("bn.num_batches_tracked", torch::tensor(7, at::kLong));
  sd.insert("half", torch::randn({2, 2}).to(at::kHalf));
  sd.insert("bf16", torch::randn({5}).to(at::kBFloat16));
  sd.insert("mask", torch::rand({6}) > 0.5);
  sd.insert("index", torch::arange(10, at::kInt));
  sd.insert("view", torch::randn({4, 6}).slice(1, 2, 5).t());  // strided view of a larger storage
  sd.insert("big", torch::zeros({70000}, at::kByte));
  for (const char* name : {"w.pth", "w.bin", "w.safetensors"}) {
    const std::string path = (tmp / name).string();
    checkpoint::write_weights(path, sd);
    const auto back = checkpoint::read_weights(path).tensors;
    ASSERT_EQ(back.keys(), sd.keys()) << name;
    for (const auto& item : sd) {
      EXPECT_EQ(back[item.key()].scalar_type(), item.value().scalar_type()) << name << " " << item.key();
      EXPECT_TRUE(back[item.key()].equal(item.value())) << name << " " << item.key();
    }
  }
  try {
    checkpoint::write_weights((tmp / "w.npz").string(), sd);
    FAIL() << "an unknown extension was accepted";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("w.npz: unknown weights format"), std::string::npos) << e.what();
  }
}

TEST(Pickle, NotAZipOrLegacyFormatGivesClearErrors) {
  auto dir = test::temp_dir("pickle_magic");
  attnzoo::write_file_atomic((dir / "legacy.pth").string(), std::string("\x80\x02\x8a\x0alz", 6));
  attnzoo::write_file_atomic((dir / "text.pth").string(), "hello world");
  EXPECT_THROW(
      {
        try {
          checkpoint::load_pth(dir / "legacy.pth");
        } catch (const std::runtime_error& e) {
          EXPECT_NE(std::string(e.what()).find("legacy"), std::string::npos);
          throw;
        }
      },
      std::runtime_error);
  EXPECT_THROW(checkpoint::load_pth(dir / "text.pth"), std::runtime_error);
  EXPECT_THROW(checkpoint::load_pth(dir / "missing.pth"), std::runtime_error);
}

// Fuzz-style: every truncation and many random bit flips of a real checkpoint end in an exception
// (or, for flips in unused bytes, a successful load) -- never a crash.
TEST(Pickle, TruncatedAndBitFlippedFilesNeverCrash) {
  const std::string good =
      attnzoo::read_file_bytes((test::fixtures_dir() / "pth" / "views.pth").string());
  auto dir = test::temp_dir("pickle_fuzz");
  const std::string f = (dir / "fuzz.pth").string();
  int errors = 0, loads = 0;
  auto attempt = [&](const std::string& bytes) {
    attnzoo::write_file_atomic(f, bytes);
    try {
      checkpoint::load_pth(f);
      ++loads;
    } catch (const std::exception&) {
      ++errors;
    }
  };
  for (size_t n = 0; n < good.size(); n += 7) attempt(good.substr(0, n));
  std::mt19937 rng(1234);
  for (int i = 0; i < 300; ++i) {
    std::string b = good;
    for (int k = 0; k < 1 + i % 4; ++k) b[rng() % b.size()] ^= static_cast<char>(1 << (rng() % 8));
    attempt(b);
  }
  EXPECT_GT(errors, 0);
  SUCCEED() << errors << " errors, " << loads << " loads";
}

TEST(Pickle, CorruptedPickleProgramsNeverCrash) {
  const std::string prog = attnzoo::read_file_bytes(pth("plain.pkl").string());
  std::mt19937 rng(99);
  int errors = 0;
  for (size_t n = 0; n < prog.size(); ++n) {
    try {
      checkpoint::unpickle(prog.substr(0, n), nullptr, "trunc");
    } catch (const std::runtime_error&) {
      ++errors;
    }
  }
  EXPECT_EQ(errors, static_cast<int>(prog.size()));  // every strict prefix is incomplete
  for (int i = 0; i < 2000; ++i) {
    std::string b = prog;
    b[rng() % b.size()] = static_cast<char>(rng() % 256);
    try {
      checkpoint::unpickle(b, nullptr, "flip");
    } catch (const std::runtime_error&) {
    }
  }
}

}  // namespace
