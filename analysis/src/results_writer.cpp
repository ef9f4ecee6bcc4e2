#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <stdexcept>
#include <system_error>

#include "aif/analysis/fingerprint.hpp"
#include "aif/analysis/results.hpp"
#include "results_h5.hpp"

namespace aif::analysis {

using h5::check;
using h5::check_id;
using h5::Handle;

namespace {

// Size of one HDF5 chunk on disk. Chunks are allocated whole, so a small run would otherwise pay
// chunk_rows rows per dataset (65536 rows x 100 series = 50 MB); 64 KiB keeps small files small and
// large ones at a few thousand chunks per dataset.
constexpr size_t TARGET_CHUNK_BYTES = 64 * 1024;

const char* const RESERVED_META[] = {"format", "format_version", "fingerprint"};

bool is_valid_series_name(const std::string& name) {
  return !name.empty() && name != "time" && name != "." && name.find('/') == std::string::npos &&
         name.find('\0') == std::string::npos;
}

}  // namespace

struct ResultsWriter::Impl {
  std::string path;
  std::string tmp_path;
  size_t chunk_rows;
  int deflate_level;
  bool finished = false;
  bool series_defined = false;
  bool sampled = false;
  bool jobs_defined = false;
  bool links_set = false;
  std::optional<RackPowerSeries> rack_power;
  std::vector<LinkUsageRecord> busiest_links;

  Handle file;
  Handle meta_group;
  Handle timeseries_group;
  Handle requests;
  Handle events;
  Handle iterations;
  Handle jobs_group;
  Handle job_steps;
  Handle time;
  std::vector<Handle> series;
  hsize_t request_rows = 0;
  hsize_t event_rows = 0;
  hsize_t iteration_rows = 0;
  hsize_t job_step_rows = 0;
  hsize_t sample_rows = 0;

  Handle request_mem_type = h5::request_type(false);
  Handle event_mem_type = h5::event_type(false);
  Handle iteration_mem_type = h5::iteration_type(false);
  Handle job_step_mem_type = h5::job_step_type(false);
  Handle summary_mem_type = h5::summary_type(false);
  Handle text_type = h5::string_type();

  std::vector<RequestRecord> request_buffer;
  std::vector<EventRecord> event_buffer;
  std::vector<IterationRecord> iteration_buffer;
  std::vector<JobStepRecord> job_step_buffer;
  std::vector<double> time_buffer;
  std::vector<std::vector<double>> series_buffers;  // one column per series

  Fingerprint fingerprint;

  [[noreturn]] void fail(const std::string& what) const { h5::fail(tmp_path, what); }
  hid_t check_id(hid_t id, const std::string& what) const { return h5::check_id(id, tmp_path, what); }
  void check(herr_t status, const std::string& what) const { h5::check(status, tmp_path, what); }

  void require_open(const char* call) const {
    if (finished) throw std::logic_error(std::string("ResultsWriter::") + call + " after finish() on " + path);
  }

  Handle group_creation_properties() const {
    Handle gcpl(check_id(H5Pcreate(H5P_GROUP_CREATE), "H5Pcreate"), H5Pclose);
    check(H5Pset_obj_track_times(gcpl.get(), false), "H5Pset_obj_track_times");
    return gcpl;
  }

  Handle create_group(hid_t parent, const char* name) const {
    Handle gcpl = group_creation_properties();
    return Handle(check_id(H5Gcreate2(parent, name, H5P_DEFAULT, gcpl.get(), H5P_DEFAULT),
                           std::string("cannot create group ") + name),
                  H5Gclose);
  }

  // A 1-D dataset of `file_type`, empty, extendible without limit, chunked.
  Handle create_table(hid_t parent, const std::string& name, hid_t file_type, size_t max_chunk_rows) const {
    const size_t row_bytes = std::max<size_t>(1, H5Tget_size(file_type));
    const hsize_t chunk = std::clamp<size_t>(TARGET_CHUNK_BYTES / row_bytes, 1, std::max<size_t>(1, max_chunk_rows));
    const hsize_t dims = 0;
    const hsize_t max_dims = H5S_UNLIMITED;
    Handle space(check_id(H5Screate_simple(1, &dims, &max_dims), "H5Screate_simple"), H5Sclose);
    Handle dcpl(check_id(H5Pcreate(H5P_DATASET_CREATE), "H5Pcreate"), H5Pclose);
    check(H5Pset_chunk(dcpl.get(), 1, &chunk), "H5Pset_chunk");
    check(H5Pset_obj_track_times(dcpl.get(), false), "H5Pset_obj_track_times");
    if (deflate_level > 0) {
      check(H5Pset_shuffle(dcpl.get()), "H5Pset_shuffle");
      check(H5Pset_deflate(dcpl.get(), static_cast<unsigned>(deflate_level)), "H5Pset_deflate");
    }
    return Handle(
        check_id(H5Dcreate2(parent, name.c_str(), file_type, space.get(), H5P_DEFAULT, dcpl.get(), H5P_DEFAULT),
                 "cannot create dataset " + name),
        H5Dclose);
  }

