// The results file (HDF5): the one place that knows its layout. The simulator and the real
// reference engine write through ResultsWriter; the CLI, reports and the GUI read through
// ResultsReader. The layout is documented in docs/results-format.md; keep the two in step.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace aif::analysis {

// Written as /meta attributes "format" and "format_version"; the reader refuses other files.
// Layout 2 adds the checksum block: HDF5's 512-byte user block at the start of the file holds
// "aifsim-results fnv1a64 <16 hex digits>\n", the FNV-1a hash of every byte after the block, stamped once the file is
// closed. The reader checks it before HDF5 parses anything, so a file changed or cut short after aifsim wrote it is
// refused as damaged instead of reaching libhdf5's decoders (which can crash on damaged files).
inline constexpr const char* RESULTS_FORMAT_NAME = "aifsim-results";
inline constexpr int RESULTS_FORMAT_VERSION = 2;
inline constexpr size_t RESULTS_CHECKSUM_BLOCK = 512;

// Computes and writes the checksum block of a closed results file (the writer does this in finish(); a tool that
// edits a results file on purpose calls it afterwards). ResultsError when the file cannot be read or written.
void stamp_results_checksum(const std::string& path);

// A missing, foreign, damaged or unwritable results file. The message starts with the file name.
class ResultsError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Stored as an HDF5 enum over int8 in /requests/outcome.
enum class Outcome : int8_t {
  FINISHED = 0,    // produced all its output tokens
  UNFINISHED = 1,  // still queued or running when the run ended (no drain)
  REJECTED = 2,    // could never fit (e.g. prompt larger than the KV capacity)
  DROPPED = 3,     // admitted then given up: timeout, failure without retry, admission policy
};
const char* outcome_name(Outcome outcome);  // "FINISHED", ...

inline constexpr double NOT_HAPPENED = std::numeric_limits<double>::quiet_NaN();

// One row of /requests. Times are seconds since the start of the run; NaN when it did not happen.
struct RequestRecord {
  int64_t id = 0;
  int32_t workload = -1;  // index into the scenario's workloads
  int32_t service = -1;   // index into the scenario's services
  int32_t replica = -1;   // global replica index; -1 when never placed
  double arrival_s = NOT_HAPPENED;
  double first_token_s = NOT_HAPPENED;
  double finish_s = NOT_HAPPENED;
  int32_t prompt_tokens = 0;
  int32_t output_tokens = 0;     // requested output length
  int32_t generated_tokens = 0;  // produced before the end (== output_tokens when FINISHED)
  int32_t preemptions = 0;
  Outcome outcome = Outcome::FINISHED;
  int32_t cached_tokens = 0;  // prompt tokens the prefix cache spared at its first admission (not computed)
};

// One row of /events: the audit log (failures, repairs, scaling, power caps, ... with the reason).
struct EventRecord {
  double time_s = 0.0;
  std::string kind;    // e.g. "failure", "repair", "scale_up", "power_cap"
  std::string target;  // what it applies to, e.g. "rack/3/server/7/gpu/2", "service/chat"
  std::string detail;  // free text: the reason and the numbers behind the decision
};

// One row of /iterations: one engine step of one replica (real engine, or --iteration-level).
struct IterationRecord {
  int32_t replica = -1;
  double start_s = 0.0;
  double duration_s = 0.0;
  int32_t num_seqs = 0;        // sequences in the batch
  int32_t prefill_tokens = 0;  // prompt tokens computed in this step
  int32_t decode_tokens = 0;   // tokens generated in this step
  int64_t context_tokens = 0;  // sum over the batch of tokens already in the KV cache
  // Enough of the step's composition for a perf model to predict it (models::BatchShape):
  int32_t prefill_seqs = 0;            // sequences with prompt (or recompute) tokens in this step
  int32_t sampled_seqs = 0;            // sequences that produced a token (LM head rows)
  double attended_pairs = 0;           // (query, key) pairs over the batch, causal
  double prefill_attended_pairs = 0;   // of which from prefill chunks
  double forward_s = NOT_HAPPENED;     // real engine: of duration_s, the model's forward pass alone (NaN simulated)
  double gpu_energy_j = NOT_HAPPENED;  // simulated: energy of the replica's GPUs over the step (NaN: not known)
  // Simulated: FLOPs and HBM bytes of the step on each of the replica's GPUs (the GPU power model's inputs; NaN: none
  // counted, e.g. a constant step time).
  double gpu_flops = NOT_HAPPENED;
  double gpu_bytes = NOT_HAPPENED;
  double clock_fraction = NOT_HAPPENED;  // simulated: the GPUs' clock the step ran at (a lock or a power limit)
};

