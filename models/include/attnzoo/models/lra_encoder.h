#pragma once
// `lra_encoder`: the Long Range Arena sequence classifier (google-research/long-range-arena
// models/transformer): token embedding + learned or sinusoidal positions, N pre-norm blocks whose
// attention is any of attnzoo's sequence modules (modules/sequence.h), mean or CLS pooling, and LRA's
// head (Dense(mlp_dim) -> ReLU -> Dense(classes)). Keys: embed, pos_embed, cls_token, layers.{i}.{norm1,
// attn, norm2, mlp.fc1, mlp.fc2}, norm, head.fc1, head.fc2.
#include <nlohmann/json.hpp>
#include <torch/arg.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>
#include <torch/nn/pimpl.h>

#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace attnzoo::models {

/// How the encoder summarises the sequence for the head.
enum class LRAPool {
  Mean,  // mean over the valid tokens
  Cls,   // a learned class token prepended to the sequence
};
inline const std::vector<std::pair<std::string, LRAPool>> kLRAPoolNames = {{"mean", LRAPool::Mean}, {"cls", LRAPool::Cls}};

/// The position embedding added to the token embeddings.
enum class LRAPos { Learned, Sinusoidal };
inline const std::vector<std::pair<std::string, LRAPos>> kLRAPosNames = {{"learned", LRAPos::Learned},
                                                                         {"sinusoidal", LRAPos::Sinusoidal}};

struct LRAEncoderOptions {
  TORCH_ARG(int64_t, vocab_size) = 256;
  TORCH_ARG(int64_t, max_len) = 1024;
  TORCH_ARG(int64_t, num_classes) = 10;
  TORCH_ARG(int64_t, embed_dim) = 64;
  TORCH_ARG(int64_t, num_layers) = 2;
  TORCH_ARG(int64_t, num_heads) = 2;
  TORCH_ARG(int64_t, mlp_dim) = 128;
  TORCH_ARG(LRAPool, pool) = LRAPool::Mean;
  TORCH_ARG(LRAPos, pos) = LRAPos::Learned;
  TORCH_ARG(double, dropout) = 0.1;
  /// A name of modules/sequence_registry.h ("softmax", "neighborhood", "block_local", "agent", "lka", "hilo",
  /// "gpsa", "bra", "davit"; `attnzoo list --attentions`).
  TORCH_ARG(std::string, attention) = "softmax";
  TORCH_ARG(int64_t, kernel_size) = 31;  // neighborhood
  TORCH_ARG(int64_t, dilation) = 1;      // neighborhood
  TORCH_ARG(int64_t, block) = 64;        // block_local
  TORCH_ARG(int64_t, halo) = 32;         // block_local
  TORCH_ARG(int64_t, agent_num) = 64;    // agent
  TORCH_ARG(int64_t, window) = 16;       // hilo
  TORCH_ARG(double, alpha) = 0.5;        // hilo
  TORCH_ARG(int64_t, topk) = 4;          // bra (regions of `block` tokens)
  /// Retrieval: a dual encoder; the head reads [e1, e2] (Dense(mlp) -> ReLU -> Dense(mlp/2) -> ReLU -> Dense).
  TORCH_ARG(bool, dual) = false;
};

template <class V>
void visit_args(LRAEncoderOptions& o, V& v) {
  v.arg("vocab_size", o.vocab_size());
  v.arg("max_len", o.max_len());
  v.arg("num_classes", o.num_classes());
  v.arg("embed_dim", o.embed_dim());
  v.arg("num_layers", o.num_layers());
  v.arg("num_heads", o.num_heads());
  v.arg("mlp_dim", o.mlp_dim());
  v.choice("pool", o.pool(), kLRAPoolNames);
  v.choice("pos", o.pos(), kLRAPosNames);
  v.arg("dropout", o.dropout());
  v.arg("attention", o.attention());
  v.arg("kernel_size", o.kernel_size());
  v.arg("dilation", o.dilation());
  v.arg("block", o.block());
  v.arg("halo", o.halo());
  v.arg("agent_num", o.agent_num());
  v.arg("window", o.window());
  v.arg("alpha", o.alpha());
  v.arg("topk", o.topk());
  v.arg("dual", o.dual());
}

/// Parses arguments (the option names above); unknown ones are an error naming them.
LRAEncoderOptions lra_encoder_options_from_args(const nlohmann::json& args);
/// The LRA task configurations (repository configs, reduced where noted): "lra_listops", "lra_text",
/// "lra_image", "lra_tiny" (a 2-layer 64-dim model for this machine). Throws for unknown names.
nlohmann::json lra_variant_args(const std::string& name);
std::vector<std::string> lra_variant_names();

class LRAEncoderImpl : public torch::nn::Module {
 public:
  explicit LRAEncoderImpl(const LRAEncoderOptions& options);
  /// tokens [B, L] (int64), mask [B, L] bool (true = padding) or undefined -> logits [B, num_classes].
  at::Tensor forward(const at::Tensor& tokens, const at::Tensor& mask = {});
  /// Dual encoder (dual = true): both documents through the shared encoder, the head on [e1, e2].
  at::Tensor forward_pair(const at::Tensor& tokens1, const at::Tensor& mask1, const at::Tensor& tokens2,
                          const at::Tensor& mask2);
  /// The pooled encoding [B, embed_dim].
  at::Tensor encode(const at::Tensor& tokens, const at::Tensor& mask);

  LRAEncoderOptions options;
  torch::nn::Embedding embed{nullptr};
  at::Tensor pos_embed, cls_token;
  torch::nn::LayerNorm norm{nullptr};
  torch::nn::Linear fc1{nullptr}, fc2{nullptr}, fc3{nullptr};

 private:
  struct Block {
    torch::nn::LayerNorm norm1{nullptr}, norm2{nullptr};
    torch::nn::Linear mlp_fc1{nullptr}, mlp_fc2{nullptr};
    std::function<at::Tensor(const at::Tensor&, const at::Tensor&)> attn;
  };
  std::vector<Block> blocks_;
  at::Tensor sinusoid_;
};
TORCH_MODULE(LRAEncoder);

}  // namespace attnzoo::models