  void append(const Handle& dataset, hsize_t& rows, hid_t mem_type, const void* data, size_t count,
              const char* name) const {
    if (count == 0) return;
    const hsize_t new_rows = rows + count;
    check(H5Dset_extent(dataset.get(), &new_rows), std::string("cannot extend ") + name);
    Handle file_space(check_id(H5Dget_space(dataset.get()), "H5Dget_space"), H5Sclose);
    const hsize_t start = rows;
    const hsize_t block = count;
    check(H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, &start, nullptr, &block, nullptr),
          "H5Sselect_hyperslab");
    Handle mem_space(check_id(H5Screate_simple(1, &block, nullptr), "H5Screate_simple"), H5Sclose);
    check(H5Dwrite(dataset.get(), mem_type, mem_space.get(), file_space.get(), H5P_DEFAULT, data),
          std::string("cannot write ") + name);
    rows = new_rows;
  }

  void write_string_attribute(hid_t object, const std::string& name, const std::string& value) const {
    const htri_t exists = H5Aexists(object, name.c_str());
    check(exists, "H5Aexists " + name);
    if (exists > 0) check(H5Adelete(object, name.c_str()), "cannot replace attribute " + name);
    Handle space(check_id(H5Screate(H5S_SCALAR), "H5Screate"), H5Sclose);
    Handle attribute(check_id(H5Acreate2(object, name.c_str(), text_type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT),
                              "cannot create attribute " + name),
                     H5Aclose);
    const char* data = value.c_str();
    check(H5Awrite(attribute.get(), text_type.get(), &data), "cannot write attribute " + name);
  }

  void write_string_list_attribute(hid_t object, const std::string& name,
                                   const std::vector<std::string>& values) const {
    std::vector<const char*> data;
    data.reserve(values.size());
    for (const auto& value : values) data.push_back(value.c_str());
    const hsize_t dims = values.size();
    Handle space(check_id(H5Screate_simple(1, &dims, nullptr), "H5Screate_simple"), H5Sclose);
    Handle attribute(check_id(H5Acreate2(object, name.c_str(), text_type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT),
                              "cannot create attribute " + name),
                     H5Aclose);
    if (!data.empty()) check(H5Awrite(attribute.get(), text_type.get(), data.data()), "cannot write attribute " + name);
  }

  void flush_requests() {
    append(requests, request_rows, request_mem_type.get(), request_buffer.data(), request_buffer.size(), "/requests");
    request_buffer.clear();
  }

  void flush_events() {
    std::vector<h5::EventRow> rows;
    rows.reserve(event_buffer.size());
    for (const auto& event : event_buffer) {
      rows.push_back({event.time_s, event.kind.c_str(), event.target.c_str(), event.detail.c_str()});
    }
    append(events, event_rows, event_mem_type.get(), rows.data(), rows.size(), "/events");
    event_buffer.clear();
  }

  void flush_iterations() {
    append(iterations, iteration_rows, iteration_mem_type.get(), iteration_buffer.data(), iteration_buffer.size(),
           "/iterations");
    iteration_buffer.clear();
  }

  void flush_job_steps() {
    append(job_steps, job_step_rows, job_step_mem_type.get(), job_step_buffer.data(), job_step_buffer.size(),
           "/jobs/steps");
    job_step_buffer.clear();
  }

  void flush_samples() {
    const hsize_t before = sample_rows;
    append(time, sample_rows, H5T_NATIVE_DOUBLE, time_buffer.data(), time_buffer.size(), "/timeseries/time");
    for (size_t i = 0; i < series.size(); ++i) {
      hsize_t rows = before;
      append(series[i], rows, H5T_NATIVE_DOUBLE, series_buffers[i].data(), series_buffers[i].size(),
             "/timeseries series");
      series_buffers[i].clear();
    }
    time_buffer.clear();
  }

