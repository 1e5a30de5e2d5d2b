#pragma once
// The ImageNet-1k class names in timm's class order (index i = output i of a 1000-class ImageNet model).
#include <string>
#include <vector>

namespace attnzoo::eval {

/// 1000 names ("tench", "goldfish", ...), the first lemma of each synset, as timm's ImageNetInfo.
const std::vector<std::string>& imagenet_class_names();

}  // namespace attnzoo::eval
