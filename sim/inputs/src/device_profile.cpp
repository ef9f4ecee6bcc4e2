// GPU device profiles: the reader (with the project's error discipline: one ScenarioError per problem, naming the
// file, the line and the column) and the converter from public measurements (aifsim calibrate --from aiconfigurator).
#include "aif/inputs/device_profile.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <sstream>

#include "aif/inputs/input_error.hpp"
#include "aif/inputs/yaml_util.hpp"
#include "aif/inputs/annotated_csv.hpp"
#include "aif/inputs/csv_text.hpp"

namespace aif::sim {

namespace fs = std::filesystem;

namespace {

const std::vector<std::string> COLUMNS = {"op",     "variant", "dtype",    "gpus",     "m",     "n",      "k",    "batch",
                                          "tokens", "heads",   "kv_heads", "head_dim", "elements", "bytes", "seconds"};
const std::vector<std::string> ELEMENTWISE = {"rms_norm", "rope", "activation", "add", "embedding"};

// The fields each operator's rows fill (besides op and seconds); every other field stays empty.
const std::map<std::string, std::vector<std::string>>& fields_of() {
  static const std::map<std::string, std::vector<std::string>> F = [] {
    std::map<std::string, std::vector<std::string>> f = {
        {"gemm", {"dtype", "m", "n", "k"}},
        {"attn_prefill", {"dtype", "batch", "tokens", "heads", "kv_heads", "head_dim"}},
        {"attn_decode", {"dtype", "batch", "tokens", "heads", "kv_heads", "head_dim"}},
        {"allreduce", {"variant", "gpus", "bytes"}},
        {"p2p", {"variant", "bytes"}},
        // moe: variant tp|ep (how the experts are split over gpus), m tokens, n each expert's ffn, k hidden,
        // heads the routed experts, kv_heads the experts per token (docs/calibration-format.md).
        {"moe", {"variant", "dtype", "gpus", "m", "n", "k", "heads", "kv_heads"}},
        {"alltoall", {"variant", "gpus", "bytes"}},
    };
    for (const std::string& op : ELEMENTWISE) f[op] = {"elements"};
    return f;
  }();
  return F;
}

auto profile_reader(const std::string& path) {
  return csv::FieldReader([path](int line, const std::string& column, const std::string& message) {
    throw ScenarioError(path, line, column, message);
  });
}

// Points of one curve as they are read, with the line of each for duplicate messages.
struct Points {
  std::map<double, std::pair<double, int>> at;  // x -> (seconds, line)
};

models::KernelTables::Curve to_curve(const Points& p) {
  models::KernelTables::Curve c;
  for (const auto& [x, v] : p.at) c.x.push_back(x), c.seconds.push_back(v.first);
  return c;
}

}  // namespace

std::shared_ptr<const models::KernelTables> read_device_profile(const std::string& path) {
  const auto r = profile_reader(path);
  const csv::AnnotatedCsv t = csv::read_annotated_csv(
      path, r,
      {"device profile", DEVICE_PROFILE_FORMAT_VERSION, "the title line '# aifsim device profile, format_version 1'",
       "op,variant,dtype,gpus,m,n,k,batch,tokens,heads,kv_heads,head_dim,elements,bytes,seconds", COLUMNS});
  auto tables = std::make_shared<models::KernelTables>();
  // Named as a scenario would name it when it is the bundled one (results files then do not depend on where the
  // data folder is installed).
  const std::string bundled = data_dir() + "/calibration/";
  tables->source = path.rfind(bundled, 0) == 0 ? "data/calibration/" + path.substr(bundled.size()) : path;
  tables->header = t.header;
  const auto device = t.header.find("device");
  if (device == t.header.end() || device->second.empty())
    r.fail(1, "device", "the header has no '# device: <catalog key>' line (e.g. H100-SXM)");
  tables->device = device->second;

  std::map<std::string, std::map<std::pair<int, int>, Points>> gemm;
  std::map<models::KernelTables::HeadsKey, std::map<int, Points>> prefill, decode;
  std::map<std::pair<std::string, int>, Points> allreduce;
  std::map<std::string, Points> p2p, elementwise;
  std::map<models::KernelTables::MoeKey, Points> moe;
  std::map<int, Points> alltoall;
  const auto& ops = fields_of();
  std::vector<std::string> op_names;
  for (const auto& kv : ops) op_names.push_back(kv.first);

  for (const csv::AnnotatedCsv::Row& row : t.rows) {
    const int line = row.line;
    auto field = [&](const std::string& name) -> const std::string& { return t.field(row, name); };
    const std::string& op = field("op");
    const auto spec = ops.find(op);
    if (spec == ops.end())
      r.fail(line, "op", "unknown operator '" + op + "' (valid operators: " + yaml::join_or(op_names) + ")");
    for (const std::string& column : COLUMNS) {
      if (column == "op" || column == "seconds") continue;
      const bool used = std::find(spec->second.begin(), spec->second.end(), column) != spec->second.end();
      if (used && field(column).empty()) r.fail(line, column, "a " + op + " row needs a value here");
      if (!used && !field(column).empty())
        r.fail(line, column, "a " + op + " row leaves this field empty (it uses " + yaml::join_or(spec->second) + ")");
    }
    const double seconds = r.number(line, "seconds", field("seconds"), 0, true);
    auto integer = [&](const char* column) { return r.integer(line, column, field(column), 1); };
    auto dtype = [&](const std::vector<std::string>& valid) {
      const std::string& d = field("dtype");
      if (std::find(valid.begin(), valid.end(), d) == valid.end())
        r.fail(line, "dtype", "expected " + yaml::join_or(valid) + ", found '" + d + "'");
      return d;
    };
    auto variant = [&](const std::vector<std::string>& valid) {
      const std::string& v = field("variant");
      if (std::find(valid.begin(), valid.end(), v) == valid.end())
        r.fail(line, "variant", "expected " + yaml::join_or(valid) + ", found '" + v + "'");
      return v;
    };
    Points* points = nullptr;
    double x = 0;
    std::string what;
    if (op == "gemm") {
      const std::string d = dtype({"bf16", "fp8"});
      const int n = integer("n"), k = integer("k");
      x = integer("m");
      points = &gemm[d][{n, k}];
      what = "gemm " + d + " m=" + field("m") + " n=" + field("n") + " k=" + field("k");
    } else if (op == "attn_prefill" || op == "attn_decode") {
      models::KernelTables::HeadsKey key{dtype({"bf16", "fp8"}), integer("heads"), integer("kv_heads"),
                                         integer("head_dim")};
      if (key.heads % key.kv_heads != 0)
        r.fail(line, "kv_heads", "query heads (" + field("heads") + ") must be a multiple of the KV heads");
      const int batch = integer("batch");
      x = integer("tokens");
      points = &(op == "attn_prefill" ? prefill : decode)[key][batch];
      what = op + " batch=" + field("batch") + " tokens=" + field("tokens") + " heads=" + field("heads") + "/" +
             field("kv_heads");
    } else if (op == "allreduce") {
      const std::string v = variant({"graph", "eager", "nccl"});
      const int gpus = integer("gpus");
      if (gpus < 2) r.fail(line, "gpus", "an all-reduce needs at least 2 GPUs, found " + field("gpus"));
      x = r.number(line, "bytes", field("bytes"), 0, true);
      points = &allreduce[{v, gpus}];
      what = "allreduce " + v + " gpus=" + field("gpus") + " bytes=" + field("bytes");
    } else if (op == "moe") {
      const std::string v = variant({"tp", "ep"});
      models::KernelTables::MoeKey key{dtype({"bf16", "fp8"}), integer("k"), integer("n"), integer("heads"),
                                       integer("kv_heads"), 1, 1};
      (v == "tp" ? key.tp : key.ep) = integer("gpus");
      if (key.top_k > key.experts)
        r.fail(line, "kv_heads", "a moe row's experts per token (kv_heads " + field("kv_heads") +
                                     ") cannot exceed its experts (heads " + field("heads") + ")");
      if (v == "ep" && key.experts % key.ep != 0)
        r.fail(line, "gpus", "expert parallelism over " + field("gpus") + " GPUs does not divide the " +
                                 field("heads") + " experts");
      x = integer("m");
      points = &moe[key];
      what = "moe " + key.dtype + " " + v + field("gpus") + " tokens=" + field("m") + " ffn=" + field("n") +
             " experts=" + field("heads") + "/" + field("kv_heads");
    } else if (op == "alltoall") {
      variant({"nccl"});
      const int gpus = integer("gpus");
      if (gpus < 2) r.fail(line, "gpus", "an all-to-all needs at least 2 GPUs, found " + field("gpus"));
      x = r.number(line, "bytes", field("bytes"), 0, true);
      points = &alltoall[gpus];
      what = "alltoall gpus=" + field("gpus") + " bytes=" + field("bytes");
    } else if (op == "p2p") {
      const std::string v = variant({"intra", "inter"});
      x = r.number(line, "bytes", field("bytes"), 0, true);
      points = &p2p[v];
      what = "p2p " + v + " bytes=" + field("bytes");
    } else {
      x = r.number(line, "elements", field("elements"), 0, true);
      points = &elementwise[op];
      what = op + " elements=" + field("elements");
    }
    if (const auto [it, fresh] = points->at.emplace(x, std::make_pair(seconds, line)); !fresh)
      r.fail(line, "op", "duplicate point: " + what + " is already on line " + std::to_string(it->second.second));
  }
  for (const auto& [d, shapes] : gemm)
    for (const auto& [nk, p] : shapes) tables->gemm[d][nk] = to_curve(p);
  for (const auto& [key, rows] : prefill)
    for (const auto& [b, p] : rows) tables->prefill[key][b] = to_curve(p);
  for (const auto& [key, rows] : decode)
    for (const auto& [b, p] : rows) tables->decode[key][b] = to_curve(p);
  for (const auto& [key, p] : allreduce) tables->allreduce[key] = to_curve(p);
  for (const auto& [key, p] : p2p) tables->p2p[key] = to_curve(p);
  for (const auto& [key, p] : elementwise) tables->elementwise[key] = to_curve(p);
  for (const auto& [key, p] : moe) tables->moe[key] = to_curve(p);
  for (const auto& [key, p] : alltoall) tables->alltoall[key] = to_curve(p);
  if (tables->gemm.empty()) r.fail(t.column_line, "op", "the profile has no gemm rows");
  if (tables->prefill.empty() || tables->decode.empty())
    r.fail(t.column_line, "op", "the profile needs attn_prefill and attn_decode rows");
  return tables;
}

std::string device_profile_path(const std::string& device) {
  const std::string path = data_dir() + "/calibration/" + device + ".csv";
  return yaml::is_file(path) ? path : "";
}

std::shared_ptr<const models::KernelTables> cached_device_profile(const std::string& path) {
  static std::mutex lock;
  static std::map<std::string, std::shared_ptr<const models::KernelTables>> cache;
  const std::lock_guard<std::mutex> guard(lock);
  auto it = cache.find(path);
  if (it == cache.end()) it = cache.emplace(path, read_device_profile(path)).first;
  return it->second;
}

}  // namespace aif::sim
