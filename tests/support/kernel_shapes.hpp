// The small model shape the kernel and engine tests share: 2 layers, hidden 64, 4 query heads over
// 2 KV heads of 16 dimensions. Tests vary only the name, FFN width, vocabulary and context.
#pragma once
#include <string>

#include "aif/kernels/model.hpp"

namespace aif::testing {

inline aif::kernels::ModelShape test_model_shape(const std::string& name, int ffn, int vocab, int max_context) {
  aif::kernels::ModelShape s;
  s.name = name;
  s.layers = 2;
  s.hidden = 64;
  s.heads = 4;
  s.kv_heads = 2;
  s.head_dim = 16;
  s.ffn = ffn;
  s.vocab = vocab;
  s.max_context = max_context;
  return s;
}

}  // namespace aif::testing