// One row of /jobs/steps: one optimizer step of a training or fine-tuning job. start_s + compute_s + exposed_comm_s
// + checkpoint_s == end_s; comm_s - exposed_comm_s is the communication hidden behind compute.
struct JobStepRecord {
  int32_t job = -1;           // index into the scenario's jobs (names in /jobs@names)
  int64_t step = 0;           // 0-based, in the job
  double start_s = 0.0;
  double end_s = 0.0;         // after the checkpoint written at the end of this step, if any
  double compute_s = 0.0;     // compute on the critical path: every pipeline slot's forward + backward, optimizer
  double comm_s = 0.0;        // communication: TP all-reduces and PP sends on the critical path + the DP all-reduce
  double exposed_comm_s = 0.0;  // of which not hidden behind compute
  double checkpoint_s = 0.0;  // writing the checkpoint to storage; 0 when this step wrote none
};

// One of the busiest link halves of a run (/links/busiest and a column of /links/busiest_util).
struct LinkUsageRecord {
  std::string name;          // the SimGrid link: "<low end>-<high end>_UP" or "_DOWN"
  std::string tier;          // "uplink", "core", "global", ...
  double bandwidth = 0.0;    // bytes/s
  double bytes = 0.0;        // carried over the run
  double mean_util = 0.0;    // bytes / (run time x bandwidth)
  double peak_util = 0.0;    // highest utilization over one sampling interval
  std::vector<double> util;  // utilization over each sampling interval ending at /timeseries/time[i]
};

struct SeriesSpec {
  std::string name;  // dataset name under /timeseries: non-empty, no '/', not "time", unique
  std::string unit;
  std::string description;
};

// /power/rack_power and /power/rack_hall: the IT power of every rack at every sample (what a topology view colours
// racks by at a cursor time), float32 to keep month-long runs of many racks small.
struct RackPowerSeries {
  std::vector<int32_t> hall;  // hall of each rack (0 when the scenario names no halls)
  std::vector<float> watts;   // samples x racks, row-major; row i at /timeseries/time[i]
  size_t racks() const { return hall.size(); }
  size_t samples() const { return hall.empty() ? 0 : watts.size() / hall.size(); }
  float at(size_t sample, size_t rack) const { return watts[sample * hall.size() + rack]; }
};

struct SummaryEntry {
  std::string name;
  double value = 0.0;
  std::string unit;
};

// Streams a results file to "<path>.tmp" and renames it to <path> in finish(). Until then no file at
// <path> is created or replaced; a writer destroyed without finish() removes its tmp file. Each table
// buffers at most chunk_rows rows in memory, whatever the number of rows written. The same sequence
// of calls gives a byte-identical file (no timestamps are stored).
// Misuse (wrong sample width, calls after finish) throws std::logic_error / std::invalid_argument;
// I/O failures throw ResultsError.
class ResultsWriter {
 public:
  static constexpr size_t DEFAULT_CHUNK_ROWS = 65536;
  // deflate_level 0 (default, fastest) stores raw chunks; 1..9 turns on shuffle + deflate.
  explicit ResultsWriter(const std::string& path, size_t chunk_rows = DEFAULT_CHUNK_ROWS, int deflate_level = 0);
  ~ResultsWriter();
  ResultsWriter(ResultsWriter&&) noexcept;
  ResultsWriter& operator=(ResultsWriter&&) noexcept;
  ResultsWriter(const ResultsWriter&) = delete;
  ResultsWriter& operator=(const ResultsWriter&) = delete;

