// CPU backend: fp32 everywhere; GEMMs through OpenBLAS, the other operators parallel with TBB.
// Every operator computes each output row from its own input row only, in a fixed order, so a row's result
// does not depend on how many rows share the call (the engine's batch-independence test checks this).
#include <cblas.h>
#include <unistd.h>
#include <tbb/blocked_range.h>
#include <tbb/global_control.h>
#include <tbb/info.h>
#include <tbb/parallel_for.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <new>
#include <stdexcept>
#include <string>
#include <vector>

#include "aif/kernels/backend.hpp"
#include "aif/kernels/platform_info.hpp"

namespace aif::kernels {
namespace {

class CpuMatrix final : public Matrix {
 public:
  CpuMatrix(const float* w, int n, int k) : n_(n), k_(k), w_(w, w + static_cast<size_t>(n) * static_cast<size_t>(k)) {}
  int rows() const override { return n_; }
  int cols() const override { return k_; }
  const float* data() const { return w_.data(); }

 private:
  int n_, k_;
  std::vector<float> w_;
};

// Dot product with 8 independent partial sums: vectorizes without -ffast-math and has a fixed order.
inline float dot(const float* a, const float* b, int n) {
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int i = 0;
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; ++j) acc[j] += a[i + j] * b[i + j];
  float tail = 0;
  for (; i < n; ++i) tail += a[i] * b[i];
  return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7])) + tail;
}

// Rows handed to one TBB task: enough work to amortize scheduling for the narrow operators.
size_t grain_for(size_t row_work) { return std::max<size_t>(1, 16384 / std::max<size_t>(1, row_work)); }

// OpenBLAS 0.3.16+ sends GEMMs with M*N*K <= 100^3 to "small matrix" kernels (SkylakeX/Cooperlake builds)
// whose summation order differs from the blocked kernels: measured with 0.3.21 here, a row of x W^T changes
// bits with M for M*N*K up to 983,040 and never above. Calls below 2^21 are padded to stay on the blocked path.
constexpr double SMALL_GEMM_MNK = 2097152.0;

class CpuBackend final : public Backend {
 public:
  explicit CpuBackend(int threads)
      : threads_(threads > 0 ? threads : tbb::info::default_concurrency()),
        control_(tbb::global_control::max_allowed_parallelism, static_cast<size_t>(threads_)) {
    openblas_set_num_threads(threads_);
  }

  std::string name() const override { return "cpu"; }
  std::string device_description() const override {
    return cpu_model_name() + "; " + std::to_string(threads_) + " threads; " + blas_version();
  }

  void* allocate(size_t bytes) override {
    const size_t rounded = (std::max<size_t>(bytes, 1) + 63) / 64 * 64;
    void* p = std::aligned_alloc(64, rounded);
    if (!p) throw std::bad_alloc();
    return p;
  }
  void deallocate(void* ptr) override { std::free(ptr); }
  void copy_to_device(void* dst, const void* src, size_t bytes) override {
    if (bytes) std::memcpy(dst, src, bytes);
  }
  void copy_to_host(void* dst, const void* src, size_t bytes) override {
    if (bytes) std::memcpy(dst, src, bytes);
  }
  void fill(float* dst, float value, size_t count) override { std::fill(dst, dst + count, value); }
  void synchronize() override {}

  std::unique_ptr<Matrix> make_matrix(const float* host_w, int n, int k) override {
    return std::make_unique<CpuMatrix>(host_w, n, k);
  }