  void flush_all() {
    flush_requests();
    flush_events();
    flush_iterations();
    flush_job_steps();
    flush_samples();
  }

  // /links/busiest (one row per link half) and /links/busiest_util (samples x links, row i at /timeseries/time[i]).
  void write_links() {
    if (!links_set) return;
    for (const LinkUsageRecord& l : busiest_links)
      if (l.util.size() != sample_rows)
        throw std::invalid_argument("ResultsWriter: link " + l.name + " has " + std::to_string(l.util.size()) +
                                    " utilization values for " + std::to_string(sample_rows) + " samples");
    Handle group = create_group(file.get(), "links");
    Handle file_type = h5::link_usage_type(true);
    Handle mem_type = h5::link_usage_type(false);
    Handle table = create_table(group.get(), "busiest", file_type.get(), std::max<size_t>(1, busiest_links.size()));
    std::vector<h5::LinkUsageRow> rows;
    for (const LinkUsageRecord& l : busiest_links)
      rows.push_back({l.name.c_str(), l.tier.c_str(), l.bandwidth, l.bytes, l.mean_util, l.peak_util});
    hsize_t n = 0;
    append(table, n, mem_type.get(), rows.data(), rows.size(), "/links/busiest");
    const hsize_t dims[2] = {sample_rows, static_cast<hsize_t>(busiest_links.size())};
    Handle space(check_id(H5Screate_simple(2, dims, nullptr), "H5Screate_simple"), H5Sclose);
    Handle dcpl(check_id(H5Pcreate(H5P_DATASET_CREATE), "H5Pcreate"), H5Pclose);
    check(H5Pset_obj_track_times(dcpl.get(), false), "H5Pset_obj_track_times");
    Handle util(check_id(H5Dcreate2(group.get(), "busiest_util", H5T_IEEE_F64LE, space.get(), H5P_DEFAULT, dcpl.get(),
                                    H5P_DEFAULT),
                         "cannot create dataset /links/busiest_util"),
                H5Dclose);
    std::vector<double> matrix(static_cast<size_t>(dims[0] * dims[1]));
    for (size_t j = 0; j < busiest_links.size(); ++j)
      for (size_t i = 0; i < sample_rows; ++i) matrix[i * busiest_links.size() + j] = busiest_links[j].util[i];
    if (!matrix.empty())
      check(H5Dwrite(util.get(), H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, matrix.data()),
            "cannot write /links/busiest_util");
    write_string_attribute(util.get(), "unit", "1");
    if (!util.close() || !table.close() || !group.close()) fail("cannot close /links");
  }

  // /power/rack_hall (int32 [racks]) and /power/rack_power (float32 [samples x racks], W, deflated in row chunks).
  void write_rack_power() {
    if (!rack_power) return;
    const RackPowerSeries& rp = *rack_power;
    if (rp.watts.size() != sample_rows * rp.racks())
      throw std::invalid_argument("ResultsWriter: rack power has " + std::to_string(rp.watts.size()) + " values for " +
                                  std::to_string(sample_rows) + " samples x " + std::to_string(rp.racks()) + " racks");
    Handle group = create_group(file.get(), "power");
    const hsize_t racks = std::max<hsize_t>(1, rp.racks());
    Handle hall_space(check_id(H5Screate_simple(1, &racks, nullptr), "H5Screate_simple"), H5Sclose);
    Handle hall(check_id(H5Dcreate2(group.get(), "rack_hall", H5T_STD_I32LE, hall_space.get(), H5P_DEFAULT,
                                    H5P_DEFAULT, H5P_DEFAULT),
                         "cannot create dataset /power/rack_hall"),
                H5Dclose);
    std::vector<int32_t> halls = rp.hall;
    halls.resize(static_cast<size_t>(racks), -1);
    check(H5Dwrite(hall.get(), H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, halls.data()),
          "cannot write /power/rack_hall");
    const hsize_t dims[2] = {sample_rows, static_cast<hsize_t>(rp.racks())};
    Handle space(check_id(H5Screate_simple(2, dims, nullptr), "H5Screate_simple"), H5Sclose);
    Handle dcpl(check_id(H5Pcreate(H5P_DATASET_CREATE), "H5Pcreate"), H5Pclose);
    check(H5Pset_obj_track_times(dcpl.get(), false), "H5Pset_obj_track_times");
    if (dims[0] > 0 && dims[1] > 0) {
      const hsize_t chunk[2] = {std::min<hsize_t>(dims[0], std::max<hsize_t>(1, 65536 / dims[1])), dims[1]};
      check(H5Pset_chunk(dcpl.get(), 2, chunk), "H5Pset_chunk");
      check(H5Pset_deflate(dcpl.get(), 4), "H5Pset_deflate");
    }
    Handle watts(check_id(H5Dcreate2(group.get(), "rack_power", H5T_IEEE_F32LE, space.get(), H5P_DEFAULT, dcpl.get(),
                                     H5P_DEFAULT),
                          "cannot create dataset /power/rack_power"),
                 H5Dclose);
    if (!rp.watts.empty())
      check(H5Dwrite(watts.get(), H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, rp.watts.data()),
            "cannot write /power/rack_power");
    write_string_attribute(watts.get(), "unit", "W");
    write_string_attribute(hall.get(), "racks", std::to_string(rp.racks()));
    if (!watts.close() || !hall.close() || !group.close()) fail("cannot close /power");
  }

