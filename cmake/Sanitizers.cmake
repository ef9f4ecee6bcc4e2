# AIF_SANITIZE=ON: AddressSanitizer + UndefinedBehaviorSanitizer (make test-sanitize). Applied globally so that
# every project target and test is instrumented the same way; any report aborts the process, so a test fails.
if(AIF_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all)
  add_link_options(-fsanitize=address,undefined)
  # Warnings stay errors, but one: GCC's maybe-uninitialized analysis runs after the sanitizers' instrumentation,
  # which adds paths it cannot follow, and it then reports values in libstdc++'s <regex> that are
  # always set (GCC bug 105616: GCC 12 to 14 with -fsanitize=address). It stays a warning there, and an error in the normal build.
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    add_compile_options(-Wno-error=maybe-uninitialized)
  endif()
endif()

# AIF_FUZZ=ON: every target instrumented for libFuzzer's coverage and for the sanitizers; the fuzz_* binaries link
# libFuzzer's main (fuzz/CMakeLists.txt). Needs clang.
if(AIF_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "AIF_FUZZ needs clang (libFuzzer): configure with -DCMAKE_CXX_COMPILER=clang++")
  endif()
  add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all)
  add_link_options(-fsanitize=address,undefined)
endif()
