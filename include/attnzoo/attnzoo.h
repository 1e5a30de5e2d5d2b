#pragma once
// Umbrella header: every public header of attnzoo's libraries (core, checkpoint, modules, models, datasets,
// eval, train), for LibTorch projects that link attnzoo::attnzoo.
//
//   #include <attnzoo/attnzoo.h>
//   auto model = attnzoo::models::create_model("van_b0", {{"num_classes", 10}});
//   attnzoo::models::load_weights(*model, "van_tiny_754.pth.tar");
//   auto logits = model->forward(images);
//
// tests/test_umbrella.cpp checks that it names every public header.
#include <attnzoo/core/arg_table.h>
#include <attnzoo/core/args.h>
#include <attnzoo/core/file_util.h>
#include <attnzoo/core/natural_sort.h>
#include <attnzoo/checkpoint/pickle.h>
#include <attnzoo/checkpoint/run_checkpoint.h>
#include <attnzoo/checkpoint/safetensors.h>
#include <attnzoo/checkpoint/state_dict.h>
#include <attnzoo/checkpoint/tensor_dict.h>
#include <attnzoo/modules/agent.h>
#include <attnzoo/modules/agent_cswin.h>
#include <attnzoo/modules/attention.h>
#include <attnzoo/modules/biformer.h>
#include <attnzoo/modules/biformer_stl.h>
#include <attnzoo/modules/bottleneck_attn.h>
#include <attnzoo/modules/byobnet.h>
#include <attnzoo/modules/conv_norm_act.h>
#include <attnzoo/modules/convit.h>
#include <attnzoo/modules/davit.h>
#include <attnzoo/modules/deform_conv.h>
#include <attnzoo/modules/depthwise.h>
#include <attnzoo/modules/drop_path.h>
#include <attnzoo/modules/fast_kernels.h>
#include <attnzoo/modules/halo_attn.h>
#include <attnzoo/modules/init.h>
#include <attnzoo/modules/litv2.h>
#include <attnzoo/modules/mlp.h>
#include <attnzoo/modules/module_registry.h>
#include <attnzoo/modules/nat.h>
#include <attnzoo/modules/norm.h>
#include <attnzoo/modules/options/attention.h>
#include <attnzoo/modules/options/biformer.h>
#include <attnzoo/modules/options/byobnet.h>
#include <attnzoo/modules/options/convit.h>
#include <attnzoo/modules/options/layers.h>
#include <attnzoo/modules/options/nat.h>
#include <attnzoo/modules/options/van.h>
#include <attnzoo/modules/patch_embed.h>
#include <attnzoo/modules/patch_merging.h>
#include <attnzoo/modules/rel_pos.h>
#include <attnzoo/modules/sequence.h>
#include <attnzoo/modules/squeeze_excite.h>
#include <attnzoo/modules/van.h>
#include <attnzoo/models/agent.h>
#include <attnzoo/models/agent_cswin.h>
#include <attnzoo/models/biformer.h>
#include <attnzoo/models/biformer_stl.h>
#include <attnzoo/models/byobnet.h>
#include <attnzoo/models/classifier.h>
#include <attnzoo/models/config.h>
#include <attnzoo/models/convit.h>
#include <attnzoo/models/davit.h>
#include <attnzoo/models/litv2.h>
#include <attnzoo/models/load.h>
#include <attnzoo/models/lra_encoder.h>
#include <attnzoo/models/nat.h>
#include <attnzoo/models/pretrained_cfg.h>
#include <attnzoo/models/registry.h>
#include <attnzoo/models/van.h>
#include <attnzoo/datasets/dataset.h>
#include <attnzoo/datasets/loader.h>
#include <attnzoo/datasets/lra.h>
#include <attnzoo/datasets/transforms.h>
#include <attnzoo/eval/bench.h>
#include <attnzoo/eval/evaluate.h>
#include <attnzoo/eval/flops.h>
#include <attnzoo/eval/gemm_peak.h>
#include <attnzoo/eval/load.h>
#include <attnzoo/eval/profile.h>
#include <attnzoo/train/amp.h>
#include <attnzoo/train/distributed.h>
#include <attnzoo/train/ema.h>
#include <attnzoo/train/lra.h>
#include <attnzoo/train/optim.h>
#include <attnzoo/train/progress.h>
#include <attnzoo/train/schedule.h>
#include <attnzoo/train/trainer.h>
