#include <attnzoo/train/trainer.h>

#include <attnzoo/train/amp.h>
#include <attnzoo/train/distributed.h>

#include "run_support.h"

#include <cstdio>
#include <cstdlib>

#include <attnzoo/core/file_util.h>
#include <attnzoo/checkpoint/safetensors.h>
#include <attnzoo/checkpoint/state_dict.h>
#include <attnzoo/datasets/loader.h>
#include <attnzoo/eval/evaluate.h>
#include <attnzoo/models/load.h>
#include <attnzoo/models/registry.h>
#include <attnzoo/train/ema.h>
#include <attnzoo/train/optim.h>
#include <attnzoo/train/progress.h>
#include <attnzoo/train/schedule.h>

#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>

namespace attnzoo::train {
namespace fs = std::filesystem;
using checkpoint::TensorDict;
using namespace detail;

namespace {

struct RunState {
  int64_t epoch = 0;        // epoch in progress (or next to start)
  int64_t batch = 0;        // next batch within that epoch
  int64_t global_step = 0;  // updates done
  double best_top1 = -1;
  int64_t best_epoch = -1;
};

void save_checkpoint(const std::string& path, models::ClassifierImpl& model, const Optimizer& opt, const ModelEma* ema,
                     const RunState& st, const TrainConfig& cfg, const std::vector<std::string>& classes,
                     const nlohmann::json& eval_transform) {
  TensorDict all;
  add_prefixed(all, "state_dict", checkpoint::state_dict(model));
  if (ema) add_prefixed(all, "state_dict_ema", ema->state());
  add_prefixed(all, "optimizer", opt.state_dict());
  all.insert("rng.torch_cpu", torch_rng_state());
  nlohmann::json meta = {{"epoch", st.epoch},           {"batch", st.batch},         {"global_step", st.global_step},
                         {"best_top1", st.best_top1},   {"best_epoch", st.best_epoch}, {"arch", cfg.model},
                         {"config", cfg.to_json()},     {"classes", classes},         {"eval_transform", eval_transform},
                         {"model_args", nlohmann::json(cfg.model_args)}};
  checkpoint::write_safetensors(path, all, {{"attnzoo.envelope", "1"}, {"attnzoo.train", meta.dump()}, {"format", "pt"}});
}

std::string fmt_time(double s) {
  const int64_t t = static_cast<int64_t>(s);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", long(t / 3600), long(t / 60 % 60), long(t % 60));
  return buf;
}

}  // namespace

TrainResult run_training(const TrainConfig& cfg) {
  const auto t_start = std::chrono::steady_clock::now();
  const at::Device device(cfg.device);
  torch::manual_seed(cfg.seed);

  // Data.
  auto train_ds = datasets::open_dataset(cfg.dataset, cfg.train_split, cfg.class_map);
  std::string val_split = cfg.val_split;
  if (val_split.empty()) {
    try {
      datasets::open_dataset(cfg.dataset, "val", cfg.class_map);
      val_split = "val";
    } catch (const std::exception&) {
      val_split = "test";
    }
  }
  auto val_ds = datasets::open_dataset(cfg.dataset, val_split, cfg.class_map);
  if (val_ds->classes() != train_ds->classes())
    throw std::runtime_error("the " + val_split + " split has other classes than the " + cfg.train_split + " split");

  // Model.
  nlohmann::json args = cfg.model_args;
  const int64_t num_classes = cfg.num_classes > 0 ? cfg.num_classes : static_cast<int64_t>(train_ds->classes().size());
  args["num_classes"] = num_classes;
  if (cfg.in_chans > 0) args["in_chans"] = cfg.in_chans;
  if (cfg.drop_path >= 0) args["drop_path_rate"] = cfg.drop_path;
  auto model = models::create_model(cfg.model, args);
  auto make_eval_model = [&] { return models::create_model(cfg.model, args); };
  const models::PretrainedCfg& pc = model->pretrained_cfg();
  const int64_t in_chans = cfg.in_chans > 0 ? cfg.in_chans : models::registry().resolve_args(cfg.model, args).value("in_chans", int64_t{3});

  if (!cfg.initial_checkpoint.empty()) {
    models::LoadOptions lo;
    lo.checkpoint_key = cfg.checkpoint_key;
    lo.drop_mismatched_head = true;
    lo.adapt_input_conv = true;
    models::load_weights(*model, cfg.initial_checkpoint, lo);
  }
  model->to(device);
  if (cfg.channels_last) {  // NHWC weights for the convolutions (pays off on GPUs and oneDNN)
    torch::NoGradGuard ng;
    for (auto& p : model->parameters())
      if (p.dim() == 4) p.set_data(p.contiguous(at::MemoryFormat::ChannelsLast));
  }

  // Transforms and loaders.
  datasets::TransformOptions to;
  to.img_size = cfg.img_size > 0 ? cfg.img_size : pc.input_size[1];
  to.in_chans = in_chans;
  to.mean = cfg.mean[0] >= 0 ? cfg.mean : pc.mean;
  to.std = cfg.std[0] >= 0 ? cfg.std : pc.std;
  to.crop_pct = cfg.crop_pct > 0 ? cfg.crop_pct : pc.crop_pct;
  to.interpolation = cfg.interpolation;
  to.random_resized_crop = !cfg.no_rrc;
  to.scale = cfg.scale;
  to.ratio = cfg.ratio;
  to.pad_crop = cfg.pad_crop;
  to.hflip = cfg.hflip;
  to.auto_augment = cfg.aa;
  to.reprob = cfg.reprob;
  // Data parallel: one process per replica (torchrun environment); gradients are averaged with c10d.
  const std::unique_ptr<ProcessGroup> pg = join_process_group(cfg.rank, cfg.world_size, device, cfg.dist_timeout);
  datasets::LoaderOptions lo;
  lo.batch_size = cfg.batch_size;
  lo.workers = cfg.workers;
  lo.seed = cfg.seed;
  lo.rank = cfg.rank;
  lo.world_size = cfg.world_size;
  lo.skip_bad_images = cfg.skip_bad_images;
  datasets::Loader train_loader(train_ds, datasets::Transform(to, true), lo);
  auto vlo = lo;
  vlo.shuffle = false;
  vlo.drop_last = false;
  vlo.rank = 0;
  vlo.world_size = 1;
  datasets::Loader val_loader(val_ds, datasets::Transform(to, false), vlo);

  // Optimisation.
  OptimizerOptions oo;
  oo.name = cfg.opt;
  oo.weight_decay = cfg.weight_decay;
  oo.momentum = cfg.momentum;
  auto opt = make_optimizer(param_groups(*model, model->no_weight_decay()), oo);
  int64_t steps_per_epoch = train_loader.num_batches();
  if (cfg.max_steps_per_epoch > 0) steps_per_epoch = std::min(steps_per_epoch, cfg.max_steps_per_epoch);
  CosineSchedule sched;
  sched.lr = cfg.lr > 0 ? cfg.lr : cfg.lr_base * static_cast<double>(cfg.batch_size * cfg.world_size) / 512.0;
  sched.min_lr = cfg.min_lr;
  sched.warmup_lr = cfg.warmup_lr;
  sched.warmup_steps = static_cast<int64_t>(std::llround(cfg.warmup_epochs * steps_per_epoch));
  sched.total_steps = cfg.epochs * steps_per_epoch;
  std::unique_ptr<ModelEma> ema;
  if (cfg.model_ema) ema = std::make_unique<ModelEma>(*model, cfg.model_ema_decay);
  datasets::MixupOptions mo;
  mo.mixup_alpha = cfg.mixup;
  mo.cutmix_alpha = cfg.cutmix;
  mo.prob = cfg.mixup_prob;
  mo.switch_prob = cfg.mixup_switch_prob;
  mo.label_smoothing = cfg.smoothing;
  mo.num_classes = num_classes;

  // What eval/predict need to rebuild the model and its input pipeline from the checkpoint alone.
  nlohmann::json model_args_used = args;
  const nlohmann::json eval_transform = {{"img_size", to.img_size}, {"in_chans", to.in_chans}, {"mean", to.mean},
                                         {"std", to.std}, {"crop_pct", to.crop_pct}, {"interpolation", to.interpolation},
                                         {"model", cfg.model}, {"model_args", model_args_used}};
  RunState st;
  if (!cfg.resume.empty()) {
    auto f = checkpoint::read_safetensors(cfg.resume);
    if (!f.metadata.count("attnzoo.train"))
      throw std::runtime_error(cfg.resume + ": not an attnzoo training checkpoint (use --initial-checkpoint for weights)");
    const auto meta = nlohmann::json::parse(f.metadata.at("attnzoo.train"));
    checkpoint::load_state_dict(*model, take_prefixed(f.tensors, "state_dict"), true, cfg.resume);
    opt->load_state_dict(take_prefixed(f.tensors, "optimizer"));
    if (ema) ema->load(take_prefixed(f.tensors, "state_dict_ema"));
    set_torch_rng_state(f.tensors["rng.torch_cpu"]);
    st.epoch = meta.at("epoch");
    st.batch = meta.at("batch");
    st.global_step = meta.at("global_step");
    st.best_top1 = meta.at("best_top1");
    st.best_epoch = meta.at("best_epoch");
  }

  // Every replica starts from rank 0's weights and buffers (after a resume too).
  if (pg) broadcast_module(*pg, *model);
  std::vector<at::Tensor> dist_grads;  // reused every step
  const at::ScalarType amp = amp_dtype(cfg.amp, device);
  GradScaler scaler(amp == at::kHalf);
  std::vector<at::Tensor> amp_params;
  for (const auto& prm : opt->params()) amp_params.push_back(prm.tensor);
  const bool writer = cfg.rank == 0;
  fs::create_directories(cfg.output);
  const std::string last_path = (fs::path(cfg.output) / "last.safetensors").string();
  const std::string best_path = (fs::path(cfg.output) / "best.safetensors").string();
  const std::string csv_path = (fs::path(cfg.output) / "summary.csv").string();
  const std::string log_path = (fs::path(cfg.output) / "log.jsonl").string();
  std::ofstream log;
  if (writer) {
    attnzoo::write_file_atomic((fs::path(cfg.output) / "args.json").string(), cfg.to_json().dump(1) + "\n");
    if (cfg.resume.empty() || !fs::exists(csv_path)) {
      std::ofstream csv(csv_path);
      csv << "epoch,train_loss,eval_loss,eval_top1,eval_top5,lr,img_s" << (ema ? ",ema_loss,ema_top1,ema_top5" : "") << "\n";
    }
    log.open(log_path, std::ios::app);
  }
  int64_t n_params = 0;
  for (const auto& p : model->parameters()) n_params += p.numel();
  Progress progress(writer);
  progress.line("train " + cfg.model + " (" + std::to_string(n_params) + " params) on " + train_ds->describe() + "; eval on " +
                val_ds->describe() + "; " + std::to_string(cfg.epochs) + " epochs x " + std::to_string(steps_per_epoch) +
                " steps, batch " + std::to_string(cfg.batch_size) + ", lr " + std::to_string(sched.lr) + ", threads " +
                std::to_string(at::get_num_threads()));

  TrainResult result;
  result.last_checkpoint = last_path;
  result.best_checkpoint = best_path;
  double recent_img_s = 0;
  for (int64_t epoch = st.epoch; epoch < cfg.epochs; ++epoch) {
    model->train();
    train_loader.start_epoch(epoch, st.batch);
    double loss_sum = 0;
    int64_t loss_n = 0, images = 0;
    const auto t_epoch = std::chrono::steady_clock::now();
    while (auto b = train_loader.next()) {
      if (b->index >= steps_per_epoch) break;
      at::Tensor x = b->images;
      datasets::Rng mix_rng(datasets::sample_seed(cfg.seed ^ 0x6d6978ull, epoch, b->index));
      at::Tensor target = datasets::mixup_batch(x, b->labels, mo, mix_rng);
      x = x.to(device);
      if (cfg.channels_last) x = x.contiguous(at::MemoryFormat::ChannelsLast);
      target = target.to(device);
      const double lr = sched(st.global_step);
      at::Tensor logits;
      {
        AutocastGuard autocast(device, amp);  // --amp: the forward in bf16 / fp16, the loss in float32
        logits = model->forward(x);
      }
      auto loss = -(target * torch::log_softmax(logits.to(torch::kFloat), 1)).sum(1).mean();
      double lv = loss.item<double>();
      if (pg) lv = allreduce_mean(*pg, lv);  // the stop-on-NaN decision must be the same on every rank
      if (!std::isfinite(lv)) {
        progress.finish();
        throw std::runtime_error("loss is " + std::to_string(lv) + " at epoch " + std::to_string(epoch) + " step " +
                                 std::to_string(b->index) + " (lr " + std::to_string(lr) +
                                 "); stopping. The last good checkpoint is kept: " + last_path);
      }
      opt->zero_grad();
      scaler.scale_loss(loss).backward();
      if (pg) allreduce_gradients(*pg, opt->params(), dist_grads);  // bucketed all-reduce after backward
      // fp16: unscale (after the all-reduce, so every rank decides alike); inf/NaN gradients skip the update.
      const bool step_ok = scaler.unscale_and_check(amp_params);
      if (cfg.clip_grad > 0 && step_ok) clip_grad_norm(opt->params(), cfg.clip_grad);
      if (step_ok) opt->step(lr);
      if (ema) ema->update(*model);
      if (pg) inject_fault(cfg.rank, st.global_step + 1);
      if (pg && cfg.dist_verify) verify_replicas(*pg, *model, st.global_step + 1);  // tests: replicas == rank 0
      ++st.global_step;
      st.batch = b->index + 1;
      loss_sum += lv * x.size(0);
      loss_n += x.size(0);
      images += x.size(0);
      const double el = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_epoch).count();
      recent_img_s = el > 0 ? images * cfg.world_size / el : 0;  // global throughput (all ranks)
      const int64_t done = st.global_step, total = sched.total_steps;
      const double total_el = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count();
      progress.step(epoch + 1, cfg.epochs, st.batch, steps_per_epoch, loss_sum / loss_n, lr, recent_img_s,
                    recent_img_s > 0 ? (total - done) * cfg.batch_size * cfg.world_size / recent_img_s : 0, total_el);
      if (writer && cfg.log_interval > 0 && st.global_step % cfg.log_interval == 0)
        log << nlohmann::json{{"type", "step"}, {"epoch", epoch}, {"step", st.batch}, {"global_step", st.global_step},
                              {"loss", lv}, {"lr", lr}, {"img_s", recent_img_s}}.dump()
            << std::endl;
      if (writer && cfg.checkpoint_every > 0 && st.global_step % cfg.checkpoint_every == 0) {
        RunState mid = st;
        mid.epoch = epoch;
        save_checkpoint(last_path, *model, *opt, ema.get(), mid, cfg, train_ds->classes(), eval_transform);
      }
      if (cfg.stop_after_steps > 0 && st.global_step >= cfg.stop_after_steps) {
        progress.finish();
        throw std::runtime_error("stopped after " + std::to_string(st.global_step) + " steps (--stop-after-steps)");
      }
    }
    progress.finish();
    if (train_loader.skipped() > 0)
      progress.line("epoch " + std::to_string(epoch + 1) + ": skipped " + std::to_string(train_loader.skipped()) +
                    " unreadable image(s), e.g. " + train_loader.skipped_messages().front());
    const double train_loss = loss_n ? loss_sum / loss_n : 0;
    const double lr_now = sched(std::max<int64_t>(0, st.global_step - 1));
    // Evaluate (and the EMA weights in a second model). Data parallel: rank 0 evaluates the whole split
    // (exact numbers, no duplicated padding samples) while the others wait at the barrier.
    eval::EvalResult r, re;
    if (pg && !writer) {
      pg->barrier();
      st.epoch = epoch + 1;
      st.batch = 0;
      continue;
    }
    r = eval::evaluate(*model, val_loader, device);
    if (ema) {
      auto em = make_eval_model();
      checkpoint::load_state_dict(*em, ema->state(), true, "EMA");
      em->to(device);
      re = eval::evaluate(*em, val_loader, device);
    }
    st.epoch = epoch + 1;
    st.batch = 0;
    const double metric = ema ? std::max(r.top1, re.top1) : r.top1;
    const bool is_best = metric > st.best_top1;
    if (is_best) {
      st.best_top1 = metric;
      st.best_epoch = epoch + 1;
    }
    if (pg) pg->barrier();
    if (writer) {
      save_checkpoint(last_path, *model, *opt, ema.get(), st, cfg, train_ds->classes(), eval_transform);
      if (is_best) fs::copy_file(last_path, best_path, fs::copy_options::overwrite_existing);
      std::ofstream csv(csv_path, std::ios::app);
      csv << epoch + 1 << "," << train_loss << "," << r.loss << "," << r.top1 << "," << r.top5 << "," << lr_now << ","
          << recent_img_s;
      if (ema) csv << "," << re.loss << "," << re.top1 << "," << re.top5;
      csv << "\n";
      nlohmann::json ej = {{"type", "epoch"}, {"epoch", epoch + 1},  {"train_loss", train_loss}, {"eval_loss", r.loss},
                           {"eval_top1", r.top1}, {"eval_top5", r.top5}, {"lr", lr_now},          {"img_s", recent_img_s},
                           {"elapsed_s", std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count()}};
      if (ema) ej.update({{"ema_top1", re.top1}, {"ema_top5", re.top5}, {"ema_loss", re.loss}});
      log << ej.dump() << std::endl;
    }
    char line[256];
    std::snprintf(line, sizeof line, "epoch %ld/%ld: train_loss %.4f  eval_loss %.4f  top1 %.2f  top5 %.2f%s  (%.0f img/s, %s)",
                  long(epoch + 1), long(cfg.epochs), train_loss, r.loss, r.top1, r.top5,
                  ema ? (" ema_top1 " + std::to_string(re.top1).substr(0, 5)).c_str() : "", recent_img_s,
                  fmt_time(std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count()).c_str());
    progress.line(line);
    result.final_top1 = ema && re.top1 > r.top1 ? re.top1 : r.top1;
    result.final_top5 = ema && re.top1 > r.top1 ? re.top5 : r.top5;
    result.final_loss = ema && re.top1 > r.top1 ? re.loss : r.loss;
  }
  result.best_top1 = st.best_top1;
  result.best_epoch = st.best_epoch;
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count();
  return result;
}

}  // namespace attnzoo::train
