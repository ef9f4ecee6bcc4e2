// Shared by the kernels front ends: the model catalog and Azure traces, read without aif::sim.
#pragma once
#include <string>
#include <vector>

#include "aif/kernels/model.hpp"
#include "aif/kernels/replay.hpp"

namespace aif::kernels::app {

std::string default_models_path();  // <source>/data/models.yaml
// One model of data/models.yaml (fields layers, hidden, heads, kv_heads, head_dim, ffn, vocab, max_context).
// Throws std::runtime_error naming the file and the model (and the valid names) on error.
ModelShape load_model(const std::string& path, const std::string& name);
// Azure LLM inference trace CSV (TIMESTAMP,ContextTokens,GeneratedTokens), first max_rows rows (0: all);
// arrivals relative to the first row. Errors name file:line.
// Azure 2023 CSV or Mooncake JSONL (by extension), at most max_rows rows (0: all). Throws aif::sim::ScenarioError.
std::vector<TraceRequest> read_trace(const std::string& path, size_t max_rows);
std::string now_iso8601();

}  // namespace aif::kernels::app
