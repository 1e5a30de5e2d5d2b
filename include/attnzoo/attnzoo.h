#pragma once
// Umbrella header: everything a LibTorch project needs to use attnzoo's modules and models.
//
//   #include <attnzoo/attnzoo.h>
//   auto model = attnzoo::models::create_model("van_b0", {{"num_classes", 10}});
//   attnzoo::models::load_weights(*model, "van_tiny_754.pth.tar");
//   auto logits = model->forward(images);
#include <attnzoo/checkpoint/pickle.h>
#include <attnzoo/checkpoint/safetensors.h>
#include <attnzoo/checkpoint/state_dict.h>
#include <attnzoo/models/agent.h>
#include <attnzoo/models/biformer.h>
#include <attnzoo/models/biformer_stl.h>
#include <attnzoo/models/classifier.h>
#include <attnzoo/models/convit.h>
#include <attnzoo/models/davit.h>
#include <attnzoo/models/byobnet.h>
#include <attnzoo/models/config.h>
#include <attnzoo/models/litv2.h>
#include <attnzoo/models/nat.h>
#include <attnzoo/models/load.h>
#include <attnzoo/models/registry.h>
#include <attnzoo/models/van.h>
#include <attnzoo/modules/agent.h>
#include <attnzoo/modules/attention.h>
#include <attnzoo/modules/biformer.h>
#include <attnzoo/modules/bottleneck_attn.h>
#include <attnzoo/modules/byobnet.h>
#include <attnzoo/modules/biformer.h>
#include <attnzoo/modules/biformer_stl.h>
#include <attnzoo/modules/convit.h>
#include <attnzoo/modules/davit.h>
#include <attnzoo/modules/deform_conv.h>
#include <attnzoo/modules/drop_path.h>
#include <attnzoo/modules/litv2.h>
#include <attnzoo/modules/convit.h>
#include <attnzoo/modules/halo_attn.h>
#include <attnzoo/modules/init.h>
#include <attnzoo/modules/van.h>
#include <attnzoo/modules/mlp.h>
#include <attnzoo/modules/module_registry.h>
#include <attnzoo/modules/nat.h>
#include <attnzoo/modules/nat.h>
#include <attnzoo/modules/norm.h>
#include <attnzoo/modules/patch_embed.h>
#include <attnzoo/modules/patch_merging.h>
#include <attnzoo/modules/sequence.h>
#include <attnzoo/modules/squeeze_excite.h>
