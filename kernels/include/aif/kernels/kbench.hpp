// The operator points that aifsim-kbench times, each as a closure that makes one call exactly as
// Model::forward does (same backend function, same argument shapes, strides and block size), so that a perf
// model summing table rows predicts the engine's step. Timing, peaks and the CSV stay in the kbench app.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "aif/kernels/backend.hpp"
#include "aif/kernels/model.hpp"

namespace aif::kernels {

struct BenchGrid {
  std::vector<int> tokens;            // rows of linear and elementwise ops (and sampled rows of `sampling`)
  std::vector<int> decode_batches;    // attn_decode: sequences, one query row each
  std::vector<int> decode_kv_lens;    // attn_decode: keys per sequence (new token included)
  std::vector<int> prefill_chunks;    // attn_prefill: query rows of the one sequence
  std::vector<int> prefill_prefixes;  // attn_prefill: keys already cached before the chunk
};
// "tiny" (tests: a few points), "small" (CI) or "full"; throws std::invalid_argument for another name.
BenchGrid bench_grid(const std::string& name);

struct BenchPoint {
  std::string op;  // docs/calibration-format.md lists the ops and what one call covers
  int tp = 1;
  int tokens = 0, batch = 0, kv_len = 0, n = 0, k = 0;
  double flop = 0;   // a multiply-add counts 2
  double bytes = 0;  // minimum traffic: inputs read once, outputs written once
};

// The operators the engine calls, in the table's names (every one has rows for every grid point).
const std::vector<std::string>& engine_ops();

// Calls visit(point, run) for every point of `grid` for the shard shapes of `shape` at tensor-parallel degree
// tp (heads, kv_heads, ffn and vocab divided by tp); run() performs one call of the operator. Buffers are
// allocated on `backend` and live while visit runs. Throws std::invalid_argument when tp does not divide the
// shape. block_size: tokens per KV block of the paged cache, as the engine's.
void for_each_bench_point(Backend& backend, const ModelShape& shape, int tp, const BenchGrid& grid, int block_size,
                          const std::function<void(const BenchPoint&, const std::function<void()>&)>& visit);

}  // namespace aif::kernels
