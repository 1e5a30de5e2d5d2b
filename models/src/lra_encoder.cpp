#include <attnzoo/models/lra_encoder.h>

#include <attnzoo/core/arg_table.h>
#include <attnzoo/modules/init.h>
#include <attnzoo/modules/sequence_registry.h>

#include <torch/torch.h>

#include <cmath>

namespace attnzoo::models {

namespace nn = torch::nn;
namespace F = torch::nn::functional;
using json = nlohmann::json;
using namespace attnzoo::modules;

LRAEncoderOptions lra_encoder_options_from_args(const json& args) {
  return options_from_args<LRAEncoderOptions>(args, "lra_encoder");
}

std::vector<std::string> lra_variant_names() {
  return {"lra_image", "lra_listops", "lra_pathfinder", "lra_retrieval", "lra_text", "lra_tiny"};
}

json lra_variant_args(const std::string& name) {
  // long-range-arena */configs/base_*_config.py (the LRA repository's per-task base configs).
  if (name == "lra_listops")
    return {{"embed_dim", 512}, {"num_layers", 4}, {"num_heads", 8}, {"mlp_dim", 1024}, {"pool", "cls"}, {"max_len", 2000}, {"dropout", 0.1}};
  if (name == "lra_text")
    return {{"embed_dim", 256}, {"num_layers", 4}, {"num_heads", 4}, {"mlp_dim", 1024}, {"pool", "cls"}, {"max_len", 1000}, {"dropout", 0.1}};
  if (name == "lra_retrieval")
    return {{"embed_dim", 128}, {"num_layers", 4}, {"num_heads", 4}, {"mlp_dim", 512}, {"pool", "cls"}, {"max_len", 4000}, {"dropout", 0.1}, {"dual", true}};
  if (name == "lra_pathfinder")
    return {{"embed_dim", 32}, {"num_layers", 4}, {"num_heads", 4}, {"mlp_dim", 32}, {"pool", "mean"}, {"pos", "sinusoidal"}, {"max_len", 1024}, {"dropout", 0.2}};
  if (name == "lra_image")
    return {{"embed_dim", 128}, {"num_layers", 1}, {"num_heads", 8}, {"mlp_dim", 128}, {"pool", "cls"}, {"max_len", 1024}, {"dropout", 0.3}};
  if (name == "lra_tiny")  // what trains in minutes on 2 cores (Nystromformer-style small config)
    return {{"embed_dim", 64}, {"num_layers", 2}, {"num_heads", 2}, {"mlp_dim", 128}, {"pool", "mean"}, {"dropout", 0.1}};
  std::string known;
  for (const auto& n : lra_variant_names()) known += (known.empty() ? "" : ", ") + n;
  throw std::invalid_argument("unknown LRA model '" + name + "' (known: " + known + ")");
}

namespace {

const SequenceAttentionEntry& lra_attention(const std::string& name) {
  try {
    return find_sequence_attention(name);
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(std::string("lra_encoder: ") + e.what());
  }
}

}  // namespace

LRAEncoderImpl::LRAEncoderImpl(const LRAEncoderOptions& o) : options(o) {
  const int64_t C = o.embed_dim();
  embed = register_module("embed", nn::Embedding(o.vocab_size(), C));
  const int64_t P = o.max_len() + (o.pool() == LRAPool::Cls ? 1 : 0);
  if (o.pos() == LRAPos::Learned) {
    pos_embed = register_parameter("pos_embed", torch::zeros({1, P, C}));
    trunc_normal_(pos_embed, 0.02);
  } else {
    const auto pos = torch::arange(P, torch::kFloat).unsqueeze(1);
    const auto div = torch::exp(torch::arange(0, C, 2, torch::kFloat) * (-std::log(10000.0) / static_cast<double>(C)));
    sinusoid_ = torch::zeros({1, P, C});
    sinusoid_.index_put_({0, torch::indexing::Slice(), torch::indexing::Slice(0, torch::indexing::None, 2)}, torch::sin(pos * div));
    sinusoid_.index_put_({0, torch::indexing::Slice(), torch::indexing::Slice(1, torch::indexing::None, 2)},
                         torch::cos(pos * div).slice(1, 0, C / 2));
  }
  if (o.pool() == LRAPool::Cls) cls_token = register_parameter("cls_token", torch::zeros({1, 1, C}));
  const SequenceAttentionEntry& attention = lra_attention(o.attention());
  auto layers = register_module("layers", nn::ModuleList());
  for (int64_t i = 0; i < o.num_layers(); ++i) {
    auto m = std::make_shared<nn::Module>("Block");
    Block b;
    b.norm1 = m->register_module("norm1", nn::LayerNorm(nn::LayerNormOptions({C})));
    SequenceAttentionSpec spec;
    spec.dim = C;
    spec.num_heads = o.num_heads();
    spec.block = o.block();
    spec.halo = o.halo();
    spec.agent_num = o.agent_num();
    spec.window = o.window();
    spec.alpha = o.alpha();
    spec.topk = o.topk();
    spec.kernel_size = o.kernel_size();
    spec.dilation = o.dilation();
    spec.layer = i;
    spec.num_layers = o.num_layers();
    spec.max_len = o.max_len() + 1;
    SequenceAttention attn = attention.build(spec);
    m->register_module("attn", attn.module);
    b.attn = std::move(attn.forward);
    b.norm2 = m->register_module("norm2", nn::LayerNorm(nn::LayerNormOptions({C})));
    auto mlp = std::make_shared<nn::Module>("Mlp");
    b.mlp_fc1 = mlp->register_module("fc1", nn::Linear(C, o.mlp_dim()));
    b.mlp_fc2 = mlp->register_module("fc2", nn::Linear(o.mlp_dim(), C));
    m->register_module("mlp", mlp);
    layers->push_back(m);
    blocks_.push_back(b);
  }
  norm = register_module("norm", nn::LayerNorm(nn::LayerNormOptions({C})));
  auto head = std::make_shared<nn::Module>("Head");
  if (o.dual()) {  // LRA matching head on [e1, e2]
    fc1 = head->register_module("fc1", nn::Linear(2 * C, o.mlp_dim()));
    fc2 = head->register_module("fc2", nn::Linear(o.mlp_dim(), o.mlp_dim() / 2));
    fc3 = head->register_module("fc3", nn::Linear(o.mlp_dim() / 2, o.num_classes()));
  } else {
    fc1 = head->register_module("fc1", nn::Linear(C, o.mlp_dim()));
    fc2 = head->register_module("fc2", nn::Linear(o.mlp_dim(), o.num_classes()));
  }
  register_module("head", head);
  init_vit_weights(*this);
  torch::NoGradGuard ng;
  embed->weight.normal_(0.0, 1.0);  // LRA: token embedding init normal(1.0)
  if (cls_token.defined()) trunc_normal_(cls_token, 0.02);
}

at::Tensor LRAEncoderImpl::forward(const at::Tensor& tokens, const at::Tensor& mask) {
  TORCH_CHECK(!options.dual(), "lra_encoder: a dual encoder takes two documents (forward_pair)");
  return fc2(torch::relu(fc1(encode(tokens, mask))));
}

at::Tensor LRAEncoderImpl::forward_pair(const at::Tensor& t1, const at::Tensor& m1, const at::Tensor& t2,
                                        const at::Tensor& m2) {
  TORCH_CHECK(options.dual(), "lra_encoder: forward_pair needs dual = true");
  const at::Tensor e = torch::cat({encode(t1, m1), encode(t2, m2)}, -1);
  return fc3(torch::relu(fc2(torch::relu(fc1(e)))));
}

at::Tensor LRAEncoderImpl::encode(const at::Tensor& tokens, const at::Tensor& mask_in) {
  const auto& o = options;
  TORCH_CHECK(tokens.dim() == 2, "lra_encoder: expected tokens [B, L], got ", tokens.sizes());
  TORCH_CHECK(tokens.size(1) <= o.max_len(), "lra_encoder: sequence of ", tokens.size(1), " tokens exceeds max_len ",
              o.max_len());
  const int64_t B = tokens.size(0);
  at::Tensor mask = mask_in;
  at::Tensor x = embed(tokens);
  if (cls_token.defined()) {
    x = torch::cat({cls_token.expand({B, -1, -1}), x}, 1);
    if (mask.defined()) mask = torch::cat({torch::zeros({B, 1}, mask.options()), mask}, 1);
  }
  const int64_t L = x.size(1);
  x = x + (pos_embed.defined() ? pos_embed.slice(1, 0, L) : sinusoid_.slice(1, 0, L).to(x.device()));
  const double p = o.dropout();
  auto drop = [&](const at::Tensor& t) { return p > 0 ? F::dropout(t, F::DropoutFuncOptions().p(p).training(is_training())) : t; };
  x = drop(x);
  for (auto& b : blocks_) {
    x = x + drop(b.attn(b.norm1(x), mask));
    x = x + drop(b.mlp_fc2(drop(torch::gelu(b.mlp_fc1(b.norm2(x))))));
  }
  x = norm(x);
  at::Tensor pooled;
  if (o.pool() == LRAPool::Cls) {
    pooled = x.select(1, 0);
  } else if (mask.defined()) {
    const at::Tensor valid = mask.logical_not().unsqueeze(-1).to(x.dtype());
    pooled = (x * valid).sum(1) / valid.sum(1).clamp_min(1.0);
  } else {
    pooled = x.mean(1);
  }
  return pooled;
}

}  // namespace attnzoo::models