  void linear(const float* x, int m, const Matrix& w, float* y) override {
    if (m <= 0) return;
    const auto& cw = static_cast<const CpuMatrix&>(w);
    const int n = cw.rows(), k = cw.cols();
    const double nk = static_cast<double>(n) * k;
    if (static_cast<double>(m) * nk >= SMALL_GEMM_MNK) {
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, n, k, 1.0f, x, k, cw.data(), k, 0.0f, y, n);
      return;
    }
    // Small call: pad M with zero rows so OpenBLAS takes its blocked path, whose rows do not depend on M.
    const int m_pad = static_cast<int>(std::ceil(SMALL_GEMM_MNK / nk));
    pad_x_.assign(static_cast<size_t>(m_pad) * size_t(k), 0.0f);
    pad_y_.resize(static_cast<size_t>(m_pad) * size_t(n));
    std::memcpy(pad_x_.data(), x, sizeof(float) * size_t(m) * size_t(k));
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m_pad, n, k, 1.0f, pad_x_.data(), k, cw.data(), k, 0.0f,
                pad_y_.data(), n);
    std::memcpy(y, pad_y_.data(), sizeof(float) * size_t(m) * size_t(n));
  }

  void embedding(const int32_t* tokens, int m, const float* table, int hidden, float* y) override {
    const size_t h = static_cast<size_t>(hidden);
    tbb::parallel_for(tbb::blocked_range<int>(0, m, static_cast<int>(grain_for(h))), [&](const auto& r) {
      for (int i = r.begin(); i < r.end(); ++i)
        std::memcpy(y + static_cast<size_t>(i) * h, table + static_cast<size_t>(tokens[i]) * h, h * sizeof(float));
    });
  }

  void rms_norm(const float* x, const float* gamma, int m, int hidden, float eps, float* y) override {
    const size_t h = static_cast<size_t>(hidden);
    tbb::parallel_for(tbb::blocked_range<int>(0, m, static_cast<int>(grain_for(h))), [&](const auto& r) {
      for (int i = r.begin(); i < r.end(); ++i) {
        const float* xr = x + static_cast<size_t>(i) * h;
        float* yr = y + static_cast<size_t>(i) * h;
        const float inv = 1.0f / std::sqrt(dot(xr, xr, hidden) / static_cast<float>(hidden) + eps);
        for (size_t j = 0; j < h; ++j) yr[j] = xr[j] * inv * gamma[j];
      }
    });
  }

  void rope(float* x, int row_stride, const int32_t* positions, int m, int heads, int head_dim,
            float theta) override {
    const int half = head_dim / 2;
    std::vector<double> inv_freq(static_cast<size_t>(half));
    for (int i = 0; i < half; ++i) inv_freq[static_cast<size_t>(i)] = std::pow(double(theta), -2.0 * i / head_dim);
    tbb::parallel_for(tbb::blocked_range<int>(0, m, static_cast<int>(grain_for(size_t(heads) * size_t(head_dim)))),
                      [&](const auto& r) {
                        std::vector<float> c(static_cast<size_t>(half)), s(static_cast<size_t>(half));
                        for (int row = r.begin(); row < r.end(); ++row) {
                          for (int i = 0; i < half; ++i) {
                            const double angle = positions[row] * inv_freq[static_cast<size_t>(i)];
                            c[static_cast<size_t>(i)] = static_cast<float>(std::cos(angle));
                            s[static_cast<size_t>(i)] = static_cast<float>(std::sin(angle));
                          }
                          for (int hd = 0; hd < heads; ++hd) {
                            float* v = x + static_cast<size_t>(row) * size_t(row_stride) + size_t(hd) * size_t(head_dim);
                            for (int i = 0; i < half; ++i) {
                              const float a = v[i], b = v[i + half];
                              v[i] = a * c[size_t(i)] - b * s[size_t(i)];
                              v[i + half] = b * c[size_t(i)] + a * s[size_t(i)];
                            }
                          }
                        }
                      });
  }

  void kv_cache_write(const float* k, const float* v, int row_stride, const int32_t* slots, int m, int kv_heads,
                      int head_dim, float* k_cache, float* v_cache) override {
    const size_t width = static_cast<size_t>(kv_heads) * static_cast<size_t>(head_dim);
    tbb::parallel_for(tbb::blocked_range<int>(0, m, static_cast<int>(grain_for(width))), [&](const auto& r) {
      for (int i = r.begin(); i < r.end(); ++i) {
        const size_t dst = static_cast<size_t>(slots[i]) * width;
        const size_t src = static_cast<size_t>(i) * static_cast<size_t>(row_stride);
        std::memcpy(k_cache + dst, k + src, width * sizeof(float));
        std::memcpy(v_cache + dst, v + src, width * sizeof(float));
      }
    });
  }

  void attention(const float* q, int q_stride, const AttentionBatch& b, const float* k_cache, const float* v_cache,
                 int heads, int kv_heads, int head_dim, float scale, float* out) override {
    const int rows = b.q_start[b.num_seqs];
    const int group = heads / kv_heads;
    const size_t kv_width = static_cast<size_t>(kv_heads) * static_cast<size_t>(head_dim);
    const size_t out_width = static_cast<size_t>(heads) * static_cast<size_t>(head_dim);
    // One work item per (query row, head).
    const size_t items = static_cast<size_t>(rows) * static_cast<size_t>(heads);
    tbb::parallel_for(tbb::blocked_range<size_t>(0, items, 1), [&](const tbb::blocked_range<size_t>& r) {
      std::vector<float> score(static_cast<size_t>(std::max(1, b.max_context_len)));
      std::vector<float> acc(static_cast<size_t>(head_dim));
      for (size_t item = r.begin(); item < r.end(); ++item) {
        const int row = static_cast<int>(item / static_cast<size_t>(heads));
        const int h = static_cast<int>(item % static_cast<size_t>(heads));
        const int s = static_cast<int>(std::upper_bound(b.q_start, b.q_start + b.num_seqs + 1, row) - b.q_start) - 1;
        const int q_len = b.q_start[s + 1] - b.q_start[s];
        const int keys = b.context_lens[s] - q_len + (row - b.q_start[s]) + 1;  // causal
        const int32_t* table = b.block_tables + static_cast<size_t>(s) * static_cast<size_t>(b.max_blocks_per_seq);
        const float* qv = q + static_cast<size_t>(row) * static_cast<size_t>(q_stride) + size_t(h) * size_t(head_dim);
        const size_t kv_off = static_cast<size_t>(h / group) * static_cast<size_t>(head_dim);
        float mx = -INFINITY;
        for (int j = 0; j < keys; ++j) {
          const size_t slot = static_cast<size_t>(table[j / b.block_size]) * size_t(b.block_size) + size_t(j % b.block_size);
          const float sc = dot(qv, k_cache + slot * kv_width + kv_off, head_dim) * scale;
          score[static_cast<size_t>(j)] = sc;
          mx = std::max(mx, sc);
        }
        float sum = 0;
        std::fill(acc.begin(), acc.end(), 0.0f);
        for (int j = 0; j < keys; ++j) {
          const float p = std::exp(score[static_cast<size_t>(j)] - mx);
          sum += p;
          const size_t slot = static_cast<size_t>(table[j / b.block_size]) * size_t(b.block_size) + size_t(j % b.block_size);
          const float* vv = v_cache + slot * kv_width + kv_off;
          for (int d = 0; d < head_dim; ++d) acc[size_t(d)] += p * vv[d];
        }
        float* o = out + static_cast<size_t>(row) * out_width + size_t(h) * size_t(head_dim);
        const float inv = 1.0f / sum;
        for (int d = 0; d < head_dim; ++d) o[d] = acc[size_t(d)] * inv;
      }
    });
  }

  void swiglu(const float* gate_up, int m, int ffn, float* out) override {
    const size_t f = static_cast<size_t>(ffn);
    tbb::parallel_for(tbb::blocked_range<int>(0, m, static_cast<int>(grain_for(f))), [&](const auto& r) {
      for (int i = r.begin(); i < r.end(); ++i) {
        const float* g = gate_up + static_cast<size_t>(i) * 2 * f;
        const float* u = g + f;
        float* o = out + static_cast<size_t>(i) * f;
        for (size_t j = 0; j < f; ++j) o[j] = g[j] / (1.0f + std::exp(-g[j])) * u[j];
      }
    });
  }

  void add(float* x, const float* y, size_t count) override {
    tbb::parallel_for(tbb::blocked_range<size_t>(0, count, 16384), [&](const tbb::blocked_range<size_t>& r) {
      for (size_t i = r.begin(); i < r.end(); ++i) x[i] += y[i];
    });
  }

  void gather_rows(const float* x, const int32_t* rows, int count, int width, float* y) override {
    const size_t w = static_cast<size_t>(width);
    for (int i = 0; i < count; ++i)
      std::memcpy(y + static_cast<size_t>(i) * w, x + static_cast<size_t>(rows[i]) * w, w * sizeof(float));
  }

 private:
  int threads_;
  tbb::global_control control_;
  std::vector<float> pad_x_, pad_y_;  // scratch of padded small GEMMs
};

