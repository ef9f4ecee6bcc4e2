#include <cstdlib>
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <sstream>
#include <system_error>

#include "aif/analysis/fingerprint.hpp"
#include "aif/analysis/results.hpp"
#include "results_h5.hpp"

namespace aif::analysis {

std::string results_checksum_problem(const std::string& path);  // results_checksum.cpp

using h5::Handle;

namespace {

const char* const REQUEST_COLUMNS[] = {
    "id",       "workload",      "service",       "replica",          "arrival_s",   "first_token_s",
    "finish_s", "prompt_tokens", "output_tokens", "generated_tokens", "preemptions", "outcome"};
// Optional (added later): cached_tokens; a file without it reads 0 there (the record's default).
const char* const EVENT_COLUMNS[] = {"time_s", "kind", "target", "detail"};
const char* const LINK_COLUMNS[] = {"name", "tier", "bandwidth", "bytes", "mean_util", "peak_util"};
const char* const ITERATION_COLUMNS[] = {"replica",        "start_s",       "duration_s",     "num_seqs",
                                         "prefill_tokens", "decode_tokens", "context_tokens", "prefill_seqs",
                                         "sampled_seqs",   "attended_pairs", "prefill_attended_pairs"};
// Optional (added later): forward_s, gpu_energy_j, clock_fraction, gpu_flops, gpu_bytes. HDF5 converts compounds member by member, so a file without it reads
// with the record's default (NaN) there.
const char* const JOB_STEP_COLUMNS[] = {"job",    "step",           "start_s",     "end_s",
                                        "compute_s", "comm_s", "exposed_comm_s", "checkpoint_s"};
const char* const SUMMARY_COLUMNS[] = {"name", "value", "unit"};

std::string format_number(double value) {
  std::ostringstream out;
  out.precision(17);
  out << value;
  return out.str();
}

}  // namespace

struct ResultsReader::Impl {
  std::string path;
  Handle file;

  [[noreturn]] void fail(const std::string& what) const { h5::fail(path, what); }
  hid_t check_id(hid_t id, const std::string& what) const { return h5::check_id(id, path, what); }
  void check(herr_t status, const std::string& what) const { h5::check(status, path, what); }

  // True when every link of an absolute path ("/timeseries/x") exists.
  bool exists(const std::string& object) const {
    size_t position = 0;
    while ((position = object.find('/', position + 1)) != std::string::npos) {
      if (H5Lexists(file.get(), object.substr(0, position).c_str(), H5P_DEFAULT) <= 0) return false;
    }
    return H5Lexists(file.get(), object.c_str(), H5P_DEFAULT) > 0;
  }

  Handle open_dataset(const std::string& name) const {
    if (!exists(name)) fail("no dataset " + name + " (not an aifsim results file?)");
    H5O_info_t info;
#if H5_VERSION_GE(1, 12, 0)
    check(H5Oget_info_by_name3(file.get(), name.c_str(), &info, H5O_INFO_BASIC, H5P_DEFAULT), "cannot inspect " + name);
#else
    check(H5Oget_info_by_name2(file.get(), name.c_str(), &info, H5O_INFO_BASIC, H5P_DEFAULT), "cannot inspect " + name);
#endif
    if (info.type != H5O_TYPE_DATASET) fail(name + " is not a dataset");
    return Handle(check_id(H5Dopen2(file.get(), name.c_str(), H5P_DEFAULT), "cannot open " + name), H5Dclose);
  }

  size_t rows(const Handle& dataset, const std::string& name) const {
    Handle space(check_id(H5Dget_space(dataset.get()), "cannot read the shape of " + name), H5Sclose);
    const int rank = H5Sget_simple_extent_ndims(space.get());
    if (rank != 1) fail(name + " should be one-dimensional, has rank " + std::to_string(rank));
    hsize_t dims = 0;
    check(H5Sget_simple_extent_dims(space.get(), &dims, nullptr), "cannot read the shape of " + name);
    return static_cast<size_t>(dims);
  }

