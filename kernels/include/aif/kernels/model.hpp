// A Llama-family decoder (RMSNorm, fused QKV, RoPE, GQA attention over a paged KV cache, SwiGLU MLP, untied
// LM head) with seeded synthetic weights, run on any Backend.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "aif/kernels/backend.hpp"
#include "aif/models/hardware.hpp"

namespace aif::kernels {

struct ModelShape {
  std::string name;
  int layers = 0;
  int hidden = 0;
  int heads = 0;
  int kv_heads = 0;
  int head_dim = 0;
  int ffn = 0;
  int vocab = 0;
  int max_context = 0;
  float rope_theta = 10000.0f;  // Llama 2's base
  float norm_eps = 1e-5f;
  int qkv_width() const { return (heads + 2 * kv_heads) * head_dim; }
  // Throws std::invalid_argument naming the bad field.
  void check_consistent() const;
};
ModelShape shape_from_arch(const models::ModelArch& arch);

// fp32 weights on the host. Matrices are [out][in].
struct HostWeights {
  struct Layer {
    std::vector<float> attn_norm;  // [hidden]
    std::vector<float> wqkv;       // [(heads + 2 kv_heads) head_dim][hidden]: q rows, then k, then v
    std::vector<float> wo;         // [hidden][heads head_dim]
    std::vector<float> mlp_norm;   // [hidden]
    std::vector<float> w_gate_up;  // [2 ffn][hidden]: gate rows, then up rows
    std::vector<float> w_down;     // [hidden][ffn]
  };
  ModelShape shape;
  std::vector<float> embedding;  // [vocab][hidden]
  std::vector<Layer> layers;
  std::vector<float> final_norm;  // [hidden]
  std::vector<float> lm_head;     // [vocab][hidden]
};

// Deterministic weights from the counter-based RNG: same (shape, seed) => same bits on every machine and
// thread count. Linear weights are uniform with standard deviation 1/sqrt(fan_in) (output projections also
// divided by sqrt(2 layers) so the residual stream stays O(1)); the LM head is scaled so that logits have a
// standard deviation of about `logit_std` (3 by default: a peaked, not flat, next-token distribution).
HostWeights make_weights(const ModelShape& shape, uint64_t seed, double logit_std = 3.0);

// Per-layer K and V caches: [num_blocks * block_size][kv_heads][head_dim] fp32 each.
class KvCache {
 public:
  KvCache(Backend& backend, const ModelShape& shape, int num_blocks, int block_size);
  int num_blocks() const { return num_blocks_; }
  int block_size() const { return block_size_; }
  float* k(int layer) { return k_[static_cast<size_t>(layer)].data(); }
  float* v(int layer) { return v_[static_cast<size_t>(layer)].data(); }
  // Bytes one block takes over all layers (K and V).
  static size_t bytes_per_block(const ModelShape& shape, int block_size);

 private:
  int num_blocks_;
  int block_size_;
  std::vector<DeviceArray<float>> k_, v_;
};

// One sequence's part of a step: its q_len new tokens are the last ones of its first context_len tokens.
struct SeqChunk {
  int q_len = 0;
  int context_len = 0;               // tokens in the cache after this chunk
  std::vector<int32_t> block_table;  // physical blocks, logical order; covers context_len tokens
  bool sample = false;               // return logits for its last new token
};

struct ForwardInput {
  std::vector<int32_t> tokens;  // new tokens of every chunk, concatenated in chunk order
  std::vector<SeqChunk> seqs;
};

class Model {
 public:
  Model(Backend& backend, const HostWeights& weights);
  const ModelShape& shape() const { return shape_; }
  Backend& backend() { return backend_; }
  // Runs one step: writes the new tokens' K/V into the cache and returns the logits of the sampled
  // sequences, [number with sample=true][vocab], on the host, in chunk order.
  std::vector<float> forward(const ForwardInput& input, KvCache& cache);

 private:
  struct DeviceLayer {
    DeviceArray<float> attn_norm, mlp_norm;
    std::unique_ptr<Matrix> wqkv, wo, w_gate_up, w_down;
  };
  Backend& backend_;
  ModelShape shape_;
  DeviceArray<float> embedding_, final_norm_;
  std::vector<DeviceLayer> layers_;
  std::unique_ptr<Matrix> lm_head_;
  // Step workspace, grown on demand.
  DeviceArray<float> x_, h_, qkv_, attn_, proj_, gate_up_, act_, last_, logits_;
  DeviceArray<int32_t> tokens_, positions_, slots_, q_start_, context_lens_, block_tables_, sample_rows_;
};

}  // namespace aif::kernels