// OpenBLAS chooses its kernel family when it loads (DYNAMIC_ARCH), from the CPU. The engine's bitwise batch
// independence needs a family whose SGEMM computes a row with the same bits whatever its position in the call and
// however many rows share it: the AVX-512 family does (SkylakeX, and Cooperlake / SapphireRapids which use its SGEMM);
// the Haswell family (forced by OPENBLAS_CORETYPE=Haswell in some shells; OpenBLAS's choice on AVX2-only CPUs and where
// its detection does not know an AVX-512 CPU) differs in 34 of 64 row positions (measured with 0.3.21 on a 64-row call).
// So a process on a CPU with AVX-512 whose OpenBLAS picked another family restarts itself once,
// before main(), with OPENBLAS_CORETYPE=SkylakeX. A family the user chose (OPENBLAS_CORETYPE set, not empty) is left
// alone; the test suite sets it empty (tests/CMakeLists.txt) so that its bitwise checks run with the AVX-512 family.
bool avx512_family(const std::string& core) {
  return core == "SkylakeX" || core == "Cooperlake" || core == "SapphireRapids";
}

struct PinBlasKernelFamily {
  PinBlasKernelFamily() {
    const char* chosen = std::getenv("OPENBLAS_CORETYPE");
    if ((chosen && *chosen) || avx512_family(openblas_get_corename())) return;
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx512f") || !__builtin_cpu_supports("avx512bw") ||
        !__builtin_cpu_supports("avx512dq") || !__builtin_cpu_supports("avx512vl"))
      return;
    std::ifstream in("/proc/self/cmdline", std::ios::binary);
    std::vector<std::string> args;
    for (std::string a; std::getline(in, a, '\0');) args.push_back(a);
    if (args.empty()) return;
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    setenv("OPENBLAS_CORETYPE", "SkylakeX", 1);
    execv("/proc/self/exe", argv.data());
    unsetenv("OPENBLAS_CORETYPE");  // exec failed: carry on with the family OpenBLAS chose
  }
};
const PinBlasKernelFamily pin_blas_kernel_family;

}  // namespace

std::string blas_version() { return std::string(openblas_get_config()); }

bool blas_rows_independent() { return avx512_family(openblas_get_corename()); }

std::string cpu_model_name() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("model name", 0) == 0) {
      const auto colon = line.find(':');
      if (colon != std::string::npos) return line.substr(line.find_first_not_of(" \t", colon + 1));
    }
  return "unknown CPU";
}

std::unique_ptr<Backend> make_cpu_backend(int threads) { return std::make_unique<CpuBackend>(threads); }

}  // namespace aif::kernels