  template <size_t N>
  void require_columns(const Handle& dataset, const std::string& name, const char* const (&columns)[N]) const {
    Handle type(check_id(H5Dget_type(dataset.get()), "cannot read the type of " + name), H5Tclose);
    if (H5Tget_class(type.get()) != H5T_COMPOUND) fail(name + " is not a table (compound type)");
    for (const char* column : columns) {
      if (H5Tget_member_index(type.get(), column) < 0) {
        H5Eclear2(H5E_DEFAULT);
        fail(name + " has no column '" + column + "'");
      }
    }
  }

  // Reads rows [first, first + count) of a 1-D dataset into `buffer`.
  void read_rows(const Handle& dataset, hid_t mem_type, size_t first, size_t count, void* buffer,
                 const std::string& name) const {
    if (count == 0) return;
    Handle file_space(check_id(H5Dget_space(dataset.get()), "cannot read " + name), H5Sclose);
    const hsize_t start = first;
    const hsize_t block = count;
    check(H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, &start, nullptr, &block, nullptr),
          "cannot read " + name);
    Handle mem_space(check_id(H5Screate_simple(1, &block, nullptr), "cannot read " + name), H5Sclose);
    check(H5Dread(dataset.get(), mem_type, mem_space.get(), file_space.get(), H5P_DEFAULT, buffer),
          "cannot read " + name + " (damaged file?)");
  }

  template <typename Record, size_t N>
  void for_each_chunk(const std::string& name, const Handle& mem_type, const char* const (&columns)[N],
                      size_t rows_per_chunk, const std::function<void(const std::vector<Record>&)>& visit) const {
    rows_per_chunk = std::max<size_t>(1, rows_per_chunk);
    std::vector<Record> chunk;
    size_t total = 0;
    {
      h5::QuietErrors quiet;
      Handle dataset = open_dataset(name);
      require_columns(dataset, name, columns);
      total = rows(dataset, name);
    }
    for (size_t first = 0; first < total; first += rows_per_chunk) {
      const size_t count = std::min(rows_per_chunk, total - first);
      chunk.assign(count, Record{});
      {
        h5::QuietErrors quiet;  // not held while the visitor runs: it may use HDF5 itself
        Handle dataset = open_dataset(name);
        read_rows(dataset, mem_type.get(), first, count, chunk.data(), name);
      }
      visit(chunk);
    }
  }

  std::string read_string_attribute(hid_t attribute, const std::string& name) const {
    Handle type(check_id(H5Aget_type(attribute), "cannot read attribute " + name), H5Tclose);
    Handle space(check_id(H5Aget_space(attribute), "cannot read attribute " + name), H5Sclose);
    const hssize_t elements = H5Sget_simple_extent_npoints(space.get());
    if (elements < 0) fail("cannot read attribute " + name);
    const H5T_class_t type_class = H5Tget_class(type.get());
    if (type_class == H5T_STRING) {
      const htri_t variable = H5Tis_variable_str(type.get());
      check(variable, "cannot read attribute " + name);
      if (elements != 1) fail("attribute " + name + " should hold one string");
      if (variable > 0) {
        Handle mem_type = h5::string_type();
        check(H5Tset_cset(mem_type.get(), H5Tget_cset(type.get())), "cannot read attribute " + name);
        char* data = nullptr;
        check(H5Aread(attribute, mem_type.get(), &data), "cannot read attribute " + name);
        std::string value = data ? data : "";
        h5::reclaim(mem_type.get(), 1, &data);
        return value;
      }
      const size_t size = H5Tget_size(type.get());
      std::string value(size, '\0');
      if (size > 0) check(H5Aread(attribute, type.get(), value.data()), "cannot read attribute " + name);
      value.resize(std::min(value.find('\0'), value.size()));
      return value;
    }
    if (type_class == H5T_INTEGER || type_class == H5T_FLOAT) {
      if (elements != 1) fail("attribute " + name + " should hold one number");
      double value = 0.0;
      check(H5Aread(attribute, H5T_NATIVE_DOUBLE, &value), "cannot read attribute " + name);
      return format_number(value);
    }
    fail("attribute " + name + " has an unsupported type");
  }

