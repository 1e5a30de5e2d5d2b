#include "fuzz_targets.h"

#include <attnzoo/checkpoint/pickle.h>
#include <attnzoo/checkpoint/safetensors.h>
#include <attnzoo/checkpoint/state_dict.h>
#include <attnzoo/core/args.h>
#include <attnzoo/core/config.h>
#include <attnzoo/core/diagnostics.h>
#include <attnzoo/core/input_limits.h>
#include <attnzoo/datasets/dataset.h>
#include <attnzoo/datasets/image.h>
#include <attnzoo/datasets/lra.h>
#include <attnzoo/train/lra.h>
#include <attnzoo/train/trainer.h>

#include <ATen/ATen.h>

#include <filesystem>
#include <fstream>
#include <stdexcept>

#include <unistd.h>

namespace attnzoo::fuzz {
namespace {

namespace fs = std::filesystem;

// A scratch folder per process: file-based readers get their input written there.
const fs::path& scratch() {
  static const fs::path dir = [] {
    fs::path d = fs::temp_directory_path() / ("attnzoo_fuzz_" + std::to_string(::getpid()));
    fs::create_directories(d);
    return d;
  }();
  return dir;
}

std::string write(const fs::path& p, const std::string& bytes) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary | std::ios::trunc) << bytes;
  return p.string();
}

std::string be32(uint32_t v) { return std::string{char(v >> 24), char(v >> 16), char(v >> 8), char(v)}; }

void safetensors(const std::string& bytes) { checkpoint::parse_safetensors(bytes, "fuzz.safetensors"); }

void pickle(const std::string& bytes) {
  // Storages are zeros of the declared size, capped: the fuzzer explores the machine, not the allocator.
  const checkpoint::StorageLoader zeros = [](const std::string&, at::ScalarType dtype, int64_t numel) {
    if (numel > (1 << 16)) throw std::runtime_error("fuzz: storage too large");
    return at::zeros({numel}, at::TensorOptions().dtype(dtype));
  };
  auto root = checkpoint::unpickle(bytes, zeros, "fuzz.pkl");
  root->repr();
  checkpoint::object_classes(*root);
}

void pth(const std::string& bytes) { checkpoint::read_weights(write(scratch() / "in.pth", bytes)); }

void image(const std::string& bytes) { datasets::decode_image(bytes, "fuzz.img"); }

// First byte: 0 = the input is the image file (labels valid for 2 records), 1 = the label file.
void idx(const std::string& bytes) {
  if (bytes.empty()) return;
  const fs::path dir = scratch() / "idx";
  const std::string images = be32(2051) + be32(2) + be32(2) + be32(2) + std::string(8, '\x10');
  const std::string labels = be32(2049) + be32(2) + std::string("\x00\x01", 2);
  const std::string body = bytes.substr(1);
  write(dir / "train-images-idx3-ubyte", bytes[0] & 1 ? images : body);
  write(dir / "train-labels-idx1-ubyte", bytes[0] & 1 ? body : labels);
  auto ds = datasets::open_idx(dir.string(), "train");
  for (size_t i = 0; i < ds->size() && i < 4; ++i) ds->get(i);
}

void listops(const std::string& bytes) {
  auto ds = datasets::open_listops(write(scratch() / "listops.tsv", bytes), 2000);
  for (size_t i = 0; i < ds->size() && i < 16; ++i) ds->get(i);
}

void pathfinder(const std::string& bytes) {
  const fs::path root = scratch() / "pathfinder";
  static const char kGray1x1[] =  // a valid 1x1 gray PNG
      "\x89\x50\x4e\x47\x0d\x0a\x1a\x0a\x00\x00\x00\x0d\x49\x48\x44\x52"
      "\x00\x00\x00\x01\x00\x00\x00\x01\x08\x00\x00\x00\x00\x3a\x7e\x9b"
      "\x55\x00\x00\x00\x0a\x49\x44\x41\x54\x78\x9c\x63\x68\x00\x00\x00"
      "\x82\x00\x81\x77\xcd\x72\xb6\x00\x00\x00\x00\x49\x45\x4e\x44\xae"
      "\x42\x60\x82";
  const std::string png_1x1(kGray1x1, sizeof kGray1x1 - 1);
  if (!fs::exists(root / "imgs" / "0" / "a.png")) write(root / "imgs" / "0" / "a.png", png_1x1);
  write(root / "metadata" / "0.npy", bytes);
  auto ds = datasets::open_pathfinder(root.string(), /*skip_bad=*/true);
  for (size_t i = 0; i < ds->size() && i < 4; ++i) ds->get(i);
}

// A document as a recipe of both trainers and as model arguments: every value conversion (where an
// out-of-range float-to-integer cast would be undefined behaviour) runs under UBSan in the fuzz build.
void use_as_recipe_and_model_args(const nlohmann::json& doc) {
  if (!doc.is_object()) return;
  try {
    train::TrainConfig().apply_json(doc, "fuzz.yaml");
  } catch (const std::invalid_argument&) {
  }
  try {
    train::LRATrainConfig lra;
    lra.apply_json(doc, "fuzz.yaml");
    lra.validate();
  } catch (const std::invalid_argument&) {
  }
  ArgReader args(doc, "fuzz");
  args.get<std::vector<int64_t>>("depths", {});
  args.get<int64_t>("num_classes", 0);
  args.get<int>("embed_dim", 1);
  args.get<double>("drop_path_rate", 0.0);
  args.get<std::string>("norm_layer", "");
}

void config(const std::string& bytes) {
  const nlohmann::json y = yaml_to_json(bytes, "fuzz.yaml");
  y.dump();
  use_as_recipe_and_model_args(y);
  const nlohmann::json j = parse_json(bytes, "fuzz.json");
  j.dump();
  if (y.is_object()) apply_overrides(y, {"a.b=[1, 2]"});
}

}  // namespace

const std::vector<std::pair<std::string, Target>>& targets() {
  static const std::vector<std::pair<std::string, Target>> all = {
      {"safetensors", safetensors}, {"pickle", pickle},   {"pth", pth},           {"image", image},
      {"idx", idx},                 {"listops", listops}, {"pathfinder", pathfinder}, {"config", config},
  };
  return all;
}

std::string run_target(Target target, const std::string& bytes) {
  static const bool quiet = [] {
    set_warning_sink([](const std::string&) {});  // warnings are expected output, not findings
    return true;
  }();
  (void)quiet;
  try {
    target(bytes);
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

}  // namespace attnzoo::fuzz
