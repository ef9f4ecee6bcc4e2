// Internal to aif::analysis: RAII handles, error handling and the on-disk types of the results file.
// Uses HDF5's C API for full control of errors (no exceptions from inside the library, no error
// stacks printed on stderr) and of object creation properties (no timestamps).
#pragma once
#include <hdf5.h>

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "aif/analysis/results.hpp"

namespace aif::analysis::h5 {

// Owns one HDF5 identifier and closes it with the matching H5?close.
class Handle {
 public:
  using Closer = herr_t (*)(hid_t);
  Handle() = default;
  Handle(hid_t id, Closer closer) : id_(id), closer_(closer) {}
  ~Handle() { reset(); }
  Handle(Handle&& other) noexcept : id_(std::exchange(other.id_, H5I_INVALID_HID)), closer_(other.closer_) {}
  Handle& operator=(Handle&& other) noexcept {
    if (this != &other) {
      reset();
      id_ = std::exchange(other.id_, H5I_INVALID_HID);
      closer_ = other.closer_;
    }
    return *this;
  }
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  hid_t get() const { return id_; }
  bool valid() const { return id_ >= 0; }
  // Closes now; returns false when HDF5 reports a failure (e.g. a flush on close that failed).
  bool close();
  void reset() { (void)close(); }

 private:
  hid_t id_ = H5I_INVALID_HID;
  Closer closer_ = nullptr;
};

// Silences HDF5's automatic error printing for its lifetime (restoring the previous handler), so
// failures reach the user once, as a ResultsError, not as a stack dump on stderr.
class QuietErrors {
 public:
  QuietErrors();
  ~QuietErrors();
  QuietErrors(const QuietErrors&) = delete;
  QuietErrors& operator=(const QuietErrors&) = delete;

 private:
  H5E_auto2_t function_ = nullptr;
  void* data_ = nullptr;
};

// The innermost message of HDF5's current error stack (then clears it); "" when empty.
std::string last_error();

// Throws ResultsError("<file>: <what>[: <hdf5 message>]").
[[noreturn]] void fail(const std::string& file, const std::string& what);
hid_t check_id(hid_t id, const std::string& file, const std::string& what);
void check(herr_t status, const std::string& file, const std::string& what);

// Types. File types are packed and explicitly little-endian so that files are identical across
// platforms; memory types match the C++ structs.
Handle string_type();            // variable-length UTF-8 string
Handle outcome_type(bool file);  // enum over int8
Handle request_type(bool file);
Handle iteration_type(bool file);
Handle job_step_type(bool file);
Handle event_type(bool file);
Handle summary_type(bool file);
Handle link_usage_type(bool file);

// Memory rows for the string-bearing tables (pointers into caller-owned strings, or into buffers
// HDF5 allocated on read).
struct EventRow {
  double time_s;
  const char* kind;
  const char* target;
  const char* detail;
};
struct LinkUsageRow {
  const char* name;
  const char* tier;
  double bandwidth;
  double bytes;
  double mean_util;
  double peak_util;
};
struct SummaryRow {
  const char* name;
  double value;
  const char* unit;
};

// Frees the variable-length data HDF5 allocated while reading `rows` rows of `mem_type`.
void reclaim(hid_t mem_type, size_t rows, void* buffer);

}  // namespace aif::analysis::h5