  std::vector<std::string> read_string_list_attribute(hid_t object, const std::string& name) const {
    Handle attribute(check_id(H5Aopen(object, name.c_str(), H5P_DEFAULT), "cannot open attribute " + name), H5Aclose);
    Handle space(check_id(H5Aget_space(attribute.get()), "cannot read attribute " + name), H5Sclose);
    const hssize_t elements = H5Sget_simple_extent_npoints(space.get());
    if (elements < 0) fail("cannot read attribute " + name);
    Handle mem_type = h5::string_type();
    std::vector<char*> data(static_cast<size_t>(elements), nullptr);
    if (!data.empty()) check(H5Aread(attribute.get(), mem_type.get(), data.data()), "cannot read attribute " + name);
    std::vector<std::string> values;
    for (char* item : data) values.emplace_back(item ? item : "");
    h5::reclaim(mem_type.get(), data.size(), data.data());
    return values;
  }

  std::string dataset_attribute(const std::string& dataset_name, const std::string& name) const {
    const htri_t exists = H5Aexists_by_name(file.get(), dataset_name.c_str(), name.c_str(), H5P_DEFAULT);
    if (exists <= 0) {
      H5Eclear2(H5E_DEFAULT);
      return "";
    }
    Handle attribute(check_id(H5Aopen_by_name(file.get(), dataset_name.c_str(), name.c_str(), H5P_DEFAULT, H5P_DEFAULT),
                              "cannot open attribute " + name + " of " + dataset_name),
                     H5Aclose);
    return read_string_attribute(attribute.get(), dataset_name + "@" + name);
  }

  std::vector<double> read_doubles(const std::string& name) const {
    h5::QuietErrors quiet;
    Handle dataset = open_dataset(name);
    std::vector<double> values(rows(dataset, name));
    read_rows(dataset, H5T_NATIVE_DOUBLE, 0, values.size(), values.data(), name);
    return values;
  }
};

