// `attnzoo viz`: pictures of what a model computes, each with the numbers behind it written beside the PNG.
//   viz erf        the effective receptive field of a stage (RepLKNet's measure) and its area ratios
//   viz attention  what the attention of chosen blocks attends to from one query position, one tile per head
#include "commands.h"
#include "eval_args.h"

#include <attnzoo/checkpoint/safetensors.h>
#include <attnzoo/core/file_util.h>
#include <attnzoo/eval/erf.h>
#include <attnzoo/datasets/image.h>
#include <attnzoo/models/features.h>
#include <attnzoo/modules/attention_capture.h>
#include <attnzoo/viz/heatmap.h>

#include <torch/torch.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <sstream>

#include <unistd.h>

namespace attnzoo::cli {
namespace {

struct ErfArgs {
  EvalArgs e;
  int64_t num_images = 50, stage = -1;
  std::string grad = "abs", output = "erf.png";
};

std::string beside(const std::string& png, const std::string& extension) {
  return std::filesystem::path(png).replace_extension(extension).string();
}

// The --stage flag as a feature index (negative: from the end), checked against the model's stages.
int64_t stage_index(int64_t stage, int64_t stages) {
  const int64_t s = stage < 0 ? stages + stage : stage;
  if (s < 0 || s >= stages)
    throw UsageError("--stage " + std::to_string(stage) + ": the model has " + std::to_string(stages) + " stages (0.." +
                     std::to_string(stages - 1) + ", or -1 for the last)");
  return s;
}

void print_area_ratios(const std::vector<eval::AreaRatio>& ratios) {
  std::printf("high-contribution area ratio (smallest centred square holding t of the total):\n");
  std::printf("  %-6s %-6s %s\n", "t", "side", "area ratio");
  for (const auto& r : ratios) {
    if (r.side == 0)
      std::printf("  %-6.2f %-6s %s\n", r.threshold, "-", "not reached inside the map");
    else
      std::printf("  %-6.2f %-6ld %.4f\n", r.threshold, long(r.side), r.ratio);
  }
}

int run_erf(const ErfArgs& args) {
  const EvalArgs a = resolve_pretrained(args.e);
  const datasets::DatasetPtr ds = open_eval_data(a);
  eval::EvalModel p = prepare(a, static_cast<int64_t>(ds->classes().size()));
  const int64_t stage = stage_index(args.stage, static_cast<int64_t>(p.model->feature_info().size()));
  const eval::ErfGrad grad = args.grad == "relu" ? eval::ErfGrad::relu : eval::ErfGrad::abs;
  const int64_t n = std::min<int64_t>(args.num_images, static_cast<int64_t>(ds->size()));
  const datasets::Transform transform(p.transform, false);
  const at::Device device(a.device);
  auto stage_map = [&](const at::Tensor& x) {
    const auto only = models::IntermediatesOptions().indices({stage}).stop_early(true).intermediates_only(true);
    return models::forward_intermediates(*p.model, x, only).intermediates[0];
  };
  at::Tensor total;
  int64_t used = 0;
  datasets::Rng rng(0);
  const auto t0 = std::chrono::steady_clock::now();
  const bool tty = isatty(fileno(stderr)) != 0;
  double last_line = 0;
  for (int64_t i = 0; i < n; ++i) {
    const at::Tensor image = transform(ds->get(static_cast<size_t>(i)).image, rng).unsqueeze(0).to(device);
    int64_t added = 0;
    const at::Tensor c = eval::erf_contribution(stage_map, image, grad, &added);
    total = total.defined() ? total + c : c;
    used += added;
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    // Rewritten in place on a terminal; otherwise (logs, CI) a line every 10 s and the last one.
    if (tty) std::fprintf(stderr, "\rerf: %ld / %ld images (%.1f s)%s", long(i + 1), long(n), s, i + 1 == n ? "\n" : "");
    else if (i + 1 == n || s - last_line >= 10) {
      std::fprintf(stderr, "erf: %ld / %ld images (%.1f s)\n", long(i + 1), long(n), s);
      last_line = s;
    }
  }
  if (used == 0) throw std::runtime_error("erf: no image gave a finite gradient");
  const at::Tensor mean = total / double(used);
  const at::Tensor scaled = eval::erf_display_scale(mean);
  const auto ratios = eval::high_contribution_area_ratios(scaled);
  const models::FeatureInfo info = p.model->feature_info()[stage];  // feature_info() returns by value

  viz::HeatmapFigure fig;
  fig.title = "ERF of " + p.name + " stage " + std::to_string(stage) + " (" + info.module + ", stride " +
              std::to_string(info.reduction) + "), " + std::to_string(used) + " images, " + std::to_string(mean.size(0)) +
              "x" + std::to_string(mean.size(1)) + ", |grad| " + (grad == eval::ErfGrad::abs ? "abs" : "relu");
  fig.value_label = "log10(1 + contribution) / max";
  const at::Tensor s = scaled.contiguous();
  fig.tiles.push_back({s.size(0), s.size(1), std::vector<double>(s.data_ptr<double>(), s.data_ptr<double>() + s.numel()),
                       "t=20%: " + (ratios[0].side ? std::to_string(ratios[0].side) + " px" : std::string("-")) +
                           ", t=99%: " + (ratios[3].side ? std::to_string(ratios[3].side) + " px" : std::string("-"))});
  fig.columns = 1;
  fig.tile_px = static_cast<int>(std::clamp<int64_t>(2 * s.size(0), 256, 512));
  fig.vmin = 0;
  fig.vmax = 1;
  viz::draw_heatmaps(fig, args.output);

  nlohmann::json j = eval::area_ratios_json(ratios);
  j["model"] = p.name;
  j["stage"] = stage;
  j["stage_module"] = info.module;
  j["reduction"] = info.reduction;
  j["num_images"] = used;
  j["data"] = ds->describe();
  j["input_size"] = {mean.size(0), mean.size(1)};
  j["grad"] = args.grad;
  j["scale"] = "log10(1 + mean contribution) / max, as RepLKNet's analyze_erf.py";
  j["contribution_map"] = beside(args.output, ".safetensors");
  write_file_atomic(beside(args.output, ".json"), j.dump(1) + "\n");
  checkpoint::TensorDict maps;
  maps.insert("contribution", mean.to(torch::kFloat32));
  maps.insert("scaled", scaled.to(torch::kFloat32));
  checkpoint::write_safetensors(beside(args.output, ".safetensors"), maps, {{"model", p.name}});
  print_area_ratios(ratios);
  std::printf("wrote %s, %s and %s\n", args.output.c_str(), beside(args.output, ".json").c_str(),
              beside(args.output, ".safetensors").c_str());
  return 0;
}

void add_erf_command(CLI::App& viz, Action& action) {
  auto* cmd = viz.add_subcommand(
      "erf", "effective receptive field of a stage (RepLKNet's measure): heatmap PNG, area ratios as JSON");
  auto a = std::make_shared<ErfArgs>();
  add_eval_model_flags(cmd, a->e);
  cmd->add_option("--data,--dataset", a->e.dataset, "images to average over: fashion-mnist (default), mnist:DIR, cifar10:DIR, folder:DIR");
  cmd->add_option("--split", a->e.split, "split to read (default test)");
  cmd->add_option("--class-map", a->e.class_map, "ImageFolder class order file");
  cmd->add_option("--num-images", a->num_images, "images averaged (the first N of the split; default 50)")->check(at_least(1));
  cmd->add_option("--stage", a->stage, "feature stage whose central position is traced (default -1: the last)");
  cmd->add_option("--grad", a->grad, "abs (|gradient|, default) or relu (max(gradient, 0), RepLKNet's script)")
      ->check(CLI::IsMember({"abs", "relu"}));
  cmd->add_option("--output", a->output, "the PNG (default erf.png); .json (area ratios) and .safetensors (maps) beside it");
  group_eval_flags(cmd);
  cmd->callback([&action, a] { action = [a] { return run_erf(*a); }; });
}


// ---------------------------------------------------------------------------------------------------------------
// viz attention

struct AttentionArgs {
  EvalArgs e;
  std::string image, query, layer, output = "attention.png";
  int64_t index = 0;
  bool list_layers = false;
};

struct Captured {
  std::string name;                     // the module's name in the model
  const modules::AttentionRecord* record;
};

// The input: an image file, or sample `index` of --data (Fashion-MNIST's test split by default).
at::Tensor input_image(const AttentionArgs& a, std::string* what) {
  if (!a.image.empty()) {
    *what = std::filesystem::path(a.image).filename().string();
    try {
      return datasets::read_image(a.image);
    } catch (const std::exception& ex) {
      throw UsageError(std::string("--image ") + a.image + ": " + ex.what());
    }
  }
  const datasets::DatasetPtr ds = open_eval_data(a.e);
  if (a.index < 0 || a.index >= static_cast<int64_t>(ds->size()))
    throw UsageError("--index " + std::to_string(a.index) + ": " + ds->describe() + " has " + std::to_string(ds->size()) + " images");
  *what = ds->describe() + " #" + std::to_string(a.index);
  return ds->get(static_cast<size_t>(a.index)).image;
}

// The normalised input back to RGB bytes for the tiles' background.
std::vector<uint8_t> background_bytes(const at::Tensor& x, const datasets::TransformOptions& t) {
  at::Tensor img = x[0].to(torch::kCPU, torch::kFloat64);
  if (img.size(0) == 1) img = img.expand({3, img.size(1), img.size(2)});
  const auto mean = torch::tensor({t.mean[0], t.mean[1], t.mean[2]}, torch::kFloat64).view({3, 1, 1});
  const auto std = torch::tensor({t.std[0], t.std[1], t.std[2]}, torch::kFloat64).view({3, 1, 1});
  if (x.size(1) == 1) img = img * std[0] + mean[0];
  else img = img * std + mean;
  const at::Tensor bytes = (img.clamp(0, 1) * 255).round().to(torch::kUInt8).permute({1, 2, 0}).contiguous();
  return std::vector<uint8_t>(bytes.data_ptr<uint8_t>(), bytes.data_ptr<uint8_t>() + bytes.numel());
}

std::vector<Captured> name_records(torch::nn::Module& model, const std::vector<modules::AttentionRecord>& records) {
  std::map<const torch::nn::Module*, std::string> names;
  for (const auto& item : model.named_modules()) names.emplace(item.value().get(), item.key());
  std::vector<Captured> out;
  for (const auto& r : records) {
    const auto it = names.find(r.module);
    out.push_back({it == names.end() ? std::string("?") : it->first == &model ? std::string("(model)") : it->second, &r});
  }
  return out;
}

bool under(const std::string& name, const std::string& prefix) {
  return name == prefix || (name.size() > prefix.size() && name.compare(0, prefix.size(), prefix) == 0 && name[prefix.size()] == '.');
}

// --layer NAME: the last record of that module or of a module under it; default: the last one of each stage.
std::vector<Captured> select_layers(const std::vector<Captured>& all, const std::string& layer,
                                    const std::vector<models::FeatureInfo>& stages) {
  std::vector<Captured> drawable;
  for (const auto& c : all)
    if (c.record->query_map) drawable.push_back(c);
  if (!layer.empty()) {
    for (auto it = drawable.rbegin(); it != drawable.rend(); ++it)
      if (under(it->name, layer)) return {*it};
    std::string known;
    for (const auto& c : drawable) known += (known.empty() ? "" : ", ") + c.name;
    throw UsageError("--layer " + layer + ": no attention there (attention modules: " + (known.empty() ? "none" : known) + ")");
  }
  std::vector<Captured> out;
  for (const auto& s : stages) {
    const Captured* last = nullptr;
    for (const auto& c : drawable)
      if (under(c.name, s.module)) last = &c;
    if (last && (out.empty() || out.back().record != last->record)) out.push_back(*last);
  }
  if (out.empty()) {
    // The stages' modules do not contain the attentions (VAN's feature_info names its norms): a stage is then a
    // run of attentions on one map size, and its last one is drawn.
    for (size_t i = 0; i < drawable.size(); ++i)
      if (i + 1 == drawable.size() || drawable[i + 1].record->key_grid != drawable[i].record->key_grid)
        out.push_back(drawable[i]);
  }
  return out;
}

// --query x,y (input pixels; default: the centre) -> a position on the record's query map.
std::array<int64_t, 2> query_position(const std::string& query, const modules::AttentionRecord& r, int64_t img_h, int64_t img_w) {
  double x = (img_w - 1) / 2.0, y = (img_h - 1) / 2.0;
  if (!query.empty()) {
    char comma = 0;
    std::istringstream in(query);
    if (!(in >> x >> comma >> y) || comma != ',' || x < 0 || y < 0 || x >= img_w || y >= img_h)
      throw UsageError("--query " + query + ": expected x,y inside the " + std::to_string(img_w) + "x" + std::to_string(img_h) + " input");
  }
  if (r.query_grid[0] == 0) return {0, 0};
  return {std::min<int64_t>(static_cast<int64_t>(y * r.query_grid[0] / img_h), r.query_grid[0] - 1),
          std::min<int64_t>(static_cast<int64_t>(x * r.query_grid[1] / img_w), r.query_grid[1] - 1)};
}

std::string sanitize(const std::string& name) {
  std::string s = name;
  for (char& ch : s)
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  return s;
}

nlohmann::json tensor_rows(const at::Tensor& m) {  // [rows, cols] -> [[...], ...]
  nlohmann::json rows = nlohmann::json::array();
  const at::Tensor c = m.contiguous();
  for (int64_t i = 0; i < c.size(0); ++i)
    rows.push_back(std::vector<double>(c[i].data_ptr<double>(), c[i].data_ptr<double>() + c.size(1)));
  return rows;
}

int run_attention(const AttentionArgs& args) {
  const EvalArgs a = resolve_pretrained(args.e);
  std::string what;
  const at::Tensor raw = input_image(args, &what);
  eval::EvalModel p = prepare(a, -1);
  datasets::Rng rng(0);
  const at::Tensor x = datasets::Transform(p.transform, false)(raw, rng).unsqueeze(0).to(at::Device(a.device));
  modules::AttentionCapture capture;
  at::Tensor logits;
  {
    torch::NoGradGuard no_grad;
    logits = p.model->forward(x);
  }
  const auto all = name_records(*p.model, capture.records());
  if (args.list_layers) {
    for (const auto& c : all)
      std::printf("%-40s %-12s queries %ldx%ld -> keys %ldx%ld%s\n", c.name.c_str(), c.record->kind.c_str(),
                  long(c.record->query_grid[0]), long(c.record->query_grid[1]), long(c.record->key_grid[0]),
                  long(c.record->key_grid[1]), c.record->query_map ? "" : " (no map)");
    return 0;
  }
  const auto chosen = select_layers(all, args.layer, p.model->feature_info());
  if (chosen.empty())
    throw UsageError("--model " + p.name + ": no attention was recorded (a convolutional family: see `viz erf`)");
  const int64_t img_h = x.size(2), img_w = x.size(3);
  const auto background = background_bytes(x, p.transform);
  const int64_t top = logits.dim() == 2 && logits.size(1) > 1 ? logits[0].argmax().item<int64_t>() : -1;
  nlohmann::json layers = nlohmann::json::array();
  const std::filesystem::path out(args.output);
  for (const auto& c : chosen) {
    const modules::AttentionRecord& r = *c.record;
    const auto q = query_position(args.query, r, img_h, img_w);
    const at::Tensor maps = r.query_map(0, q[0], q[1]);  // [heads, rows, cols]
    const bool spatial = r.kind != "channel";
    viz::HeatmapFigure fig;
    fig.title = p.name + "  " + c.name + " (" + r.kind + ")" +
                (r.query_grid[0] ? "  query (" + std::to_string(q[1]) + "," + std::to_string(q[0]) + ") of " +
                                       std::to_string(r.query_grid[1]) + "x" + std::to_string(r.query_grid[0])
                                 : std::string());
    fig.value_label = r.kind == "lka" ? "attention map value" : r.kind == "channel" ? "weight (row: channel)" : "attention weight";
    if (spatial) {
      fig.background = background;
      fig.background_rows = img_h;
      fig.background_cols = img_w;
    }
    if (r.query_grid[0] && spatial)
      fig.markers.push_back({(q[0] + 0.5) / r.query_grid[0], (q[1] + 0.5) / r.query_grid[1]});
    if (r.kind != "lka") fig.vmin = 0;
    nlohmann::json heads = nlohmann::json::array();
    for (int64_t h = 0; h < maps.size(0); ++h) {
      const at::Tensor m = maps[h].contiguous();
      std::string label = (r.kind == "lka" ? std::string() : (r.kind == "channel" ? "group " : "head ") + std::to_string(h)) +
                          (h < static_cast<int64_t>(r.head_labels.size()) ? (r.kind == "lka" ? "" : ", ") + r.head_labels[h] : "");
      fig.tiles.push_back({m.size(0), m.size(1), std::vector<double>(m.data_ptr<double>(), m.data_ptr<double>() + m.numel()), label});
      heads.push_back({{"label", label}, {"sum", m.sum().item<double>()}, {"map", tensor_rows(m)}});
    }
    fig.columns = static_cast<int>(std::min<int64_t>(maps.size(0), 4));
    fig.tile_px = 176;
    const std::string png = chosen.size() == 1 ? out.string()
                                               : (out.parent_path() / (out.stem().string() + "_" + sanitize(c.name) + ".png")).string();
    viz::draw_heatmaps(fig, png);
    std::printf("wrote %s: %s %s, %ld heads\n", png.c_str(), c.name.c_str(), r.kind.c_str(), long(maps.size(0)));
    layers.push_back({{"module", c.name}, {"kind", r.kind}, {"png", png},
                      {"query", {q[1], q[0]}}, {"query_grid", r.query_grid}, {"key_grid", r.key_grid}, {"heads", heads}});
  }
  nlohmann::json j = {{"model", p.name}, {"input", what}, {"input_size", {img_h, img_w}}, {"top_class", top},
                      {"query_pixel", args.query.empty() ? "centre" : args.query}, {"layers", layers}};
  write_file_atomic(beside(args.output, ".json"), j.dump(1) + "\n");
  std::printf("wrote %s\n", beside(args.output, ".json").c_str());
  return 0;
}

void add_attention_command(CLI::App& viz, Action& action) {
  auto* cmd = viz.add_subcommand("attention", "what chosen attention blocks attend to from one query, one tile per head, over the image");
  auto a = std::make_shared<AttentionArgs>();
  add_eval_model_flags(cmd, a->e);
  cmd->add_option("--image", a->image, "the image (default: sample --index of --data)");
  cmd->add_option("--data,--dataset", a->e.dataset, "dataset to take the image from: fashion-mnist (default), mnist:DIR, cifar10:DIR, folder:DIR");
  cmd->add_option("--split", a->e.split, "split to read (default test)");
  cmd->add_option("--index", a->index, "which image of --data (default 0)")->check(at_least(0));
  cmd->add_option("--layer", a->layer, "module (or block) whose attention to draw (default: the last of each stage; see --list-layers)");
  cmd->add_option("--query", a->query, "query position x,y in input pixels (default: the centre)");
  cmd->add_flag("--list-layers", a->list_layers, "print every attention module recorded in one forward pass and exit");
  cmd->add_option("--output", a->output, "the PNG (default attention.png; several layers: <stem>_<layer>.png); the maps as <stem>.json");
  group_eval_flags(cmd);
  cmd->callback([&action, a] { action = [a] { return run_attention(*a); }; });
}

}  // namespace

void add_viz_command(CLI::App& app, Action& action) {
  auto* viz = app.add_subcommand("viz", "pictures of what a model computes: erf (effective receptive field), attention (maps per head)");
  viz->require_subcommand(1);
  add_erf_command(*viz, action);
  add_attention_command(*viz, action);
}

}  // namespace attnzoo::cli
