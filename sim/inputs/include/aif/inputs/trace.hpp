// Request traces read from files, validated. Every problem is one aif::sim::ScenarioError naming the file, the
// 1-based line (0 when the file cannot be opened) and the column or field (key_path; "" for whole-line problems
// such as malformed JSON or an empty file).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace aif::sim {

struct TraceRecord {
  double time_s;          // s after the first row of the file (the first record has 0)
  int32_t prompt_tokens;  // >= 1
  int32_t output_tokens;  // >= 1: a request generates at least one token
  // The prompt's content, where the trace gives it: block_ids[j] names tokens [j, j + 1) x block_tokens of the prompt
  // and, with the ids before it, everything up to there (equal ids: equal tokens, reusable KV cache). Empty if not.
  std::vector<int64_t> block_ids = {};
  int32_t block_tokens = 0;
};

// Mooncake's hash_ids name blocks of 512 prompt tokens (Qin et al., FAST 2025; the traces' README in
// kvcache-ai/Mooncake, FAST25-release/traces): ceil(input_length / 512) ids per request.
inline constexpr int32_t MOONCAKE_BLOCK_TOKENS = 512;

// Azure LLM inference trace 2023 (Patel et al., Splitwise, ISCA 2024), CSV with the header
// TIMESTAMP,ContextTokens,GeneratedTokens (the three columns in any order, each once; nothing else).
// TIMESTAMP is wall clock "YYYY-MM-DD HH:MM:SS[.f...]" with up to 7 fraction digits (100 ns); it is converted to
// integer 100 ns ticks (no floating-point date arithmetic) and the difference to the first row to seconds.
// Rows must be sorted by time; CRLF line ends and a final newline are accepted, blank lines in between are not.
std::vector<TraceRecord> read_azure_csv(const std::string& path);

// A plain CSV trace: a header naming arrival_s (seconds, >= 0, sorted), prompt_tokens and output_tokens, in any order;
// other columns are ignored (a measured run's latencies may sit beside them). time_s is arrival_s minus the first's.
std::vector<TraceRecord> read_csv_trace(const std::string& path);

// Mooncake trace (Qin et al., FAST 2025), JSONL: one object per line with timestamp (ms, a number >= 0),
// input_length and output_length (integers) and, optionally, hash_ids (a list of integers >= 0, at most
// ceil(input_length / 512) of them: TraceRecord::block_ids); other fields are ignored, a field given twice is an
// error. Lines must be sorted by timestamp.
std::vector<TraceRecord> read_mooncake_jsonl(const std::string& path);

// The /requests of an aifsim results file (simulator or `aifsim-engine serve`), every row including rejected and
// unfinished ones, sorted by arrival_s (stable): time_s is arrival_s minus the earliest arrival, prompt and output
// tokens as recorded (the requested output length, not what was generated). ResultsError (missing, foreign or
// damaged file) becomes a ScenarioError on line 0; a row with a non-finite arrival or fewer than one prompt or
// output token is an error naming the row (line = row index + 1) and the field.
std::vector<TraceRecord> read_results_requests(const std::string& path);

}  // namespace aif::sim