ResultsReader::ResultsReader(const std::string& path) : impl_(std::make_unique<Impl>()) {
  Impl& r = *impl_;
  r.path = path;
  std::error_code error;
  if (!std::filesystem::exists(path, error)) throw ResultsError(path + ": no such file");
  if (std::filesystem::is_directory(path, error)) throw ResultsError(path + ": is a directory, not a results file");

  h5::QuietErrors quiet;
  const htri_t is_hdf5 = H5Fis_hdf5(path.c_str());
  if (is_hdf5 <= 0) {
    H5Eclear2(H5E_DEFAULT);
    throw ResultsError(path + ": not an HDF5 file");
  }
  // Before libhdf5 decodes anything: a file without the checksum block is from an older aifsim (layout 1) or not
  // from aifsim; one whose checksum fails was changed or cut short since it was written.
  if (const std::string problem = results_checksum_problem(path); problem == "no checksum block") {
    throw ResultsError(path + ": unsupported results file: it has no checksum block, so it is not an aifsim results "
                       "file of layout " + std::to_string(RESULTS_FORMAT_VERSION) +
                       " (an older aifsim's file, layout 1, or another program's HDF5 file); open it with the aifsim "
                       "that wrote it");
  } else if (!problem.empty()) {
    throw ResultsError(path + ": " + problem);
  }
  Handle fapl(r.check_id(H5Pcreate(H5P_FILE_ACCESS), "H5Pcreate"), H5Pclose);
  // Closing the file closes whatever is still open in it, so an exception mid-read leaks nothing.
  r.check(H5Pset_fclose_degree(fapl.get(), H5F_CLOSE_STRONG), "H5Pset_fclose_degree");
  r.file = Handle(r.check_id(H5Fopen(path.c_str(), H5F_ACC_RDONLY, fapl.get()), "cannot open (damaged or truncated?)"),
                  H5Fclose);

  {
    Handle requests = r.open_dataset("/requests");
    r.require_columns(requests, "/requests", REQUEST_COLUMNS);
  }
  const auto attributes = meta();
  const auto format = attributes.find("format");
  if (format == attributes.end() || format->second != RESULTS_FORMAT_NAME) {
    throw ResultsError(path + ": not an aifsim results file (/meta has no format = " + RESULTS_FORMAT_NAME + ")");
  }
  const auto version = attributes.find("format_version");
  if (version == attributes.end() || version->second != std::to_string(RESULTS_FORMAT_VERSION)) {
    // Say which side is newer, and which aifsim wrote the file, so the user knows which build opens it.
    const auto tool = attributes.find("tool_version");
    const std::string written = tool == attributes.end() ? "" : " (written by aifsim " + tool->second + ")";
    std::string which;
    if (version == attributes.end()) {
      which = "the file states no layout version" + written;
    } else {
      char* end = nullptr;
      const long v = std::strtol(version->second.c_str(), &end, 10);
      which = "its layout version " + version->second + written +
              (end != nullptr && *end == '\0' && v > RESULTS_FORMAT_VERSION ? " is newer than" : " is not") +
              " the version " + std::to_string(RESULTS_FORMAT_VERSION) + " this aifsim reads";
    }
    throw ResultsError(path + ": unsupported results file: " + which + "; open it with the aifsim that wrote it");
  }
}

ResultsReader::~ResultsReader() {
  if (!impl_) return;
  h5::QuietErrors quiet;
  impl_->file.reset();
}

ResultsReader::ResultsReader(ResultsReader&&) noexcept = default;
ResultsReader& ResultsReader::operator=(ResultsReader&&) noexcept = default;

const std::string& ResultsReader::path() const { return impl_->path; }

std::map<std::string, std::string> ResultsReader::meta() const {
  const Impl& r = *impl_;
  h5::QuietErrors quiet;
  if (!r.exists("/meta")) r.fail("no /meta group (not an aifsim results file?)");
  Handle group(r.check_id(H5Gopen2(r.file.get(), "/meta", H5P_DEFAULT), "cannot open /meta"), H5Gclose);
  H5O_info_t info;
#if H5_VERSION_GE(1, 12, 0)
  r.check(H5Oget_info3(group.get(), &info, H5O_INFO_NUM_ATTRS), "cannot inspect /meta");
#else
  r.check(H5Oget_info2(group.get(), &info, H5O_INFO_NUM_ATTRS), "cannot inspect /meta");
#endif
  std::map<std::string, std::string> attributes;
  for (hsize_t i = 0; i < info.num_attrs; ++i) {
    Handle attribute(
        r.check_id(H5Aopen_by_idx(group.get(), ".", H5_INDEX_NAME, H5_ITER_INC, i, H5P_DEFAULT, H5P_DEFAULT),
                   "cannot open a /meta attribute"),
        H5Aclose);
    const ssize_t length = H5Aget_name(attribute.get(), 0, nullptr);
    if (length < 0) r.fail("cannot read a /meta attribute name");
    std::string name(static_cast<size_t>(length) + 1, '\0');
    if (H5Aget_name(attribute.get(), name.size(), name.data()) < 0) r.fail("cannot read a /meta attribute name");
    name.resize(static_cast<size_t>(length));
    attributes[name] = r.read_string_attribute(attribute.get(), "/meta@" + name);
  }
  return attributes;
}

size_t ResultsReader::request_count() const {
  h5::QuietErrors quiet;
  return impl_->rows(impl_->open_dataset("/requests"), "/requests");
}