  // String attributes on /meta (tool version, scenario text, seed, ...). A repeated name replaces the
  // value. The names "format", "format_version" and "fingerprint" are reserved.
  void write_meta(const std::vector<std::pair<std::string, std::string>>& attributes);

  void add_request(const RequestRecord& record);
  void add_event(const EventRecord& record);
  void add_iteration(const IterationRecord& record);
  // Names of the jobs, indexed by JobStepRecord::job (the /jobs@names attribute); at most once.
  void define_jobs(const std::vector<std::string>& names);
  void add_job_step(const JobStepRecord& record);
  // The busiest links, written by finish() as /links/busiest and /links/busiest_util; each util has one value per
  // sample added (checked there). At most once.
  void set_busiest_links(std::vector<LinkUsageRecord> links);
  // Rack power, written by finish() under /power; watts holds one row per sample added (checked there). At most once.
  void set_rack_power(RackPowerSeries racks);

  // Once, before the first sample.
  void define_series(const std::vector<SeriesSpec>& series);
  // One row of /timeseries: the time and one value per defined series, in definition order.
  void add_sample(double time_s, const std::vector<double>& values);

  // Run fingerprint over every request and event added so far (see fingerprint.hpp).
  uint64_t fingerprint() const;
  // Rows held in memory by the fullest table buffer; never above chunk_rows().
  size_t buffered_rows() const;
  size_t chunk_rows() const;
  const std::string& path() const;

  // Flushes the buffers, writes /summary and the /meta "fingerprint" attribute (16 hex digits),
  // closes the file and renames "<path>.tmp" to <path>.
  void finish(const std::vector<SummaryEntry>& summary);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Reads a results file. Every failure (missing, not HDF5, not an aifsim results file, damaged or
// truncated) throws ResultsError naming the file and what is wrong; it never crashes.
class ResultsReader {
 public:
  static constexpr size_t DEFAULT_READ_ROWS = 65536;
  explicit ResultsReader(const std::string& path);
  ~ResultsReader();
  ResultsReader(ResultsReader&&) noexcept;
  ResultsReader& operator=(ResultsReader&&) noexcept;
  ResultsReader(const ResultsReader&) = delete;
  ResultsReader& operator=(const ResultsReader&) = delete;

  const std::string& path() const;
  std::map<std::string, std::string> meta() const;  // every /meta attribute, numbers formatted as text

  size_t request_count() const;
  // Streams /requests in file order, rows_per_chunk at a time (memory bounded by that).
  void for_each_request_chunk(const std::function<void(const std::vector<RequestRecord>&)>& visit,
                              size_t rows_per_chunk = DEFAULT_READ_ROWS) const;
  std::vector<RequestRecord> requests() const;

  size_t event_count() const;
  std::vector<EventRecord> events() const;

  size_t iteration_count() const;
  void for_each_iteration_chunk(const std::function<void(const std::vector<IterationRecord>&)>& visit,
                                size_t rows_per_chunk = DEFAULT_READ_ROWS) const;
  std::vector<IterationRecord> iterations() const;

  // /jobs: empty in files without jobs (and in files written before /jobs existed).
  std::vector<std::string> job_names() const;
  size_t job_step_count() const;
  void for_each_job_step_chunk(const std::function<void(const std::vector<JobStepRecord>&)>& visit,
                               size_t rows_per_chunk = DEFAULT_READ_ROWS) const;
  std::vector<JobStepRecord> job_steps() const;
  // /links: empty in files without it.
  std::vector<LinkUsageRecord> busiest_links() const;
  // /power: nullopt in files without it.
  std::optional<RackPowerSeries> rack_power() const;

  std::vector<SeriesSpec> series() const;  // in definition order
  std::vector<double> series_time() const;
  std::vector<double> series_values(const std::string& name) const;  // ResultsError for an unknown name

  std::vector<SummaryEntry> summary() const;  // empty when the file has no /summary
  std::optional<double> summary_value(const std::string& name) const;

  // The fingerprint stored by the writer, and the one recomputed from /requests and /events.
  std::optional<uint64_t> stored_fingerprint() const;
  uint64_t compute_fingerprint() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace aif::analysis
