// The training workflow through the attnzoo executable: export -> train on PNG folders -> eval /
// predict, release checkpoints through eval, bench output, and flag errors.
#include "test_util.h"

#include <attnzoo/checkpoint/run_checkpoint.h>
#include <attnzoo/checkpoint/safetensors.h>
#include <attnzoo/checkpoint/state_dict.h>
#include <attnzoo/core/file_util.h>

#include <attnzoo/eval/imagenet_classes.h>

#include <gtest/gtest.h>

#include <fstream>
#include <set>

namespace fs = std::filesystem;
using namespace attnzoo;

namespace {

int run(const std::string& args, std::string* out) { return test::run_command(test::cli() + " --threads 1 " + args, out); }
bool contains(const std::string& s, const std::string& n) { return s.find(n) != std::string::npos; }

// The "type": "epoch" records of a run's log.jsonl, in order.
std::vector<nlohmann::json> epoch_records(const fs::path& run_dir) {
  std::vector<nlohmann::json> out;
  std::ifstream log(run_dir / "log.jsonl");
  for (std::string line; std::getline(log, line);) {
    auto j = nlohmann::json::parse(line);
    if (j["type"] == "epoch") out.push_back(std::move(j));
  }
  return out;
}

const char* kTinyModel =
    " --model van_b0 --set embed_dims=[8,16,16,16] --set depths=[1,1,1,1] --set mlp_ratios=[2,2,2,2]"
    " --in-chans 1 --img-size 16 --mean 0.2 0.2 0.2 --std 0.3 0.3 0.3 --crop-pct 1 --no-rrc --workers 1";

TEST(CliTrain, ExportTrainOnFoldersEvalPredict) {
  auto tmp = test::temp_dir("cli_train");
  auto idx = test::write_tiny_idx(tmp / "idx", 96, 40);
  std::string out;
  ASSERT_EQ(run("data export mnist:" + idx.string() + " " + (tmp / "png").string(), &out), 0) << out;
  EXPECT_TRUE(contains(out, "wrote 96 images")) << out;
  ASSERT_TRUE(fs::exists(tmp / "png" / "test" / "3"));
  const std::string train = "train --data " + (tmp / "png").string() + kTinyModel +
                            " --epochs 5 --batch-size 8 --lr 0.005 --output " + (tmp / "run").string();
  ASSERT_EQ(run(train, &out), 0) << out;
  EXPECT_TRUE(contains(out, "epoch 5/5: train_loss")) << out;
  EXPECT_TRUE(contains(out, "ImageFolder (96 images, 4 classes)")) << out;
  // eval rebuilds model and transform from the checkpoint's metadata.
  ASSERT_EQ(run("eval --checkpoint " + (tmp / "run" / "best.safetensors").string() + " --data " + (tmp / "png").string() +
                    " --json --results-csv " + (tmp / "results.csv").string(),
                &out),
            0)
      << out;
  auto j = nlohmann::json::parse(out.substr(out.find('{')));
  EXPECT_GT(j["top1"].get<double>(), 60.0);
  EXPECT_EQ(j["count"], 40);
  std::ifstream csv(tmp / "results.csv");
  std::string header;
  std::getline(csv, header);
  EXPECT_EQ(header, "model,top1,top1_err,top5,top5_err,param_count,img_size,crop_pct,interpolation");
  // predict prints the class names recorded at training time.
  const auto img = *fs::directory_iterator(tmp / "png" / "test" / "2");
  ASSERT_EQ(run("predict --checkpoint " + (tmp / "run" / "best.safetensors").string() + " --topk 2 " + img.path().string(), &out), 0)
      << out;
  EXPECT_TRUE(contains(out, img.path().string())) << out;
  // A folder (searched recursively, batched) into a CSV, and --json alone on stdout.
  const std::string best_ckpt = (tmp / "run" / "best.safetensors").string();
  const std::string folder = (tmp / "png" / "test" / "2").string();
  ASSERT_EQ(run("predict --checkpoint " + best_ckpt + " --topk 2 --batch-size 3 --output " + (tmp / "p.csv").string() + " " +
                    folder,
                &out),
            0)
      << out;
  std::ifstream pcsv(tmp / "p.csv");
  std::string line;
  std::getline(pcsv, line);
  EXPECT_EQ(line, "filename,index_0,label_0,prob_0,index_1,label_1,prob_1");
  int rows = 0;
  for (; std::getline(pcsv, line); ++rows) EXPECT_EQ(line.rfind(folder, 0), 0u) << line;
  EXPECT_EQ(rows, static_cast<int>(std::distance(fs::directory_iterator(folder), fs::directory_iterator())));
  ASSERT_EQ(run("predict --checkpoint " + best_ckpt + " --json " + img.path().string(), &out), 0) << out;
  const auto pj = nlohmann::json::parse(out);  // nothing but the JSON
  ASSERT_EQ(pj.size(), 1u);
  EXPECT_EQ(pj[0]["top"].size(), 4u);  // min(topk 5, 4 classes)
  // A model that records no class names but has 1000 outputs is named with ImageNet's classes.
  ASSERT_EQ(run("predict --model van_b0 --set embed_dims=[8,16,16,16] --set depths=[1,1,1,1] --in-chans 1 --img-size 16 "
                "--num-classes 1000 --topk 3 --json " + img.path().string(),
                &out),
            0)
      << out;
  const auto& imagenet = attnzoo::eval::imagenet_class_names();
  for (const auto& t : nlohmann::json::parse(out)[0]["top"])
    EXPECT_EQ(t["name"].get<std::string>(), imagenet[t["class"].get<size_t>()]);
  EXPECT_EQ(imagenet[0], "tench");
  EXPECT_EQ(run("predict --checkpoint " + best_ckpt + " " + (tmp / "nothing_here").string(), &out), 2);
  EXPECT_TRUE(contains(out, "nothing_here: no such file or folder")) << out;
  // A corrupt image: one clear line, exit 1.
  attnzoo::write_file_atomic((tmp / "bad.png").string(), "not a png");
  EXPECT_EQ(run("predict --checkpoint " + (tmp / "run" / "best.safetensors").string() + " " + (tmp / "bad.png").string(), &out), 1);
  EXPECT_TRUE(contains(out, "bad.png: not a PNG, JPEG, BMP or WebP image")) << out;
  // export: the run's weights as plain state dicts for PyTorch, equal to the checkpoint's model tensors.
  const std::string best = (tmp / "run" / "best.safetensors").string();
  const auto recorded = checkpoint::RunCheckpoint::load(best, checkpoint::kImageRun).model;
  for (const char* name : {"w.pth", "w.safetensors"}) {
    ASSERT_EQ(run("export " + best + " --to " + (tmp / name).string(), &out), 0) << out;
    EXPECT_TRUE(contains(out, "wrote " + std::to_string(recorded.size()) + " tensors")) << out;
    const auto exported = checkpoint::read_weights((tmp / name).string()).tensors;
    ASSERT_EQ(exported.keys(), recorded.keys()) << name;
    for (const auto& item : recorded) EXPECT_TRUE(exported[item.key()].equal(item.value())) << name << " " << item.key();
  }
  EXPECT_EQ(run("export " + best + " --ema --to " + (tmp / "e.pth").string(), &out), 2);
  EXPECT_TRUE(contains(out, "this run kept no EMA weights")) << out;
  EXPECT_EQ(run("export " + best + " --layout timm --to " + (tmp / "t.pth").string(), &out), 2);
  EXPECT_TRUE(contains(out, "--layout 'timm': this family's weights have the official layout only")) << out;
  // extract: one row per test image, in the folder's order, with its file and label.
  ASSERT_EQ(run("extract --checkpoint " + best + " --data " + (tmp / "png").string() + " --output " +
                    (tmp / "f.safetensors").string(),
                &out),
            0)
      << out;
  EXPECT_TRUE(contains(out, "features [40, 16] (pre_logits of van_b0)")) << out;
  const auto feats = checkpoint::read_safetensors((tmp / "f.safetensors").string());
  ASSERT_EQ(feats.tensors["features"].sizes(), (std::vector<int64_t>{40, 16}));
  const auto files = nlohmann::json::parse(feats.metadata.at("files"));
  ASSERT_EQ(files.size(), 40u);
  const std::string first = files[0].get<std::string>();
  EXPECT_EQ(first.rfind((tmp / "png" / "test" / "0").string(), 0), 0u) << first;
  EXPECT_EQ(feats.tensors["labels"][0].item<int64_t>(), 0);
  EXPECT_EQ(feats.tensors["labels"][39].item<int64_t>(), 3);
  EXPECT_EQ(nlohmann::json::parse(feats.metadata.at("classes")), nlohmann::json({"0", "1", "2", "3"}));
  ASSERT_EQ(run("extract --checkpoint " + best + " --data " + (tmp / "png").string() + " --layer stage-2 --output " +
                    (tmp / "s.safetensors").string(),
                &out),
            0)
      << out;
  EXPECT_TRUE(contains(out, "features [40, 16] (stage-2 of van_b0)")) << out;
  EXPECT_EQ(run("extract --checkpoint " + best + " --data " + (tmp / "png").string() + " --layer stage7 --output " +
                    (tmp / "s.safetensors").string(),
                &out),
            2)
      << out;
  EXPECT_TRUE(contains(out, "--layer stage7: feature index 7 is out of range for 4 stages")) << out;
  // Resume an already finished run: nothing left to do, same checkpoint.
  ASSERT_EQ(run(train + " --resume " + (tmp / "run" / "last.safetensors").string(), &out), 0) << out;
}

TEST(CliTrain, EvalReadsAReleaseCheckpoint) {
  auto tmp = test::temp_dir("cli_eval_release");
  auto idx = test::write_tiny_idx(tmp / "idx", 8, 20, 10);
  const fs::path F = test::fixtures_dir() / "van";
  attnzoo::write_file_atomic((tmp / "cfg.json").string(), test::read_json(F / "van_reduced_64.json")["config"].dump());
  std::string out;
  ASSERT_EQ(run("eval --model van --config " + (tmp / "cfg.json").string() + " --checkpoint " +
                    (F / "van_reduced_64.checkpoint.pth").string() + " --data mnist:" + idx.string() +
                    " --img-size 64 --crop-pct 1 --json",
                &out),
            0)
      << out;
  auto j = nlohmann::json::parse(out.substr(out.find('{')));
  EXPECT_EQ(j["count"], 20);
  EXPECT_EQ(j["param_count"], 60626);
  EXPECT_GE(j["top5"].get<double>(), j["top1"].get<double>());
}

TEST(CliTrain, EvalSweepsAModelList) {
  // timm validate.py's --model-list: every model runs; one that fails is reported and the exit code says so.
  const auto tmp = test::temp_dir("eval_sweep");
  const auto idx = test::write_tiny_idx(tmp / "idx", 8, 12);
  attnzoo::write_file_atomic((tmp / "models.txt").string(), "van_b0\nvan_b1\nno_such_model\n");
  std::string out;
  const std::string flags = " --data mnist:" + idx.string() +
                            " --set depths=[1,1,1,1] --in-chans 1 --img-size 16 --crop-pct 1 --mean 0.2 0.2 0.2 --std 0.3 0.3 0.3"
                            " --num-classes 4 --workers 1 --json --results-csv " + (tmp / "r.csv").string();
  EXPECT_EQ(run("eval --model-list " + (tmp / "models.txt").string() + flags, &out), 1) << out;
  EXPECT_TRUE(contains(out, "eval 3 / 3: no_such_model")) << out;  // progress on stderr
  const auto j = nlohmann::json::parse(out.substr(out.find("[\n")));
  ASSERT_EQ(j.size(), 3u);
  EXPECT_EQ(j[0]["model"], "van_b0");
  EXPECT_EQ(j[0]["count"], 12);
  EXPECT_EQ(j[1]["model"], "van_b1");
  EXPECT_TRUE(contains(j[2]["error"].get<std::string>(), "no_such_model")) << j.dump();
  std::ifstream csv(tmp / "r.csv");
  std::string line;
  int rows = -1;  // the header
  while (std::getline(csv, line)) ++rows;
  EXPECT_EQ(rows, 2);
  EXPECT_EQ(run("eval --model 'van_b*' --checkpoint " + (tmp / "models.txt").string() + flags, &out), 2);
  EXPECT_TRUE(contains(out, "--checkpoint names one model's weights")) << out;
}

TEST(CliTrain, EvalSweepsSeveralCheckpointsAndShowsProgress) {
  // --checkpoint given several times: each with the same model flags, one results-CSV row each, a bad file
  // reported while the others still run; every evaluation ends with its progress line.
  const auto tmp = test::temp_dir("eval_ckpt_sweep");
  const auto idx = test::write_tiny_idx(tmp / "idx", 8, 12);
  std::string out;
  const std::string model = " --model van_b0 --set depths=[1,1,1,1] --set in_chans=1 --set num_classes=4";
  for (const char* seed : {"1", "2"})
    ASSERT_EQ(run("export" + model + " --seed " + seed + " --to " + (tmp / (std::string("s") + seed + ".safetensors")).string(), &out), 0) << out;
  attnzoo::write_file_atomic((tmp / "broken.safetensors").string(), "not a checkpoint");
  const std::string flags = " --data mnist:" + idx.string() +
                            " --img-size 16 --crop-pct 1 --mean 0.2 0.2 0.2 --std 0.3 0.3 0.3 --workers 1 --json --results-csv " +
                            (tmp / "r.csv").string();
  EXPECT_EQ(run("eval" + model + " --checkpoint " + (tmp / "s1.safetensors").string() + " --checkpoint " +
                    (tmp / "broken.safetensors").string() + " --checkpoint " + (tmp / "s2.safetensors").string() + flags, &out), 1)
      << out;
  EXPECT_TRUE(contains(out, "eval 2 / 3: ")) << out;
  EXPECT_TRUE(contains(out, "eval: 1 / 1 batches")) << out;
  const auto j = nlohmann::json::parse(out.substr(out.find("[\n")));
  ASSERT_EQ(j.size(), 3u);
  EXPECT_EQ(j[0]["checkpoint"], (tmp / "s1.safetensors").string());
  EXPECT_TRUE(j[1].contains("error")) << j.dump();
  EXPECT_EQ(j[2]["count"], 12);
  EXPECT_NE(j[0]["loss"], j[2]["loss"]);  // two different initialisations
  std::ifstream csv(tmp / "r.csv");
  std::string header, row1, row2;
  std::getline(csv, header);
  std::getline(csv, row1);
  std::getline(csv, row2);
  EXPECT_TRUE(contains(row1, "van_b0@s1.safetensors,")) << row1;
  EXPECT_TRUE(contains(row2, "van_b0@s2.safetensors,")) << row2;
  // Other commands take one.
  EXPECT_EQ(run("predict" + model + " --checkpoint " + (tmp / "s1.safetensors").string() + " --checkpoint " +
                    (tmp / "s2.safetensors").string() + " " + (tmp / "idx").string(), &out), 2);
  EXPECT_TRUE(contains(out, "--checkpoint: given 2 times; one here (eval sweeps several)")) << out;
}

TEST(CliTrain, BenchPrintsRealNumbers) {
  std::string out;
  ASSERT_EQ(run("bench --model van_b0 --set depths=[1,1,1,1] --img-size 64 --batch 2 --iters 2 --warmup 1 --json", &out), 0) << out;
  auto j = nlohmann::json::parse(out.substr(out.find('{')));
  EXPECT_GT(j["images_per_second"].get<double>(), 0);
  EXPECT_GT(j["peak_memory_bytes"].get<int64_t>(), 0);
  EXPECT_GT(j["latency_ms_p50"].get<double>(), 0);
  // FLOPs of van_b0 with depths 1: stem conv alone is 16*16*32*3*49 MACs at 64 px.
  EXPECT_GT(j["gmacs"].get<double>(), 16.0 * 16 * 32 * 3 * 49 / 1e9);
  EXPECT_LT(j["gmacs"].get<double>(), 0.9 * 64 * 64 / (224.0 * 224));  // far below full van_b0 at 224
  ASSERT_EQ(run("bench --model van_b0 --set depths=[1,1,1,1] --img-size 32 --batch 2 --iters 1 --warmup 0 --train", &out), 0) << out;
  EXPECT_TRUE(contains(out, "img/s")) << out;
  // timm benchmark.py's sweep: --model-list (or a wildcard --model) and a results file in its columns.
  const auto tmp = test::temp_dir("bench_sweep");
  attnzoo::write_file_atomic((tmp / "models.txt").string(), "van_b0\n# a comment\n\nvan_b1  \n");
  ASSERT_EQ(run("bench --model-list " + (tmp / "models.txt").string() +
                    " --set depths=[1,1,1,1] --img-size 32 --batch 1 --iters 1 --warmup 0 --no-peak --results-file " +
                    (tmp / "r.csv").string(),
                &out),
            0)
      << out;
  EXPECT_TRUE(contains(out, "wrote " + (tmp / "r.csv").string() + ": 2 models")) << out;
  std::ifstream csv(tmp / "r.csv");
  std::string header, row;
  std::getline(csv, header);
  EXPECT_EQ(header.rfind("model,infer_samples_per_sec,infer_step_time,infer_batch_size,infer_img_size,infer_gmacs,param_count", 0),
            0u)
      << header;
  std::set<std::string> models;
  while (std::getline(csv, row)) models.insert(row.substr(0, row.find(',')));
  EXPECT_EQ(models, (std::set<std::string>{"van_b0", "van_b1"}));
  EXPECT_EQ(run("bench --set depths=[1,1,1,1]", &out), 2);
  EXPECT_TRUE(contains(out, "--model or --model-list is required")) << out;
}

// timm's short and alternative flag names, and the lr derived from --lr-base printed with its rule.
TEST(CliTrain, TimmFlagNamesAndLrBase) {
  auto tmp = test::temp_dir("cli_train_timm_flags");
  auto idx = test::write_tiny_idx(tmp / "idx", 32, 16);
  std::string out;
  ASSERT_EQ(run("train --data mnist:" + idx.string() + kTinyModel + " -b 16 --smoothing 0.2 --lr-base 0.004" +
                    " --epochs 1 --max-steps-per-epoch 1 --output " + (tmp / "run").string(),
                &out),
            0)
      << out;
  EXPECT_TRUE(contains(out, "lr 0.001000 (lr_base 0.004 x sqrt(16/256))")) << out;
  const auto args = nlohmann::json::parse(attnzoo::read_file_bytes((tmp / "run" / "args.json").string()));
  EXPECT_EQ(args["batch_size"], 16);
  ASSERT_EQ(run("train --help", &out), 0);
  EXPECT_TRUE(contains(out, "-j,--workers INT=2")) << out;
  // Grouped as timm's train.py, each value with its type and default.
  for (const char* section : {"Model:", "Dataset:", "Augmentation and regularization:", "Optimizer:", "Learning rate schedule:",
                              "Run, output and checkpoints:", "Long Range Arena (--task lra-*):"})
    EXPECT_TRUE(contains(out, section)) << section << "\n" << out;
  EXPECT_TRUE(contains(out, "-b,--batch-size INT=128")) << out;
  EXPECT_TRUE(contains(out, "--ratio FLOAT ...=0.75 1.33333")) << out;
  EXPECT_TRUE(contains(out, "--steps INT=1000")) << out;
  EXPECT_DOUBLE_EQ(args["smoothing"].get<double>(), 0.2);
}

// timm's run habits: a second run never lands in a folder that holds one (unless --resume / --overwrite, and then
// log.jsonl holds one run only), runs without --output get timm's generated folder, args.yaml is written and
// read back, and a timm args.yaml is taken as it is, its unimplemented settings listed in one warning.
TEST(CliTrain, RunsNeverOverwriteEachOtherAndTimmArgsYamlIsAccepted) {
  const auto tmp = test::temp_dir("cli_runs");
  const auto idx = test::write_tiny_idx(tmp / "idx", 16, 8);
  const std::string base = "train --data mnist:" + idx.string() + kTinyModel + " -b 8";
  const std::string train = base + " --epochs 1";
  const std::string dir = (tmp / "run").string();
  std::string out;
  ASSERT_EQ(run(train + " --output " + dir, &out), 0) << out;
  EXPECT_EQ(run(train + " --output " + dir, &out), 2) << out;
  EXPECT_TRUE(contains(out, dir + " already holds a run (")) << out;
  EXPECT_TRUE(contains(out, "--resume " + dir + "/last.safetensors continues it, --overwrite replaces it")) << out;
  ASSERT_EQ(run(base + " --epochs 2 --output " + dir + " --overwrite", &out), 0) << out;
  EXPECT_EQ(epoch_records(dir).size(), 2u) << "log.jsonl must hold the new run only";
  // Without --output: output/train/<YYYYMMDD-HHMMSS>-<model>-<img_size>, or output/train/<experiment>.
  ASSERT_EQ(test::run_command("cd " + tmp.string() + " && " + test::cli() + " --threads 1 " + train + " --experiment exp1", &out), 0)
      << out;
  EXPECT_TRUE(fs::exists(tmp / "output" / "train" / "exp1" / "last.safetensors"));
  ASSERT_EQ(test::run_command("cd " + tmp.string() + " && " + test::cli() + " --threads 1 " + train, &out), 0) << out;
  bool generated = false;
  for (const auto& e : fs::directory_iterator(tmp / "output" / "train")) {
    const std::string name = e.path().filename().string();
    generated = generated || (name.size() == 15 + 10 && name.substr(8, 1) == "-" && name.substr(15) == "-van_b0-16");
  }
  EXPECT_TRUE(generated) << "no output/train/YYYYMMDD-HHMMSS-van_b0-16";

  // args.yaml repeats the run; no warning for attnzoo's own keys.
  ASSERT_TRUE(fs::exists(fs::path(dir) / "args.yaml"));
  ASSERT_EQ(run("train --config " + dir + "/args.yaml --output " + (tmp / "again").string(), &out), 0) << out;
  EXPECT_FALSE(contains(out, "warning")) << out;
  EXPECT_TRUE(contains(out, "2 epochs x")) << out;

  // A timm args.yaml: known keys used (data_dir, model_kwargs, lr_base ...), timm's others listed once.
  const fs::path timm_args = tmp / "timm_args.yaml";
  std::ofstream(timm_args) << "aa: null\namp: false\namp_dtype: float16\nbatch_size: 8\ncheckpoint_hist: 10\n"
                              "clip_grad: null\ncolor_jitter: 0.3\ndata_dir: mnist:" << idx.string() << "\ndataset: ''\n"
                              "device: cpu\nepochs: 1\ngrad_accum_steps: 1\nimg_size: 16\nin_chans: 1\nlr: null\nlr_base: 0.1\n"
                              "model: van_b0\nmodel_kwargs: {embed_dims: [8, 16, 16, 16], depths: [1, 1, 1, 1], mlp_ratios: [2, 2, 2, 2]}\n"
                              "opt: sgd\noutput: ''\nsched: step\nval_split: validation\nworkers: 1\nvflip: 0.0\nbce_loss: false\n";
  ASSERT_EQ(run("train --config " + timm_args.string() + " --output " + (tmp / "timm").string(), &out), 0) << out;
  EXPECT_TRUE(contains(out, "warning: " + timm_args.string() + ": timm settings attnzoo does not implement, ignored: "
                            "color_jitter=0.3 (and 2 more timm keys at timm's defaults)")) << out;
  EXPECT_TRUE(contains(out, "lr 0.003125 (lr_base 0.1 x (8/256))")) << out;
  std::ofstream(timm_args, std::ios::app) << "foo_bar: 1\n";
  EXPECT_EQ(run("train --config " + timm_args.string() + " --output " + (tmp / "timm2").string(), &out), 2) << out;
  EXPECT_TRUE(contains(out, "unknown key 'foo_bar' (keys are the train flag names, or timm's train.py arguments)")) << out;
}

// --sched plateau: with gradients clipped to a norm of 1e-12 nothing moves, so top-1 never improves after the first epoch; with
// patience 0 every later epoch lowers the lr by --decay-rate. The state survives --resume.
TEST(CliTrain, PlateauScheduleLowersTheLrWhenTheMetricStalls) {
  const auto tmp = test::temp_dir("cli_plateau");
  const auto idx = test::write_tiny_idx(tmp / "idx", 16, 8);
  const std::string dir = (tmp / "run").string();
  const std::string train = "train --data mnist:" + idx.string() + kTinyModel +
                            " -b 8 --opt sgd --lr 0.4 --clip-grad 1e-12 --min-lr 0 --warmup-epochs 0 --sched plateau --patience-epochs 0"
                            " --decay-rate 0.5 --output " + dir;
  std::string out;
  ASSERT_EQ(run(train + " --epochs 2", &out), 0) << out;
  ASSERT_EQ(run(train + " --epochs 4 --resume " + dir + "/last.safetensors", &out), 0) << out;
  EXPECT_TRUE(contains(out, "plateau: top1 has not improved for more than 0 epochs")) << out;
  const auto records = epoch_records(dir);
  ASSERT_EQ(records.size(), 4u);
  EXPECT_DOUBLE_EQ(records[0]["lr"].get<double>(), 0.4);
  EXPECT_DOUBLE_EQ(records[1]["lr"].get<double>(), 0.4);  // epoch 2 stalls: the lr of epoch 3 is halved
  EXPECT_DOUBLE_EQ(records[2]["lr"].get<double>(), 0.2);  // read back from the checkpoint by --resume
  EXPECT_DOUBLE_EQ(records[3]["lr"].get<double>(), 0.1);
  // --layer-decay (VAN has no timm group matcher: timm's fallback grouping).
  ASSERT_EQ(run("train --data mnist:" + idx.string() + kTinyModel + " -b 8 --epochs 1 --layer-decay 0.5 --output " +
                    (tmp / "ld").string(), &out), 0) << out;
  EXPECT_TRUE(contains(out, "layer decay 0.500000 over ")) << out;
  EXPECT_TRUE(contains(out, "(timm's fallback grouping, 12 tensors each)")) << out;
}

// --checkpoint-hist N keeps checkpoint-<epoch> of the N best epochs by --eval-metric (loss: lowest); best.safetensors
// is the best of them.
TEST(CliTrain, CheckpointHistoryKeepsTheBestEpochsByTheEvalMetric) {
  const auto tmp = test::temp_dir("cli_hist");
  const auto idx = test::write_tiny_idx(tmp / "idx", 32, 16);
  std::string out;
  ASSERT_EQ(run("train --data mnist:" + idx.string() + kTinyModel + " --epochs 4 -b 8 --lr 0.01 --checkpoint-hist 2 --eval-metric loss --output " +
                    (tmp / "run").string(),
                &out),
            0)
      << out;
  std::vector<std::pair<double, int>> losses;  // (eval_loss, epoch)
  for (const auto& j : epoch_records(tmp / "run")) losses.emplace_back(j["eval_loss"].get<double>(), j["epoch"].get<int>());
  ASSERT_EQ(losses.size(), 4u);
  std::sort(losses.begin(), losses.end());
  std::set<std::string> want{"checkpoint-" + std::to_string(losses[0].second) + ".safetensors",
                             "checkpoint-" + std::to_string(losses[1].second) + ".safetensors"};
  std::set<std::string> got;
  for (const auto& e : fs::directory_iterator(tmp / "run"))
    if (e.path().filename().string().rfind("checkpoint-", 0) == 0) got.insert(e.path().filename().string());
  EXPECT_EQ(got, want);
  EXPECT_TRUE(contains(out, "(epoch " + std::to_string(losses[0].second) + ")")) << out;
  EXPECT_EQ(run("train --data mnist:" + idx.string() + kTinyModel + " --epochs 1 --eval-metric top3 --output " + (tmp / "r2").string(), &out), 2);
  EXPECT_TRUE(contains(out, "--eval-metric: must be top1, top5 or loss, got 'top3'")) << out;
}

// eval takes the model weights of a run, its EMA weights only with --use-ema (timm's validate.py).
TEST(CliTrain, EvalUsesEmaWeightsOnlyWhenAsked) {
  const auto tmp = test::temp_dir("cli_ema");
  const auto idx = test::write_tiny_idx(tmp / "idx", 32, 16);
  std::string out;
  ASSERT_EQ(run("train --data mnist:" + idx.string() + kTinyModel + " --epochs 2 -b 8 --lr 0.01 --model-ema --model-ema-decay 0.99 --output " +
                    (tmp / "run").string(),
                &out),
            0)
      << out;
  const std::string ev = "eval --checkpoint " + (tmp / "run" / "last.safetensors").string() + " --data mnist:" + idx.string() + " --json";
  ASSERT_EQ(run(ev, &out), 0) << out;
  const double model_loss = nlohmann::json::parse(out.substr(out.find('{')))["loss"];
  ASSERT_EQ(run(ev + " --use-ema", &out), 0) << out;
  const double ema_loss = nlohmann::json::parse(out.substr(out.find('{')))["loss"];
  EXPECT_NE(model_loss, ema_loss);
  const auto j = epoch_records(tmp / "run").back();
  EXPECT_NEAR(model_loss, j["eval_loss"].get<double>(), 1e-4);
  EXPECT_NEAR(ema_loss, j["ema_loss"].get<double>(), 1e-4);
}

TEST(CliTrain, BadFlagsAndDataAreClearErrors) {
  auto tmp = test::temp_dir("cli_train_errors");
  std::string out;
  EXPECT_EQ(run("train --epochs many", &out), 2);
  EXPECT_EQ(run("train --bogus 1", &out), 2);
  EXPECT_EQ(run("train --opt adam9 --max-steps-per-epoch 1 --epochs 1 --output " + (tmp / "o").string(), &out), 2);
  EXPECT_TRUE(contains(out, "--opt adam9")) << out;
  EXPECT_EQ(run("train --data " + (tmp / "missing").string() + " --epochs 1", &out), 2);
  EXPECT_TRUE(contains(out, "missing")) << out;
  fs::create_directories(tmp / "folder" / "train" / "a");
  EXPECT_EQ(run("train --data " + (tmp / "folder").string() + " --epochs 1", &out), 1);
  EXPECT_TRUE(contains(out, "holds no images")) << out;
  attnzoo::write_file_atomic((tmp / "r.yaml").string(), "epochs: [1\n");
  EXPECT_EQ(run("train --lr-base-scale cubic --epochs 1", &out), 2);
  EXPECT_TRUE(contains(out, "--lr-base-scale: must be sqrt or linear")) << out;
  EXPECT_EQ(run("train --config " + (tmp / "r.yaml").string(), &out), 2);
  EXPECT_TRUE(contains(out, "r.yaml")) << out;
}

}  // namespace