void ResultsReader::for_each_request_chunk(const std::function<void(const std::vector<RequestRecord>&)>& visit,
                                           size_t rows_per_chunk) const {
  Handle mem_type = h5::request_type(false);
  impl_->for_each_chunk<RequestRecord>("/requests", mem_type, REQUEST_COLUMNS, rows_per_chunk, visit);
}

std::vector<RequestRecord> ResultsReader::requests() const {
  std::vector<RequestRecord> all;
  all.reserve(request_count());
  for_each_request_chunk(
      [&](const std::vector<RequestRecord>& chunk) { all.insert(all.end(), chunk.begin(), chunk.end()); });
  return all;
}

size_t ResultsReader::event_count() const {
  h5::QuietErrors quiet;
  if (!impl_->exists("/events")) return 0;
  return impl_->rows(impl_->open_dataset("/events"), "/events");
}

std::vector<EventRecord> ResultsReader::events() const {
  const Impl& r = *impl_;
  h5::QuietErrors quiet;
  std::vector<EventRecord> all;
  if (!r.exists("/events")) return all;
  Handle dataset = r.open_dataset("/events");
  r.require_columns(dataset, "/events", EVENT_COLUMNS);
  const size_t total = r.rows(dataset, "/events");
  Handle mem_type = h5::event_type(false);
  all.reserve(total);
  std::vector<h5::EventRow> rows;
  for (size_t first = 0; first < total; first += DEFAULT_READ_ROWS) {
    const size_t count = std::min(DEFAULT_READ_ROWS, total - first);
    rows.assign(count, h5::EventRow{0.0, nullptr, nullptr, nullptr});
    r.read_rows(dataset, mem_type.get(), first, count, rows.data(), "/events");
    for (const auto& row : rows) {
      all.push_back({row.time_s, row.kind ? row.kind : "", row.target ? row.target : "", row.detail ? row.detail : ""});
    }
    h5::reclaim(mem_type.get(), rows.size(), rows.data());
  }
  return all;
}

size_t ResultsReader::iteration_count() const {
  h5::QuietErrors quiet;
  if (!impl_->exists("/iterations")) return 0;
  return impl_->rows(impl_->open_dataset("/iterations"), "/iterations");
}

void ResultsReader::for_each_iteration_chunk(const std::function<void(const std::vector<IterationRecord>&)>& visit,
                                             size_t rows_per_chunk) const {
  {
    h5::QuietErrors quiet;
    if (!impl_->exists("/iterations")) return;
  }
  Handle mem_type = h5::iteration_type(false);
  impl_->for_each_chunk<IterationRecord>("/iterations", mem_type, ITERATION_COLUMNS, rows_per_chunk, visit);
}

std::vector<IterationRecord> ResultsReader::iterations() const {
  std::vector<IterationRecord> all;
  for_each_iteration_chunk(
      [&](const std::vector<IterationRecord>& chunk) { all.insert(all.end(), chunk.begin(), chunk.end()); });
  return all;
}

