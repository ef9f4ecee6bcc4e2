// aifsim-kbench: operator timings over a Vidur-like grid, memory bandwidth and peak GEMM rate, written as a
// calibration table (docs/calibration-format.md). `--check` runs every operator against the float64 reference.
#include <CLI/CLI.hpp>
#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <numeric>
#include <vector>

#include "aif/kernels/backend.hpp"
#include "aif/kernels/kbench.hpp"
#include "aif/kernels/opcheck.hpp"
#include "aif/kernels/platform_info.hpp"
#include "aif/kernels/rng.hpp"
#include "app_common.hpp"

namespace ak = aif::kernels;

namespace {

struct Stats {
  int reps = 0;
  double median = 0, min = 0, max = 0, p10 = 0, p90 = 0;
};

// Cold caches before every timed run: a buffer larger than the last-level cache is overwritten first.
// Always on a GPU (256 MiB, more than any L2; H200 has 50 MiB), as nvbench does. On a CPU only with
// --cold-cache (128 MiB): right when the model's weights are much larger than the L3, so that the
// other layers evict an operator's weights before it runs again; a model that fits in cache (tiny-llama)
// runs warm in the engine and is better timed warm (measured: cold tables over-predict it by ~40 %).
bool g_cold_cpu_cache = false;

class CacheFlusher {
 public:
  explicit CacheFlusher(ak::Backend& b) : b_(b), count_(b.name() == "cuda" ? (64u << 20) : (32u << 20)) {
    if (b.name() == "cuda" || g_cold_cpu_cache) buffer_ = static_cast<float*>(b.allocate(count_ * sizeof(float)));
  }
  void flush() {
    if (!buffer_) return;
    b_.fill(buffer_, static_cast<float>(++round_), count_);
    b_.synchronize();
  }

