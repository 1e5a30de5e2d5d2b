#pragma once
// Layer-wise learning-rate decay (timm's `--layer-decay`, param_groups_layer_decay, after BEiT): every parameter
// belongs to a layer, and the lr of layer i is scaled by layer_decay ^ (last layer - i), so the stem learns
// slowest and the head at the full rate.
#include <attnzoo/models/classifier.h>
#include <attnzoo/train/optim.h>

#include <string>
#include <vector>

namespace attnzoo::train {

/// The layer of each of `names` (in the model's parameter order). With a `matcher`: timm's group_with_matcher
/// (the first entry whose regex matches at the start of the name gives the key (ordinal, captured numbers...,
/// suffix...); keys are sorted and numbered from 0, a key ending in 99999 joins the layer before; unmatched names
/// come last). Without: timm's auto_group_layers (the names outside `head_prefix` in order, 12 per layer; the
/// head's one layer after them).
std::vector<int64_t> layer_ids(const std::vector<std::string>& names, const std::vector<models::GroupMatch>& matcher,
                               const std::string& head_prefix);

/// Multiplies each parameter's lr_scale by layer_decay ^ (last layer - its layer), the layers from the model's
/// group_matcher() (or timm's fallback with its pretrained config's classifier). Returns the number of layers.
int64_t apply_layer_decay(std::vector<Param>& params, const models::ClassifierImpl& model, double layer_decay);

}  // namespace attnzoo::train
