// What the kernels run on, for provenance stamps (calibration tables, results files).
#pragma once
#include <string>

namespace aif::kernels {
std::string blas_version();    // openblas_get_config(), e.g. "OpenBLAS 0.3.21 DYNAMIC_ARCH ... Cooperlake"
std::string cpu_model_name();  // "model name" of /proc/cpuinfo
bool built_with_cuda();
// Whether OpenBLAS runs its AVX-512 kernel family, whose SGEMM rows do not depend on batch size or position (the
// engine's bitwise batch independence rests on it; cpu_backend.cpp pins the family where the CPU has AVX-512).
bool blas_rows_independent();
}  // namespace aif::kernels