  void write_summary(const std::vector<SummaryEntry>& summary) {
    Handle file_type = h5::summary_type(true);
    Handle dataset = create_table(file.get(), "summary", file_type.get(), std::max<size_t>(1, summary.size()));
    std::vector<h5::SummaryRow> rows;
    rows.reserve(summary.size());
    for (const auto& entry : summary) rows.push_back({entry.name.c_str(), entry.value, entry.unit.c_str()});
    hsize_t summary_rows = 0;
    append(dataset, summary_rows, summary_mem_type.get(), rows.data(), rows.size(), "/summary");
    if (!dataset.close()) fail("cannot close /summary");
  }

  // Closes every open object, the file last; false when any close failed (e.g. a final flush).
  bool close_all() {
    bool ok = true;
    for (auto& handle : series) ok = handle.close() && ok;
    ok = time.close() && ok;
    ok = iterations.close() && ok;
    ok = job_steps.close() && ok;
    ok = jobs_group.close() && ok;
    ok = events.close() && ok;
    ok = requests.close() && ok;
    ok = timeseries_group.close() && ok;
    ok = meta_group.close() && ok;
    ok = file.close() && ok;
    return ok;
  }
};

ResultsWriter::ResultsWriter(const std::string& path, size_t chunk_rows, int deflate_level)
    : impl_(std::make_unique<Impl>()) {
  if (chunk_rows == 0) throw std::invalid_argument("ResultsWriter: chunk_rows must be at least 1");
  if (deflate_level < 0 || deflate_level > 9) {
    throw std::invalid_argument("ResultsWriter: deflate_level must be 0 (off) to 9, got " +
                                std::to_string(deflate_level));
  }
  Impl& w = *impl_;
  w.path = path;
  w.tmp_path = path + ".tmp";
  w.chunk_rows = chunk_rows;
  w.deflate_level = deflate_level;

  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) {
    std::error_code error;
    std::filesystem::create_directories(parent, error);
    if (error) throw ResultsError(path + ": cannot create directory " + parent.string() + ": " + error.message());
  }

  h5::QuietErrors quiet;
  Handle fcpl(w.check_id(H5Pcreate(H5P_FILE_CREATE), "H5Pcreate"), H5Pclose);
  // The file-creation list also creates the root group: keep timestamps out of it too.
  w.check(H5Pset_obj_track_times(fcpl.get(), false), "H5Pset_obj_track_times");
  // The user block that finish() fills with the checksum (RESULTS_CHECKSUM_BLOCK).
  w.check(H5Pset_userblock(fcpl.get(), RESULTS_CHECKSUM_BLOCK), "H5Pset_userblock");
  w.file =
      Handle(w.check_id(H5Fcreate(w.tmp_path.c_str(), H5F_ACC_TRUNC, fcpl.get(), H5P_DEFAULT), "cannot create file"),
             H5Fclose);

  w.meta_group = w.create_group(w.file.get(), "meta");
  w.write_string_attribute(w.meta_group.get(), "format", RESULTS_FORMAT_NAME);
  w.write_string_attribute(w.meta_group.get(), "format_version", std::to_string(RESULTS_FORMAT_VERSION));

  Handle request_file_type = h5::request_type(true);
  Handle event_file_type = h5::event_type(true);
  Handle iteration_file_type = h5::iteration_type(true);
  w.requests = w.create_table(w.file.get(), "requests", request_file_type.get(), chunk_rows);
  w.events = w.create_table(w.file.get(), "events", event_file_type.get(), chunk_rows);
  w.iterations = w.create_table(w.file.get(), "iterations", iteration_file_type.get(), chunk_rows);
  Handle job_step_file_type = h5::job_step_type(true);
  w.jobs_group = w.create_group(w.file.get(), "jobs");
  w.job_steps = w.create_table(w.jobs_group.get(), "steps", job_step_file_type.get(), chunk_rows);
  w.timeseries_group = w.create_group(w.file.get(), "timeseries");
  w.time = w.create_table(w.timeseries_group.get(), "time", H5T_IEEE_F64LE, chunk_rows);
  w.write_string_attribute(w.time.get(), "unit", "s");
  w.write_string_attribute(w.time.get(), "description", "sample time since the start of the run");
}

