#pragma once
// The residual blocks of timm's ByobNet ("bring your own blocks") that HaloNet, BoTNet and the
// LambdaNetworks hybrids are built from, with timm's submodule names:
//  - BottleneckBlock: 1x1 -> kxk (stride, groups) -> [SE/ECA] -> 1x1 (no act) -> + shortcut -> act
//  - BasicBlock:      kxk (stride) -> kxk (no act) -> + shortcut -> act
//  - SelfAttnBlock:   1x1 -> [kxk] -> self-attention (halo / bottleneck / lambda, carries the stride)
//                     -> BatchNorm + act (post_attn) -> 1x1 (no act) -> + shortcut -> act
// Attention layers are chosen by name with timm's keyword arguments (ByoModelCfg.attn_layer /
// self_attn_layer + *_kwargs), so model configs read like the Python ones.
#include <attnzoo/modules/options/byobnet.h>
#include <attnzoo/modules/conv_norm_act.h>
#include <attnzoo/modules/drop_path.h>

#include <torch/nn/cloneable.h>
#include <torch/nn/modules/container/any.h>
#include <torch/nn/pimpl.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace attnzoo::modules {

/// Channel attention by timm name ("se", "eca") with its keyword arguments. Throws std::invalid_argument
/// for unknown names or arguments.
torch::nn::AnyModule make_channel_attn(const std::string& name, const nlohmann::json& kwargs, int64_t channels);
/// 2-D self-attention by timm name ("halo", "bottleneck", "lambda"); `stride` and `feat_size` come from
/// the block (feat_size may be empty for layers that do not need it).
torch::nn::AnyModule make_self_attn(const std::string& name, const nlohmann::json& kwargs, int64_t dim, int64_t stride,
                                    const std::vector<int64_t>& feat_size);

/// Shared residual plumbing: the shortcut (identity, 1x1 ConvNormAct, avg-pool + 1x1, or none), drop
/// path and the output activation.
class ByobBlockBase : public torch::nn::Module {
 public:
  explicit ByobBlockBase(const ByobBlockOptions& options) : options(options) {}
  virtual at::Tensor forward(const at::Tensor& x) = 0;
  /// timm init_weights: zero the last BN weight (when there is a shortcut) and reset attention layers.
  virtual void init_weights(bool zero_init_last) = 0;
  ByobBlockOptions options;

 protected:
  void make_shortcut();           // registers "shortcut" when it is a module
  at::Tensor finish(const at::Tensor& branch, const at::Tensor& input);
  bool has_shortcut_ = true;      // false: downsample "" with a shape change (no residual)
  torch::nn::AnyModule shortcut_;  // empty: identity
  DropPath drop_path_{nullptr};
};

class BottleneckBlockImpl : public ByobBlockBase {
 public:
  explicit BottleneckBlockImpl(const ByobBlockOptions& options);
  at::Tensor forward(const at::Tensor& x) override;
  void init_weights(bool zero_init_last) override;

  ConvNormAct conv1_1x1{nullptr}, conv2_kxk{nullptr}, conv2b_kxk{nullptr}, conv3_1x1{nullptr};
  torch::nn::AnyModule attn, attn_last;  // empty when absent
};
TORCH_MODULE(BottleneckBlock);

class BasicBlockImpl : public ByobBlockBase {
 public:
  explicit BasicBlockImpl(const ByobBlockOptions& options);
  at::Tensor forward(const at::Tensor& x) override;
  void init_weights(bool zero_init_last) override;

  ConvNormAct conv1_kxk{nullptr}, conv2_kxk{nullptr};
  torch::nn::AnyModule attn, attn_last;
};
TORCH_MODULE(BasicBlock);

class SelfAttnBlockImpl : public ByobBlockBase {
 public:
  explicit SelfAttnBlockImpl(const ByobBlockOptions& options);
  at::Tensor forward(const at::Tensor& x) override;
  void init_weights(bool zero_init_last) override;

  ConvNormAct conv1_1x1{nullptr}, conv2_kxk{nullptr}, conv3_1x1{nullptr};
  torch::nn::AnyModule self_attn;
  BatchNormAct2d post_attn{nullptr};
};
TORCH_MODULE(SelfAttnBlock);

/// Builds a block by timm type name ("bottle", "basic", "self_attn").
std::shared_ptr<ByobBlockBase> make_byob_block(const std::string& type, const ByobBlockOptions& options);

}  // namespace attnzoo::modules
