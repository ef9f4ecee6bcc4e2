#include "results_h5.hpp"

#include <cstddef>

namespace aif::analysis::h5 {

bool Handle::close() {
  if (id_ < 0) return true;
  const herr_t status = closer_(id_);
  id_ = H5I_INVALID_HID;
  return status >= 0;
}

QuietErrors::QuietErrors() {
  H5Eget_auto2(H5E_DEFAULT, &function_, &data_);
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
}

QuietErrors::~QuietErrors() { H5Eset_auto2(H5E_DEFAULT, function_, data_); }

namespace {
herr_t take_first_message(unsigned n, const H5E_error2_t* error, void* client_data) {
  auto* message = static_cast<std::string*>(client_data);
  if (n == 0 && error != nullptr && error->desc != nullptr) *message = error->desc;
  return 0;
}
}  // namespace

std::string last_error() {
  std::string message;
  // Walking upward starts at the innermost (most specific) error, e.g. "truncated file: eof = ...".
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, take_first_message, &message);
  H5Eclear2(H5E_DEFAULT);
  return message;
}

void fail(const std::string& file, const std::string& what) {
  const std::string detail = last_error();
  throw ResultsError(file + ": " + what + (detail.empty() ? "" : ": " + detail));
}

hid_t check_id(hid_t id, const std::string& file, const std::string& what) {
  if (id < 0) fail(file, what);
  return id;
}

void check(herr_t status, const std::string& file, const std::string& what) {
  if (status < 0) fail(file, what);
}

// Type construction cannot fail short of memory exhaustion; a failure there is a programming error
// reported like any other.
namespace {
const char* const TYPES = "<types>";

Handle compound(size_t size) { return Handle(check_id(H5Tcreate(H5T_COMPOUND, size), TYPES, "H5Tcreate"), H5Tclose); }

void insert(const Handle& type, const char* name, size_t offset, hid_t member) {
  check(H5Tinsert(type.get(), name, offset, member), TYPES, std::string("H5Tinsert ") + name);
}

// Packs a file type so that no padding (and no uninitialised byte) reaches the file.
Handle packed(Handle type) {
  check(H5Tpack(type.get()), TYPES, "H5Tpack");
  return type;
}

hid_t i8(bool file) { return file ? H5T_STD_I8LE : H5T_NATIVE_INT8; }
hid_t i32(bool file) { return file ? H5T_STD_I32LE : H5T_NATIVE_INT32; }
hid_t i64(bool file) { return file ? H5T_STD_I64LE : H5T_NATIVE_INT64; }
hid_t f64(bool file) { return file ? H5T_IEEE_F64LE : H5T_NATIVE_DOUBLE; }
}  // namespace

Handle string_type() {
  Handle type(check_id(H5Tcopy(H5T_C_S1), TYPES, "H5Tcopy"), H5Tclose);
  check(H5Tset_size(type.get(), H5T_VARIABLE), TYPES, "H5Tset_size");
  check(H5Tset_cset(type.get(), H5T_CSET_UTF8), TYPES, "H5Tset_cset");
  return type;
}

Handle outcome_type(bool file) {
  Handle type(check_id(H5Tenum_create(i8(file)), TYPES, "H5Tenum_create"), H5Tclose);
  for (Outcome outcome : {Outcome::FINISHED, Outcome::UNFINISHED, Outcome::REJECTED, Outcome::DROPPED}) {
    const auto value = static_cast<int8_t>(outcome);
    check(H5Tenum_insert(type.get(), outcome_name(outcome), &value), TYPES, "H5Tenum_insert");
  }
  return type;
}

Handle request_type(bool file) {
  Handle type = compound(sizeof(RequestRecord));
  Handle outcome = outcome_type(file);
  insert(type, "id", offsetof(RequestRecord, id), i64(file));
  insert(type, "workload", offsetof(RequestRecord, workload), i32(file));
  insert(type, "service", offsetof(RequestRecord, service), i32(file));
  insert(type, "replica", offsetof(RequestRecord, replica), i32(file));
  insert(type, "arrival_s", offsetof(RequestRecord, arrival_s), f64(file));
  insert(type, "first_token_s", offsetof(RequestRecord, first_token_s), f64(file));
  insert(type, "finish_s", offsetof(RequestRecord, finish_s), f64(file));
  insert(type, "prompt_tokens", offsetof(RequestRecord, prompt_tokens), i32(file));
  insert(type, "output_tokens", offsetof(RequestRecord, output_tokens), i32(file));
  insert(type, "generated_tokens", offsetof(RequestRecord, generated_tokens), i32(file));
  insert(type, "preemptions", offsetof(RequestRecord, preemptions), i32(file));
  insert(type, "outcome", offsetof(RequestRecord, outcome), outcome.get());
  insert(type, "cached_tokens", offsetof(RequestRecord, cached_tokens), i32(file));
  return file ? packed(std::move(type)) : std::move(type);
}