ResultsWriter::~ResultsWriter() {
  if (!impl_ || impl_->finished) return;
  // Abandoned (exception, early return): leave no file that could look complete.
  h5::QuietErrors quiet;
  impl_->close_all();
  std::remove(impl_->tmp_path.c_str());
}

ResultsWriter::ResultsWriter(ResultsWriter&&) noexcept = default;
ResultsWriter& ResultsWriter::operator=(ResultsWriter&& other) noexcept {
  if (this != &other) {
    ResultsWriter discard(std::move(*this));  // abandons what this writer held, as its destructor would
    impl_ = std::move(other.impl_);
  }
  return *this;
}

void ResultsWriter::write_meta(const std::vector<std::pair<std::string, std::string>>& attributes) {
  impl_->require_open("write_meta");
  for (const auto& [name, value] : attributes) {
    for (const char* reserved : RESERVED_META) {
      if (name == reserved)
        throw std::invalid_argument("ResultsWriter::write_meta: attribute name '" + name + "' is reserved");
    }
    if (name.empty() || name.find('\0') != std::string::npos) {
      throw std::invalid_argument("ResultsWriter::write_meta: invalid attribute name '" + name + "'");
    }
  }
  h5::QuietErrors quiet;
  for (const auto& [name, value] : attributes) impl_->write_string_attribute(impl_->meta_group.get(), name, value);
}

void ResultsWriter::add_request(const RequestRecord& record) {
  Impl& w = *impl_;
  w.require_open("add_request");
  w.fingerprint.add(record);
  w.request_buffer.push_back(record);
  if (w.request_buffer.size() >= w.chunk_rows) {
    h5::QuietErrors quiet;
    w.flush_requests();
  }
}

void ResultsWriter::add_event(const EventRecord& record) {
  Impl& w = *impl_;
  w.require_open("add_event");
  w.fingerprint.add(record);
  w.event_buffer.push_back(record);
  if (w.event_buffer.size() >= w.chunk_rows) {
    h5::QuietErrors quiet;
    w.flush_events();
  }
}

void ResultsWriter::add_iteration(const IterationRecord& record) {
  Impl& w = *impl_;
  w.require_open("add_iteration");
  w.iteration_buffer.push_back(record);
  if (w.iteration_buffer.size() >= w.chunk_rows) {
    h5::QuietErrors quiet;
    w.flush_iterations();
  }
}

void ResultsWriter::define_jobs(const std::vector<std::string>& names) {
  Impl& w = *impl_;
  w.require_open("define_jobs");
  if (w.jobs_defined) throw std::logic_error("ResultsWriter::define_jobs called twice on " + w.path);
  h5::QuietErrors quiet;
  w.write_string_list_attribute(w.jobs_group.get(), "names", names);
  w.jobs_defined = true;
}

void ResultsWriter::add_job_step(const JobStepRecord& record) {
  Impl& w = *impl_;
  w.require_open("add_job_step");
  w.job_step_buffer.push_back(record);
  if (w.job_step_buffer.size() >= w.chunk_rows) {
    h5::QuietErrors quiet;
    w.flush_job_steps();
  }
}

