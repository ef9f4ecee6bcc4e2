#include "aif/analysis/sweep_table.hpp"

#include <cmath>
#include <cstdio>
#include <limits>
#include <string>

#include "aif/analysis/results.hpp"
#include "results_h5.hpp"

namespace aif::analysis {

namespace {

using h5::Handle;

Handle create_group(const std::string& file, hid_t parent, const std::string& name) {
  return Handle(h5::check_id(H5Gcreate2(parent, name.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), file,
                             "cannot create group " + name),
                H5Gclose);
}

void write_string_attribute(const std::string& file, hid_t object, const std::string& name, const std::string& value) {
  Handle type = h5::string_type();
  Handle space(h5::check_id(H5Screate(H5S_SCALAR), file, "H5Screate"), H5Sclose);
  Handle attr(h5::check_id(H5Acreate2(object, name.c_str(), type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT), file,
                           "cannot create attribute " + name),
              H5Aclose);
  const char* text = value.c_str();
  h5::check(H5Awrite(attr.get(), type.get(), &text), file, "cannot write attribute " + name);
}

std::string read_string_attribute(const std::string& file, hid_t object, const std::string& name) {
  Handle attr(h5::check_id(H5Aopen(object, name.c_str(), H5P_DEFAULT), file, "no attribute " + name), H5Aclose);
  Handle type = h5::string_type();
  char* text = nullptr;
  h5::check(H5Aread(attr.get(), type.get(), &text), file, "cannot read attribute " + name);
  std::string out = text ? text : "";
  H5free_memory(text);
  return out;
}

void write_strings(const std::string& file, hid_t group, const std::string& name, const std::vector<std::string>& v) {
  const hsize_t n = v.size();
  Handle type = h5::string_type();
  Handle space(h5::check_id(H5Screate_simple(1, &n, nullptr), file, "H5Screate_simple"), H5Sclose);
  Handle set(h5::check_id(H5Dcreate2(group, name.c_str(), type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
                          file, "cannot create dataset " + name),
             H5Dclose);
  std::vector<const char*> p;
  for (const auto& s : v) p.push_back(s.c_str());
  if (n > 0) h5::check(H5Dwrite(set.get(), type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, p.data()), file, "cannot write " + name);
}

template <class T>
void write_numbers(const std::string& file, hid_t group, const std::string& name, hid_t file_type, hid_t mem_type,
                   const std::vector<T>& v) {
  const hsize_t n = v.size();
  Handle space(h5::check_id(H5Screate_simple(1, &n, nullptr), file, "H5Screate_simple"), H5Sclose);
  Handle set(h5::check_id(H5Dcreate2(group, name.c_str(), file_type, space.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
                          file, "cannot create dataset " + name),
             H5Dclose);
  if (n > 0) h5::check(H5Dwrite(set.get(), mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data()), file, "cannot write " + name);
}

size_t length_of(const std::string& file, hid_t set, const std::string& name) {
  Handle space(h5::check_id(H5Dget_space(set), file, "cannot read " + name), H5Sclose);
  hsize_t n = 0;
  if (H5Sget_simple_extent_ndims(space.get()) != 1 || H5Sget_simple_extent_dims(space.get(), &n, nullptr) != 1)
    h5::fail(file, name + " is not a column");
  return static_cast<size_t>(n);
}

std::vector<std::string> read_strings(const std::string& file, hid_t group, const std::string& name) {
  Handle set(h5::check_id(H5Dopen2(group, name.c_str(), H5P_DEFAULT), file, "no dataset " + name), H5Dclose);
  const size_t n = length_of(file, set.get(), name);
  Handle type = h5::string_type();
  std::vector<char*> p(n, nullptr);
  if (n > 0) h5::check(H5Dread(set.get(), type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, p.data()), file, "cannot read " + name);
  std::vector<std::string> out;
  for (char* s : p) out.emplace_back(s ? s : "");
  h5::reclaim(type.get(), n, p.data());
  return out;
}

template <class T>
std::vector<T> read_numbers(const std::string& file, hid_t group, const std::string& name, hid_t mem_type) {
  Handle set(h5::check_id(H5Dopen2(group, name.c_str(), H5P_DEFAULT), file, "no dataset " + name), H5Dclose);
  std::vector<T> out(length_of(file, set.get(), name));
  if (!out.empty())
    h5::check(H5Dread(set.get(), mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data()), file, "cannot read " + name);
  return out;
}

}  // namespace

void write_sweep_table(const std::string& path, const SweepTable& t) {
  h5::QuietErrors quiet;
  const std::string tmp = path + ".tmp";
  {
    Handle file(h5::check_id(H5Fcreate(tmp.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), path, "cannot create"),
                H5Fclose);
    Handle points = create_group(path, file.get(), "points");
    write_strings(path, points.get(), "id", t.ids);
    write_strings(path, points.get(), "status", t.statuses);
    write_numbers(path, points.get(), "seed", H5T_STD_U64LE, H5T_NATIVE_UINT64, t.seeds);
    Handle axes = create_group(path, points.get(), "axes");
    for (size_t i = 0; i < t.axes.size(); ++i) {
      const std::string name = std::to_string(i);
      write_strings(path, axes.get(), name, t.axes[i].second);
      Handle set(h5::check_id(H5Dopen2(axes.get(), name.c_str(), H5P_DEFAULT), path, "open"), H5Dclose);
      write_string_attribute(path, set.get(), "key", t.axes[i].first);
    }
    Handle metrics = create_group(path, points.get(), "metrics");
    for (const std::string& m : t.metrics) {
      write_numbers(path, metrics.get(), m, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, t.values.at(m));
      Handle set(h5::check_id(H5Dopen2(metrics.get(), m.c_str(), H5P_DEFAULT), path, "open"), H5Dclose);
      const auto unit = t.units.find(m);
      write_string_attribute(path, set.get(), "unit", unit == t.units.end() ? "" : unit->second);
    }
    if (!metrics.close() || !axes.close() || !points.close() || !file.close()) h5::fail(path, "cannot close");
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) throw ResultsError(path + ": cannot rename " + tmp + " to it");
}

SweepTable read_sweep_table(const std::string& path) {
  h5::QuietErrors quiet;
  SweepTable t;
  Handle file(h5::check_id(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), path, "cannot open"), H5Fclose);
  Handle points(h5::check_id(H5Gopen2(file.get(), "points", H5P_DEFAULT), path, "no /points"), H5Gclose);
  t.ids = read_strings(path, points.get(), "id");
  t.statuses = read_strings(path, points.get(), "status");
  t.seeds = read_numbers<uint64_t>(path, points.get(), "seed", H5T_NATIVE_UINT64);
  Handle axes(h5::check_id(H5Gopen2(points.get(), "axes", H5P_DEFAULT), path, "no /points/axes"), H5Gclose);
  H5G_info_t info{};
  h5::check(H5Gget_info(axes.get(), &info), path, "cannot read /points/axes");
  for (hsize_t i = 0; i < info.nlinks; ++i) {
    const std::string name = std::to_string(i);
    Handle set(h5::check_id(H5Dopen2(axes.get(), name.c_str(), H5P_DEFAULT), path, "no axis " + name), H5Dclose);
    t.axes.emplace_back(read_string_attribute(path, set.get(), "key"), read_strings(path, axes.get(), name));
  }
  Handle metrics(h5::check_id(H5Gopen2(points.get(), "metrics", H5P_DEFAULT), path, "no /points/metrics"), H5Gclose);
  h5::check(H5Gget_info(metrics.get(), &info), path, "cannot read /points/metrics");
  for (hsize_t i = 0; i < info.nlinks; ++i) {  // in name order
    char name[512];
    if (H5Lget_name_by_idx(metrics.get(), ".", H5_INDEX_NAME, H5_ITER_INC, i, name, sizeof name, H5P_DEFAULT) < 0)
      h5::fail(path, "cannot list /points/metrics");
    t.metrics.emplace_back(name);
  }
  for (const std::string& m : t.metrics) {
    t.values[m] = read_numbers<double>(path, metrics.get(), m, H5T_NATIVE_DOUBLE);
    Handle set(h5::check_id(H5Dopen2(metrics.get(), m.c_str(), H5P_DEFAULT), path, "no metric " + m), H5Dclose);
    t.units[m] = read_string_attribute(path, set.get(), "unit");
  }
  return t;
}

}  // namespace aif::analysis