std::vector<LinkUsageRecord> ResultsReader::busiest_links() const {
  const Impl& r = *impl_;
  h5::QuietErrors quiet;
  std::vector<LinkUsageRecord> out;
  if (!r.exists("/links")) return out;
  Handle table = r.open_dataset("/links/busiest");
  r.require_columns(table, "/links/busiest", LINK_COLUMNS);
  const size_t count = r.rows(table, "/links/busiest");
  Handle mem_type = h5::link_usage_type(false);
  std::vector<h5::LinkUsageRow> rows(count, h5::LinkUsageRow{nullptr, nullptr, 0, 0, 0, 0});
  r.read_rows(table, mem_type.get(), 0, count, rows.data(), "/links/busiest");
  for (const auto& row : rows)
    out.push_back({row.name ? row.name : "", row.tier ? row.tier : "", row.bandwidth, row.bytes, row.mean_util,
                   row.peak_util, {}});
  h5::reclaim(mem_type.get(), rows.size(), rows.data());
  Handle util = r.open_dataset("/links/busiest_util");
  Handle space(r.check_id(H5Dget_space(util.get()), "cannot read /links/busiest_util"), H5Sclose);
  hsize_t dims[2] = {0, 0};
  if (H5Sget_simple_extent_ndims(space.get()) != 2 || H5Sget_simple_extent_dims(space.get(), dims, nullptr) != 2 ||
      dims[1] != count)
    h5::fail(r.path, "/links/busiest_util is not a (samples x " + std::to_string(count) + ") matrix");
  std::vector<double> matrix(static_cast<size_t>(dims[0] * dims[1]));
  if (!matrix.empty())
    r.check(H5Dread(util.get(), H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, matrix.data()),
            "cannot read /links/busiest_util");
  for (size_t j = 0; j < count; ++j)
    for (size_t i = 0; i < dims[0]; ++i) out[j].util.push_back(matrix[i * count + j]);
  return out;
}

std::optional<RackPowerSeries> ResultsReader::rack_power() const {
  const Impl& r = *impl_;
  h5::QuietErrors quiet;
  if (!r.exists("/power")) return std::nullopt;
  RackPowerSeries out;
  Handle hall = r.open_dataset("/power/rack_hall");
  Handle watts = r.open_dataset("/power/rack_power");
  Handle space(r.check_id(H5Dget_space(watts.get()), "cannot read /power/rack_power"), H5Sclose);
  hsize_t dims[2] = {0, 0};
  if (H5Sget_simple_extent_ndims(space.get()) != 2 || H5Sget_simple_extent_dims(space.get(), dims, nullptr) != 2)
    h5::fail(r.path, "/power/rack_power is not a (samples x racks) matrix");
  Handle hall_space(r.check_id(H5Dget_space(hall.get()), "cannot read /power/rack_hall"), H5Sclose);
  hsize_t racks = 0;
  if (H5Sget_simple_extent_ndims(hall_space.get()) != 1 || H5Sget_simple_extent_dims(hall_space.get(), &racks, nullptr) != 1 ||
      racks != std::max<hsize_t>(1, dims[1]))
    h5::fail(r.path, "/power/rack_hall does not name a hall for each of the " + std::to_string(dims[1]) +
                         " racks of /power/rack_power");
  std::vector<int32_t> halls(static_cast<size_t>(racks));
  r.check(H5Dread(hall.get(), H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, halls.data()),
          "cannot read /power/rack_hall");
  halls.resize(static_cast<size_t>(dims[1]));
  out.hall = std::move(halls);
  out.watts.resize(static_cast<size_t>(dims[0] * dims[1]));
  if (!out.watts.empty())
    r.check(H5Dread(watts.get(), H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, out.watts.data()),
            "cannot read /power/rack_power");
  return out;
}

std::vector<std::string> ResultsReader::job_names() const {
  const Impl& r = *impl_;
  h5::QuietErrors quiet;
  if (!r.exists("/jobs")) return {};
  Handle group(r.check_id(H5Gopen2(r.file.get(), "/jobs", H5P_DEFAULT), "cannot open /jobs"), H5Gclose);
  const htri_t has_names = H5Aexists(group.get(), "names");
  r.check(has_names, "cannot inspect /jobs");
  if (has_names == 0) return {};
  return r.read_string_list_attribute(group.get(), "names");
}

size_t ResultsReader::job_step_count() const {
  h5::QuietErrors quiet;
  if (!impl_->exists("/jobs/steps")) return 0;
  return impl_->rows(impl_->open_dataset("/jobs/steps"), "/jobs/steps");
}