void ResultsWriter::define_series(const std::vector<SeriesSpec>& series) {
  Impl& w = *impl_;
  w.require_open("define_series");
  if (w.series_defined) throw std::logic_error("ResultsWriter::define_series called twice on " + w.path);
  if (w.sampled) throw std::logic_error("ResultsWriter::define_series after the first add_sample on " + w.path);
  std::vector<std::string> names;
  for (const auto& spec : series) {
    if (!is_valid_series_name(spec.name)) {
      throw std::invalid_argument("ResultsWriter::define_series: invalid series name '" + spec.name +
                                  "' (non-empty, no '/', not 'time')");
    }
    if (std::find(names.begin(), names.end(), spec.name) != names.end()) {
      throw std::invalid_argument("ResultsWriter::define_series: duplicate series name '" + spec.name + "'");
    }
    names.push_back(spec.name);
  }
  h5::QuietErrors quiet;
  for (const auto& spec : series) {
    Handle dataset = w.create_table(w.timeseries_group.get(), spec.name, H5T_IEEE_F64LE, w.chunk_rows);
    w.write_string_attribute(dataset.get(), "unit", spec.unit);
    w.write_string_attribute(dataset.get(), "description", spec.description);
    w.series.push_back(std::move(dataset));
  }
  // Group members list alphabetically in HDF5; this attribute keeps the definition order.
  w.write_string_list_attribute(w.timeseries_group.get(), "series", names);
  w.series_buffers.assign(series.size(), {});
  w.series_defined = true;
}

void ResultsWriter::add_sample(double time_s, const std::vector<double>& values) {
  Impl& w = *impl_;
  w.require_open("add_sample");
  if (values.size() != w.series.size()) {
    throw std::invalid_argument("ResultsWriter::add_sample: " + std::to_string(values.size()) + " values for " +
                                std::to_string(w.series.size()) + " defined series");
  }
  w.sampled = true;
  w.time_buffer.push_back(time_s);
  for (size_t i = 0; i < values.size(); ++i) w.series_buffers[i].push_back(values[i]);
  if (w.time_buffer.size() >= w.chunk_rows) {
    h5::QuietErrors quiet;
    w.flush_samples();
  }
}

uint64_t ResultsWriter::fingerprint() const { return impl_->fingerprint.value(); }

size_t ResultsWriter::buffered_rows() const {
  const Impl& w = *impl_;
  return std::max({w.request_buffer.size(), w.event_buffer.size(), w.iteration_buffer.size(), w.job_step_buffer.size(),
                   w.time_buffer.size()});
}

size_t ResultsWriter::chunk_rows() const { return impl_->chunk_rows; }

const std::string& ResultsWriter::path() const { return impl_->path; }

void ResultsWriter::set_busiest_links(std::vector<LinkUsageRecord> links) {
  Impl& w = *impl_;
  w.require_open("set_busiest_links");
  if (w.links_set) throw std::logic_error("ResultsWriter::set_busiest_links called twice on " + w.path);
  w.busiest_links = std::move(links);
  w.links_set = true;
}

void ResultsWriter::set_rack_power(RackPowerSeries racks) {
  Impl& w = *impl_;
  w.require_open("set_rack_power");
  if (w.rack_power) throw std::logic_error("ResultsWriter::set_rack_power called twice on " + w.path);
  w.rack_power = std::move(racks);
}

void ResultsWriter::finish(const std::vector<SummaryEntry>& summary) {
  Impl& w = *impl_;
  w.require_open("finish");
  {
    h5::QuietErrors quiet;
    w.flush_all();
    w.write_links();
    w.write_rack_power();
    w.write_summary(summary);
    w.write_string_attribute(w.meta_group.get(), "fingerprint", fingerprint_hex(w.fingerprint.value()));
    w.check(H5Fflush(w.file.get(), H5F_SCOPE_GLOBAL), "cannot flush");
    if (!w.close_all()) w.fail("cannot close");
  }
  stamp_results_checksum(w.tmp_path);
  if (std::rename(w.tmp_path.c_str(), w.path.c_str()) != 0) {
    const std::error_code error(errno, std::generic_category());
    throw ResultsError(w.path + ": cannot rename " + w.tmp_path + " to it: " + error.message());
  }
  w.finished = true;
}

}  // namespace aif::analysis
