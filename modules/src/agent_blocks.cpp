// The blocks of Agent-DeiT, Agent-PVT and Agent-Swin (one per official block class); the attentions are in
// agent.cpp.
#include <attnzoo/modules/agent.h>
#include <attnzoo/modules/attention_capture.h>

#include <attnzoo/modules/attention.h>
#include <attnzoo/modules/drop_path.h>

#include <torch/torch.h>

#include <algorithm>

namespace attnzoo::modules {

namespace nn = torch::nn;

namespace {

Mlp block_mlp(int64_t dim, double mlp_ratio, double drop) {
  return Mlp(MlpOptions(dim).hidden_features(static_cast<int64_t>(dim * mlp_ratio)).drop(drop));
}

nn::LayerNorm layer_norm(int64_t dim, double eps) { return nn::LayerNorm(nn::LayerNormOptions({dim}).eps(eps)); }

// The pre-norm residual pair every block here is: x + DropPath(attn(norm1(x))), then + DropPath(mlp(norm2(.))).
template <class Attend>
at::Tensor pre_norm_block(const at::Tensor& x, nn::LayerNorm& norm1, Attend attend, nn::LayerNorm& norm2, Mlp& mlp,
                          double drop_path_rate, bool training) {
  const at::Tensor y = x + drop_path(attend(norm1(x)), drop_path_rate, training);
  return y + drop_path(mlp(norm2(y)), drop_path_rate, training);
}

const char* attn_type_letter(AgentAttnType t) { return t == AgentAttnType::Agent ? "A" : "B"; }

}  // namespace

// ---------------------------------------------------------------------------------------------------
// agent_deit.py AgentBlock / DeiT Block

AgentDeiTBlockImpl::AgentDeiTBlockImpl(const AgentDeiTBlockOptions& options_) : options(options_) { reset(); }

void AgentDeiTBlockImpl::reset() {
  const auto& o = options;
  norm1 = register_module("norm1", layer_norm(o.dim(), o.norm_eps()));
  if (o.attn_type() == AgentAttnType::Agent)
    attn = register_module("attn", AgentDeiTAttention(AgentDeiTAttentionOptions(o.dim(), o.num_heads())
                                                          .qkv_bias(o.qkv_bias())
                                                          .attn_drop(o.attn_drop())
                                                          .proj_drop(o.drop())
                                                          .agent_num(o.agent_num())
                                                          .window(o.window()))
                                           .ptr());
  else
    attn = register_module("attn", MultiHeadSelfAttention(MultiHeadSelfAttentionOptions(o.dim(), o.num_heads())
                                                              .qkv_bias(o.qkv_bias())
                                                              .attn_drop(o.attn_drop())
                                                              .proj_drop(o.drop()))
                                       .ptr());
  norm2 = register_module("norm2", layer_norm(o.dim(), o.norm_eps()));
  mlp = register_module("mlp", block_mlp(o.dim(), o.mlp_ratio(), o.drop()));
}

void AgentDeiTBlockImpl::pretty_print(std::ostream& os) const {
  os << "attnzoo::AgentDeiTBlock(dim=" << options.dim() << ", num_heads=" << options.num_heads()
     << ", attn_type=" << attn_type_letter(options.attn_type()) << ")";
}

at::Tensor AgentDeiTBlockImpl::forward(const at::Tensor& x) {
  auto attend = [this](const at::Tensor& t) {
    if (options.attn_type() == AgentAttnType::Agent) return attn->as<AgentDeiTAttentionImpl>()->forward(t);
    const at::Tensor y = attn->as<MultiHeadSelfAttentionImpl>()->forward(t);
    if (AttentionRecord* r = latest_attention_record(attn.get())) set_square_grid_geometry(*r, t.size(1));  // class token + map
    return y;
  };
  return pre_norm_block(x, norm1, attend, norm2, mlp, options.drop_path(), is_training());
}

// ---------------------------------------------------------------------------------------------------
// agent_pvt.py Block

AgentPVTBlockImpl::AgentPVTBlockImpl(const AgentPVTBlockOptions& options_) : options(options_) { reset(); }

void AgentPVTBlockImpl::reset() {
  const auto& o = options;
  norm1 = register_module("norm1", layer_norm(o.dim(), o.norm_eps()));
  if (o.attn_type() == AgentAttnType::Agent)
    attn = register_module("attn", AgentPVTAttention(AgentPVTAttentionOptions(o.dim(), o.num_patches(), o.num_heads())
                                                         .qkv_bias(o.qkv_bias())
                                                         .attn_drop(o.attn_drop())
                                                         .proj_drop(o.drop())
                                                         .sr_ratio(o.agent_sr_ratio())
                                                         .agent_num(o.agent_num()))
                                       .ptr());
  else
    attn = register_module(
        "attn", SRAttention(SRAttentionOptions(o.dim(), o.num_heads()).qkv_bias(o.qkv_bias()).sr_ratio(o.sr_ratio())).ptr());
  norm2 = register_module("norm2", layer_norm(o.dim(), o.norm_eps()));
  mlp = register_module("mlp", block_mlp(o.dim(), o.mlp_ratio(), o.drop()));
}

void AgentPVTBlockImpl::pretty_print(std::ostream& os) const {
  os << "attnzoo::AgentPVTBlock(dim=" << options.dim() << ", num_heads=" << options.num_heads()
     << ", attn_type=" << attn_type_letter(options.attn_type()) << ")";
}

at::Tensor AgentPVTBlockImpl::forward(const at::Tensor& x, int64_t H, int64_t W) {
  auto attend = [this, H, W](const at::Tensor& t) {
    return options.attn_type() == AgentAttnType::Agent ? attn->as<AgentPVTAttentionImpl>()->forward(t, H, W)
                                                       : attn->as<SRAttentionImpl>()->forward(t, H, W);
  };
  return pre_norm_block(x, norm1, attend, norm2, mlp, options.drop_path(), is_training());
}

// ---------------------------------------------------------------------------------------------------
// agent_swin.py SwinTransformerBlock

AgentSwinBlockImpl::AgentSwinBlockImpl(const AgentSwinBlockOptions& options_) : options(options_) { reset(); }

at::Tensor AgentSwinBlockImpl::partition(const at::Tensor& x) const {
  const int64_t B = x.size(0), C = x.size(3), ws = window;
  return x.view({B, x.size(1) / ws, ws, x.size(2) / ws, ws, C}).permute({0, 1, 3, 2, 4, 5}).reshape({-1, ws, ws, C});
}

void AgentSwinBlockImpl::reset() {
  const auto& o = options;
  TORCH_CHECK(o.input_resolution().size() == 2, "AgentSwinBlock: input_resolution must be [H, W]");
  const int64_t H = o.input_resolution()[0], W = o.input_resolution()[1], dim = o.dim();
  window = o.window_size();
  shift = o.shift_size();
  if (std::min(H, W) <= window) {  // the window covers the map: no shift
    shift = 0;
    window = std::min(H, W);
  }
  TORCH_CHECK(shift >= 0 && shift < window, "AgentSwinBlock: shift_size must be in [0, window)");
  TORCH_CHECK(H % window == 0 && W % window == 0, "AgentSwinBlock: the ", H, "x", W, " map is not a multiple of the window ",
              window, " (pick img_size / window_size so that every stage divides)");
  norm1 = register_module("norm1", nn::LayerNorm(nn::LayerNormOptions({dim})));
  if (o.attn_type() == AgentAttnType::Agent)
    attn = register_module("attn", AgentSwinAttention(AgentSwinAttentionOptions(dim, window, o.num_heads())
                                                          .qkv_bias(o.qkv_bias())
                                                          .attn_drop(o.attn_drop())
                                                          .proj_drop(o.drop())
                                                          .agent_num(o.agent_num()))
                                       .ptr());
  else
    attn = register_module(
        "attn", SwinWindowAttention(SwinWindowAttentionOptions(dim, window, o.num_heads()).qkv_bias(o.qkv_bias())).ptr());
  norm2 = register_module("norm2", nn::LayerNorm(nn::LayerNormOptions({dim})));
  mlp = register_module("mlp", block_mlp(dim, o.mlp_ratio(), o.drop()));
  if (shift > 0) {
    // Regions of the rolled map: attention across region borders gets -100.
    at::Tensor img = torch::zeros({H, W}, torch::kLong);
    const int64_t hs[4] = {0, H - window, H - shift, H}, wsl[4] = {0, W - window, W - shift, W};
    int64_t cnt = 0;
    for (int a = 0; a < 3; ++a)
      for (int b = 0; b < 3; ++b) img.slice(0, hs[a], hs[a + 1]).slice(1, wsl[b], wsl[b + 1]).fill_(cnt++);
    const at::Tensor win = partition(img.view({1, H, W, 1}).to(torch::kFloat)).view({-1, window * window});
    at::Tensor mask = win.unsqueeze(1) - win.unsqueeze(2);
    mask = mask.masked_fill(mask != 0, -100.0).masked_fill(mask == 0, 0.0);
    attn_mask = register_buffer("attn_mask", mask);
  }
}

void AgentSwinBlockImpl::pretty_print(std::ostream& os) const {
  os << "attnzoo::AgentSwinBlock(dim=" << options.dim() << ", num_heads=" << options.num_heads() << ", window=" << window
     << ", shift=" << shift << ", attn_type=" << attn_type_letter(options.attn_type()) << ")";
}

at::Tensor AgentSwinBlockImpl::forward(const at::Tensor& x) {
  const int64_t H = options.input_resolution()[0], W = options.input_resolution()[1], ws = window;
  const int64_t B = x.size(0), L = x.size(1), C = x.size(2);
  TORCH_CHECK(L == H * W, "AgentSwinBlock: input feature has wrong size (", L, " tokens for ", H, "x", W, ")");
  auto attend = [&](const at::Tensor& normed) {
    at::Tensor y = normed.view({B, H, W, C});
    if (shift > 0) y = torch::roll(y, {-shift, -shift}, {1, 2});
    at::Tensor win = partition(y).view({-1, ws * ws, C});
    win = options.attn_type() == AgentAttnType::Agent ? attn->as<AgentSwinAttentionImpl>()->forward(win)
                                                      : attn->as<SwinWindowAttentionImpl>()->forward(win, attn_mask);
    if (AttentionRecord* r = latest_attention_record(attn.get())) set_window_geometry(*r, H, W, {ws, ws}, {shift, shift});
    y = win.view({B, H / ws, W / ws, ws, ws, C}).permute({0, 1, 3, 2, 4, 5}).reshape({B, H, W, C});
    if (shift > 0) y = torch::roll(y, {shift, shift}, {1, 2});
    return y.view({B, L, C});
  };
  return pre_norm_block(x, norm1, attend, norm2, mlp, options.drop_path(), is_training());
}

}  // namespace attnzoo::modules
