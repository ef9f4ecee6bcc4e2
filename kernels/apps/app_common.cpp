#include "app_common.hpp"

#include <yaml-cpp/yaml.h>

#include <ctime>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace aif::kernels::app {

std::string default_models_path() { return std::string(AIF_SOURCE_DIR) + "/data/models.yaml"; }

ModelShape load_model(const std::string& path, const std::string& name) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const std::exception& e) {
    throw std::runtime_error(path + ": " + e.what());
  }
  const YAML::Node m = root[name];
  if (!m || !m.IsMap()) {
    std::string names;
    for (const auto& kv : root) names += (names.empty() ? "" : ", ") + kv.first.as<std::string>();
    throw std::runtime_error(path + ": no model '" + name + "' (valid: " + names + ")");
  }
  auto get = [&](const char* key, bool required) {
    if (!m[key]) {
      if (required) throw std::runtime_error(path + ": model '" + name + "' has no '" + key + "'");
      return 0;
    }
    return m[key].as<int>();
  };
  models::ModelArch a;
  a.name = name;
  a.layers = get("layers", true);
  a.hidden = get("hidden", true);
  a.heads = get("heads", true);
  a.kv_heads = get("kv_heads", false);
  if (a.kv_heads == 0) a.kv_heads = a.heads;
  a.head_dim = get("head_dim", false);
  a.ffn = get("ffn", true);
  a.vocab = get("vocab", true);
  a.max_context = get("max_context", false);
  return shape_from_arch(a);
}

namespace {
// Seconds since 1970 of "YYYY-MM-DD HH:MM:SS.fffffff" (UTC; only differences matter).
double parse_timestamp(const std::string& s) {
  int y, mo, d, h, mi;
  double sec;
  if (std::sscanf(s.c_str(), "%d-%d-%d %d:%d:%lf", &y, &mo, &d, &h, &mi, &sec) != 6)
    throw std::invalid_argument("bad TIMESTAMP '" + s + "'");
  // Days from civil (Howard Hinnant's algorithm, public domain description).
  y -= mo <= 2;
  const int era = (y >= 0 ? y : y - 399) / 400;
  const int yoe = y - era * 400;
  const int doy = (153 * (mo + (mo > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  const long days = long(era) * 146097 + doe - 719468;
  return double(days) * 86400.0 + h * 3600.0 + mi * 60.0 + sec;
}
}  // namespace

std::vector<TraceRequest> read_azure_trace(const std::string& path, size_t max_rows) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error(path + ": cannot open trace");
  std::vector<TraceRequest> out;
  std::string line;
  int line_no = 0;
  double t0 = 0;
  while (std::getline(in, line) && (max_rows == 0 || out.size() < max_rows)) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    if (line_no == 1 && line.rfind("TIMESTAMP", 0) == 0) continue;
    std::stringstream ss(line);
    std::string ts, ctx, gen;
    if (!std::getline(ss, ts, ',') || !std::getline(ss, ctx, ',') || !std::getline(ss, gen, ','))
      throw std::runtime_error(path + ":" + std::to_string(line_no) + ": expected TIMESTAMP,ContextTokens,GeneratedTokens");
    try {
      const double t = parse_timestamp(ts);
      if (out.empty()) t0 = t;
      out.push_back({static_cast<int64_t>(out.size()), t - t0, std::stoi(ctx), std::stoi(gen)});
    } catch (const std::exception& e) {
      throw std::runtime_error(path + ":" + std::to_string(line_no) + ": " + e.what());
    }
  }
  if (out.empty()) throw std::runtime_error(path + ": no requests");
  return out;
}

std::string now_iso8601() {
  char buf[32];
  const std::time_t t = std::time(nullptr);
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}

}  // namespace aif::kernels::app
