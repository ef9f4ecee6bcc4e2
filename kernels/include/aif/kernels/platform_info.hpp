// What the kernels run on, for provenance stamps (calibration tables, results files).
#pragma once
#include <string>

namespace aif::kernels {
std::string blas_version();    // openblas_get_config(), e.g. "OpenBLAS 0.3.21 DYNAMIC_ARCH ... Cooperlake"
std::string cpu_model_name();  // "model name" of /proc/cpuinfo
bool built_with_cuda();
}  // namespace aif::kernels
