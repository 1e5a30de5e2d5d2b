// Uses one attention module and one registered model from an installed attnzoo.
#include <attnzoo/attnzoo.h>

#include <torch/torch.h>

#include <iostream>

int main() {
  torch::NoGradGuard no_grad;
  // A module, LibTorch-style: options + holder.
  attnzoo::modules::LKA lka(attnzoo::modules::LKAOptions(16));
  auto y = lka(torch::randn({2, 16, 14, 14}));
  std::cout << "LKA out " << y.sizes() << "\n";
  attnzoo::modules::HaloAttention halo(attnzoo::modules::HaloAttentionOptions(16).num_heads(2).block_size(4).halo_size(1));
  std::cout << "HaloAttention out " << halo(torch::randn({2, 16, 8, 8})).sizes() << "\n";

  // A model from the registry, with official constructor arguments overridden.
  auto model = attnzoo::models::create_model("van_b0", {{"num_classes", 10}});
  model->eval();
  auto logits = model->forward(torch::randn({2, 3, 64, 64}));
  std::cout << "logits " << logits.sizes() << "\n";
  return 0;
}