void ResultsReader::for_each_job_step_chunk(const std::function<void(const std::vector<JobStepRecord>&)>& visit,
                                            size_t rows_per_chunk) const {
  {
    h5::QuietErrors quiet;
    if (!impl_->exists("/jobs/steps")) return;
  }
  Handle mem_type = h5::job_step_type(false);
  impl_->for_each_chunk<JobStepRecord>("/jobs/steps", mem_type, JOB_STEP_COLUMNS, rows_per_chunk, visit);
}

std::vector<JobStepRecord> ResultsReader::job_steps() const {
  std::vector<JobStepRecord> all;
  for_each_job_step_chunk(
      [&](const std::vector<JobStepRecord>& chunk) { all.insert(all.end(), chunk.begin(), chunk.end()); });
  return all;
}

std::vector<SeriesSpec> ResultsReader::series() const {
  const Impl& r = *impl_;
  h5::QuietErrors quiet;
  std::vector<SeriesSpec> specs;
  if (!r.exists("/timeseries")) return specs;
  Handle group(r.check_id(H5Gopen2(r.file.get(), "/timeseries", H5P_DEFAULT), "cannot open /timeseries"), H5Gclose);
  const htri_t has_list = H5Aexists(group.get(), "series");
  r.check(has_list, "cannot inspect /timeseries");
  if (has_list == 0) return specs;  // no define_series call
  for (const auto& name : r.read_string_list_attribute(group.get(), "series")) {
    const std::string dataset = "/timeseries/" + name;
    if (!r.exists(dataset)) r.fail("series '" + name + "' is listed in /timeseries but has no dataset");
    specs.push_back({name, r.dataset_attribute(dataset, "unit"), r.dataset_attribute(dataset, "description")});
  }
  return specs;
}

std::vector<double> ResultsReader::series_time() const { return impl_->read_doubles("/timeseries/time"); }

std::vector<double> ResultsReader::series_values(const std::string& name) const {
  const auto specs = series();
  const bool known = std::any_of(specs.begin(), specs.end(), [&](const SeriesSpec& spec) { return spec.name == name; });
  if (!known) throw ResultsError(impl_->path + ": no time series named '" + name + "'");
  return impl_->read_doubles("/timeseries/" + name);
}

std::vector<SummaryEntry> ResultsReader::summary() const {
  const Impl& r = *impl_;
  h5::QuietErrors quiet;
  std::vector<SummaryEntry> entries;
  if (!r.exists("/summary")) return entries;
  Handle dataset = r.open_dataset("/summary");
  r.require_columns(dataset, "/summary", SUMMARY_COLUMNS);
  Handle mem_type = h5::summary_type(false);
  std::vector<h5::SummaryRow> rows(r.rows(dataset, "/summary"), h5::SummaryRow{nullptr, 0.0, nullptr});
  r.read_rows(dataset, mem_type.get(), 0, rows.size(), rows.data(), "/summary");
  for (const auto& row : rows) entries.push_back({row.name ? row.name : "", row.value, row.unit ? row.unit : ""});
  h5::reclaim(mem_type.get(), rows.size(), rows.data());
  return entries;
}

std::optional<double> ResultsReader::summary_value(const std::string& name) const {
  for (const auto& entry : summary()) {
    if (entry.name == name) return entry.value;
  }
  return std::nullopt;
}

std::optional<uint64_t> ResultsReader::stored_fingerprint() const {
  const auto attributes = meta();
  const auto found = attributes.find("fingerprint");
  if (found == attributes.end()) return std::nullopt;
  try {
    return parse_fingerprint_hex(found->second);
  } catch (const std::invalid_argument&) {
    throw ResultsError(impl_->path + ": /meta fingerprint '" + found->second + "' is not 16 hex digits");
  }
}

uint64_t ResultsReader::compute_fingerprint() const {
  Fingerprint fingerprint;
  for_each_request_chunk([&](const std::vector<RequestRecord>& chunk) {
    for (const auto& record : chunk) fingerprint.add(record);
  });
  for (const auto& event : events()) fingerprint.add(event);
  return fingerprint.value();
}

}  // namespace aif::analysis
