#pragma once
// Weight initialisations of the official code bases (timm's trunc_normal_, VAN's conv fan-out init).
#include <ATen/core/Tensor.h>

namespace torch::nn {
class Module;
}

namespace attnzoo::modules {

/// timm trunc_normal_: N(mean, std) truncated to the absolute interval [a, b] (resampled, not clamped).
void trunc_normal_(at::Tensor& t, double std = 0.02, double mean = 0.0, double a = -2.0, double b = 2.0);

/// timm ViT-style init over a module tree: Linear weight trunc_normal(.02), bias 0; LayerNorm 1 / 0.
/// With conv_fan_out also Conv2d weight N(0, sqrt(2 / fan_out)), fan_out = k*k*out/groups, bias 0 (VAN).
void init_vit_weights(torch::nn::Module& root, bool conv_fan_out = false);

}  // namespace attnzoo::modules