 private:
  ak::Backend& b_;
  size_t count_;  // floats
  float* buffer_ = nullptr;
  int round_ = 0;
};

// Warm-up runs, then `reps` timed runs (more, up to max_reps, while under min_seconds in total).
Stats time_it(ak::Backend& b, const std::function<void()>& fn, int warmup, int reps, double min_seconds) {
  // One per process (kbench times one backend); never destroyed, so it cannot outlive the backend's teardown.
  static CacheFlusher* flusher = new CacheFlusher(b);
  double slowest_warmup = 0;
  for (int i = 0; i < warmup; ++i) {
    const auto w0 = std::chrono::steady_clock::now();
    fn();
    b.synchronize();
    slowest_warmup = std::max(slowest_warmup, std::chrono::duration<double>(std::chrono::steady_clock::now() - w0).count());
  }
  b.synchronize();
  // Points that take over a second per call (long prefill attention on a CPU) get 3 timed runs: their
  // run-to-run spread is small and the full grid would otherwise take most of an hour.
  if (slowest_warmup > 1.0) reps = std::min(reps, 3);
  std::vector<double> t;
  double total = 0;
  const int max_reps = std::max(reps, 200);
  while (static_cast<int>(t.size()) < reps || (total < min_seconds && static_cast<int>(t.size()) < max_reps)) {
    flusher->flush();
    const auto t0 = std::chrono::steady_clock::now();
    fn();
    b.synchronize();
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    t.push_back(s);
    total += s;
  }
  std::sort(t.begin(), t.end());
  auto q = [&](double f) { return t[static_cast<size_t>(std::lround(f * double(t.size() - 1)))]; };
  return Stats{static_cast<int>(t.size()), q(0.5), t.front(), t.back(), q(0.1), q(0.9)};
}

struct Row {
  std::string op;
  int tp = 1, tokens = 0, batch = 0, kv_len = 0, n = 0, k = 0;
  Stats s;
  double flop = 0, bytes = 0;
};

std::vector<float> random_host(size_t n, uint64_t stream) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<float>(2 * ak::counter_uniform(7, stream, i) - 1);
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"aifsim-kbench: operator microbenchmarks and calibration table"};
  std::string grid = "small", model_name = "small-llama", models_file = ak::app::default_models_path(), out,
              backend_name = "cpu";
  std::vector<int> tps{1, 2};
  int threads = 0, warmup = 1, reps = 5, block_size = 16;
  double min_seconds = 0.05;
  bool check = false;
  app.add_option("--grid", grid, "tiny (tests), small (CI, ~1 min on 2 cores) or full")
      ->check(CLI::IsMember({"tiny", "small", "full"}));
  app.add_option("--block-size", block_size, "tokens per KV block (the engine's --block-size)")->check(CLI::PositiveNumber);
  app.add_option("--model", model_name, "model whose shapes are timed");
  app.add_option("--models-file", models_file, "model catalog (YAML)");
  app.add_option("--tp", tps, "tensor-parallel degrees (shard shapes)")->delimiter(',');
  app.add_option("--backend", backend_name, "cpu or cuda")->check(CLI::IsMember({"cpu", "cuda"}));
  app.add_option("--threads", threads, "CPU threads (0: all)");
  app.add_option("--warmup", warmup, "untimed runs per point");
  app.add_option("--reps", reps, "timed runs per point (at least)");
  app.add_option("--min-seconds", min_seconds, "keep repeating a point until this much time is measured");
  app.add_option("-o,--output", out, "calibration CSV to write");
  app.add_flag("--check", check, "check every operator against the float64 reference and exit");
  app.add_flag("--cold-cache", g_cold_cpu_cache, "CPU: overwrite 128 MiB before every timed run (GPU: always)");
  CLI11_PARSE(app, argc, argv);
  std::string command;
  // The program by its name, not the path it ran from: the line is written into files the repository keeps.
  for (int i = 0; i < argc; ++i)
    command += (i ? " " + std::string(argv[i]) : std::filesystem::path(argv[0]).filename().string());

  try {
    auto b = ak::make_backend(backend_name, threads);
    if (check) {
      bool ok = true;
      for (const auto& c : ak::check_operators(*b, uint64_t(std::chrono::steady_clock::now().time_since_epoch().count()))) {
        std::printf("%-16s %-60s error %.3e bound %.3e %s\n", c.op.c_str(), c.shape.c_str(), c.error, c.bound,
                    c.ok() ? "ok" : "FAIL");
        ok &= c.ok();
      }
      return ok ? 0 : 1;
    }
    const ak::ModelShape m = ak::app::load_model(models_file, model_name);
    const bool full = grid == "full", tiny = grid == "tiny";
    std::vector<Row> rows;
    auto progress = [&](const Row& r) {
      std::fprintf(stderr, "%-16s tp=%d tokens=%-5d batch=%-3d kv=%-5d median %.3e s  %.2f GFLOP/s  %.2f GB/s\n",
                   r.op.c_str(), r.tp, r.tokens, r.batch, r.kv_len, r.s.median, r.flop / r.s.median * 1e-9,
                   r.bytes / r.s.median * 1e-9);
    };

    // Peak GEMM rate: square fp32 GEMM, large enough to be compute bound.
    const int gn = full ? 4096 : (tiny ? 256 : 2048);
    double peak_flops = 0;
    {
      const auto w = random_host(size_t(gn) * gn, 1);
      ak::DeviceArray<float> x(*b, size_t(gn) * gn), y(*b, size_t(gn) * gn);
      x.upload(w.data(), w.size());
      auto mat = b->make_matrix(w.data(), gn, gn);
      Row r{"peak_gemm", 1, gn, 0, 0, gn, gn, {}, 2.0 * gn * double(gn) * gn, 3.0 * 4 * gn * double(gn)};
      r.s = time_it(*b, [&] { b->linear(x.data(), gn, *mat, y.data()); }, warmup, reps, min_seconds);
      peak_flops = r.flop / r.s.min;  // the best run: the attainable peak
      rows.push_back(r);
      progress(r);
    }
    // Memory bandwidth: STREAM triad a = b + s c (bytes counted as 3 arrays, no write-allocate).
    double peak_bw = 0;
    {
      const size_t n = full ? (size_t(64) << 20) : (tiny ? (size_t(1) << 20) : (size_t(16) << 20));  // floats per array
      std::vector<float> a(n, 0.0f), bb(n, 1.0f), c(n, 2.0f);
      Row r{"stream_triad", 1, 0, 0, 0, 0, 0, {}, 2.0 * double(n), 3.0 * 4 * double(n)};
      r.s = time_it(*b, [&] {
        tbb::parallel_for(tbb::blocked_range<size_t>(0, n, 1 << 16), [&](const tbb::blocked_range<size_t>& rg) {
          for (size_t i = rg.begin(); i < rg.end(); ++i) a[i] = bb[i] + 3.0f * c[i];
        });
      }, warmup, reps, min_seconds);
      peak_bw = r.bytes / r.s.min;
      rows.push_back(r);
      progress(r);
    }

    const ak::BenchGrid bench_grid = ak::bench_grid(grid);
    for (int tp : tps) {
      if (m.heads % tp || m.kv_heads % tp || m.ffn % tp || m.vocab % tp) {
        std::fprintf(stderr, "skipping tp=%d: does not divide heads/kv_heads/ffn/vocab of %s\n", tp, m.name.c_str());
        continue;
      }
      ak::for_each_bench_point(*b, m, tp, bench_grid, block_size,
                               [&](const ak::BenchPoint& p, const std::function<void()>& run) {
                                 Row r{p.op, p.tp, p.tokens, p.batch, p.kv_len, p.n, p.k, {}, p.flop, p.bytes};
                                 r.s = time_it(*b, run, warmup, reps, min_seconds);
                                 rows.push_back(r);
                                 progress(r);
                               });
    }

    std::ofstream f;
    std::ostream& os = out.empty() ? std::cout : (f.open(out), f);
    if (!out.empty() && !f) throw std::runtime_error(out + ": cannot write");
    os << "# aifsim calibration table, format_version 1 (docs/calibration-format.md)\n"
       << "# device: " << b->name() << "\n"
       << "# device_description: " << b->device_description() << "\n"
       << "# cpu_model: " << ak::cpu_model_name() << "\n"
       << "# blas: " << ak::blas_version() << "\n"
       << "# model: " << m.name << "\n"
       << "# grid: " << grid << "\n"
       << "# block_size: " << block_size << "\n"
       << "# threads: " << threads << "\n"
       << "# date: " << ak::app::now_iso8601() << "\n"
       << "# command: " << command << "\n"
       << "# peak_flop_per_s: " << peak_flops << "\n"
       << "# peak_bytes_per_s: " << peak_bw << "\n";
    os << "op,tp,tokens,batch,kv_len,n,k,reps,median_s,min_s,max_s,p10_s,p90_s,flop,bytes,flop_per_s,bytes_per_s,"
          "frac_peak_flop,frac_peak_bytes\n";
    char buf[512];
    for (const Row& r : rows) {
      const double fs = r.flop / r.s.median, bps = r.bytes / r.s.median;
      std::snprintf(buf, sizeof buf, "%s,%d,%d,%d,%d,%d,%d,%d,%.6e,%.6e,%.6e,%.6e,%.6e,%.6e,%.6e,%.6e,%.6e,%.4f,%.4f\n",
                    r.op.c_str(), r.tp, r.tokens, r.batch, r.kv_len, r.n, r.k, r.s.reps, r.s.median, r.s.min, r.s.max,
                    r.s.p10, r.s.p90, r.flop, r.bytes, fs, bps, fs / peak_flops, bps / peak_bw);
      os << buf;
    }
    std::fprintf(stderr, "peak GEMM %.1f GFLOP/s, triad %.1f GB/s; %zu rows\n", peak_flops * 1e-9, peak_bw * 1e-9,
                 rows.size());
  } catch (const std::exception& e) {
    std::cerr << "aifsim-kbench: error: " << e.what() << "\n";
    return 2;
  }
  return 0;
}