Handle iteration_type(bool file) {
  Handle type = compound(sizeof(IterationRecord));
  insert(type, "replica", offsetof(IterationRecord, replica), i32(file));
  insert(type, "start_s", offsetof(IterationRecord, start_s), f64(file));
  insert(type, "duration_s", offsetof(IterationRecord, duration_s), f64(file));
  insert(type, "num_seqs", offsetof(IterationRecord, num_seqs), i32(file));
  insert(type, "prefill_tokens", offsetof(IterationRecord, prefill_tokens), i32(file));
  insert(type, "decode_tokens", offsetof(IterationRecord, decode_tokens), i32(file));
  insert(type, "context_tokens", offsetof(IterationRecord, context_tokens), i64(file));
  insert(type, "prefill_seqs", offsetof(IterationRecord, prefill_seqs), i32(file));
  insert(type, "sampled_seqs", offsetof(IterationRecord, sampled_seqs), i32(file));
  insert(type, "attended_pairs", offsetof(IterationRecord, attended_pairs), f64(file));
  insert(type, "prefill_attended_pairs", offsetof(IterationRecord, prefill_attended_pairs), f64(file));
  insert(type, "forward_s", offsetof(IterationRecord, forward_s), f64(file));
  insert(type, "gpu_energy_j", offsetof(IterationRecord, gpu_energy_j), f64(file));
  insert(type, "clock_fraction", offsetof(IterationRecord, clock_fraction), f64(file));
  insert(type, "gpu_flops", offsetof(IterationRecord, gpu_flops), f64(file));
  insert(type, "gpu_bytes", offsetof(IterationRecord, gpu_bytes), f64(file));
  return file ? packed(std::move(type)) : std::move(type);
}

Handle job_step_type(bool file) {
  Handle type = compound(sizeof(JobStepRecord));
  insert(type, "job", offsetof(JobStepRecord, job), i32(file));
  insert(type, "step", offsetof(JobStepRecord, step), i64(file));
  insert(type, "start_s", offsetof(JobStepRecord, start_s), f64(file));
  insert(type, "end_s", offsetof(JobStepRecord, end_s), f64(file));
  insert(type, "compute_s", offsetof(JobStepRecord, compute_s), f64(file));
  insert(type, "comm_s", offsetof(JobStepRecord, comm_s), f64(file));
  insert(type, "exposed_comm_s", offsetof(JobStepRecord, exposed_comm_s), f64(file));
  insert(type, "checkpoint_s", offsetof(JobStepRecord, checkpoint_s), f64(file));
  return file ? packed(std::move(type)) : std::move(type);
}

Handle event_type(bool file) {
  Handle type = compound(sizeof(EventRow));
  Handle text = string_type();
  insert(type, "time_s", offsetof(EventRow, time_s), f64(file));
  insert(type, "kind", offsetof(EventRow, kind), text.get());
  insert(type, "target", offsetof(EventRow, target), text.get());
  insert(type, "detail", offsetof(EventRow, detail), text.get());
  return file ? packed(std::move(type)) : std::move(type);
}

Handle summary_type(bool file) {
  Handle type = compound(sizeof(SummaryRow));
  Handle text = string_type();
  insert(type, "name", offsetof(SummaryRow, name), text.get());
  insert(type, "value", offsetof(SummaryRow, value), f64(file));
  insert(type, "unit", offsetof(SummaryRow, unit), text.get());
  return file ? packed(std::move(type)) : std::move(type);
}

Handle link_usage_type(bool file) {
  Handle type = compound(sizeof(LinkUsageRow));
  Handle text = string_type();
  insert(type, "name", offsetof(LinkUsageRow, name), text.get());
  insert(type, "tier", offsetof(LinkUsageRow, tier), text.get());
  insert(type, "bandwidth", offsetof(LinkUsageRow, bandwidth), f64(file));
  insert(type, "bytes", offsetof(LinkUsageRow, bytes), f64(file));
  insert(type, "mean_util", offsetof(LinkUsageRow, mean_util), f64(file));
  insert(type, "peak_util", offsetof(LinkUsageRow, peak_util), f64(file));
  return file ? packed(std::move(type)) : std::move(type);
}

void reclaim(hid_t mem_type, size_t rows, void* buffer) {
  if (rows == 0) return;
  const hsize_t dims = rows;
  Handle space(H5Screate_simple(1, &dims, nullptr), H5Sclose);
  if (!space.valid()) return;
#if H5_VERSION_GE(1, 12, 0)
  H5Treclaim(mem_type, space.get(), H5P_DEFAULT, buffer);
#else
  H5Dvlen_reclaim(mem_type, space.get(), H5P_DEFAULT, buffer);
#endif
}

}  // namespace aif::analysis::h5