namespace {

// Issue #15's done-when: extract on the exported Fashion-MNIST folder (the 10,000 test images as PNG class
// folders): one row per image, in the folder's order, every label 1,000 times, the class names of the export.
TEST(CliTrain, ExtractOnTheExportedFashionMnistTestSet) {
  const auto tmp = test::temp_dir("extract_fmnist");
  std::string out;
  ASSERT_EQ(run("data export fashion-mnist " + (tmp / "fm").string() + " --splits test", &out), 0) << out;
  ASSERT_EQ(run("extract --model van_b0 --set embed_dims=[8,16,16,16] --set depths=[1,1,1,1] --in-chans 1 --num-classes 10 "
                "--img-size 28 --crop-pct 1 --data " + (tmp / "fm").string() + " --split test --batch-size 250 --output " +
                    (tmp / "f.safetensors").string(),
                &out),
            0)
      << out;
  const auto feats = checkpoint::read_safetensors((tmp / "f.safetensors").string());
  ASSERT_EQ(feats.tensors["features"].sizes(), (std::vector<int64_t>{10000, 16}));
  EXPECT_TRUE(torch::isfinite(feats.tensors["features"]).all().item<bool>());
  const at::Tensor counts = torch::bincount(feats.tensors["labels"], {}, 10);
  EXPECT_TRUE(counts.eq(1000).all().item<bool>()) << counts;
  const auto files = nlohmann::json::parse(feats.metadata.at("files"));
  const auto classes = nlohmann::json::parse(feats.metadata.at("classes"));
  ASSERT_EQ(files.size(), 10000u);
  ASSERT_EQ(classes.size(), 10u);
  // Row i's file lies in the folder of its label.
  for (size_t i : {size_t{0}, size_t{4999}, size_t{9999}}) {
    const fs::path f = files[i].get<std::string>();
    EXPECT_EQ(f.parent_path().filename().string(), classes[feats.tensors["labels"][static_cast<int64_t>(i)].item<int64_t>()].get<std::string>())
        << f;
  }
}

}  // namespace
