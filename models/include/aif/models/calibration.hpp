// A measured calibration table (written by aifsim-kbench, docs/calibration-format.md) as plain data.
// sim/ reads the CSV and validates it; models/ only interprets it (CalibratedPerfModel in perf.hpp).
#pragma once
#include <map>
#include <string>
#include <vector>

namespace aif::models {

struct CalibrationRow {
  std::string op;     // qkv_proj, o_proj, gate_up_proj, down_proj, lm_head, rms_norm, swiglu, rope,
                      // kv_cache_write, add, embedding, sampling, attn_decode, attn_prefill, peak_gemm, stream_triad
  int tp = 1;
  int tokens = 0;     // rows (linear, elementwise), batch (decode), chunk (prefill)
  int batch = 0;      // attention: sequences in the call
  int kv_len = 0;     // attention: keys per sequence (prefix + chunk for prefill)
  int n = 0, k = 0;
  double median_s = 0, p10_s = 0, p90_s = 0;
  double flop = 0, bytes = 0;
  int line = 0;       // line in the CSV file, for messages
};

struct CalibrationTable {
  std::string source;                         // file it was read from
  std::map<std::string, std::string> header;  // "# key: value" provenance lines
  std::vector<CalibrationRow> rows;
  double peak_flop_per_s = 0;                 // measured, from the header
  double peak_bytes_per_s = 0;
};

}  // namespace aif::models
