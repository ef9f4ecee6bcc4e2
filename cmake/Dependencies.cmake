# All third-party dependencies, found once. Debian packages only; nothing is downloaded.
find_package(PkgConfig REQUIRED)
# SimGrid 3.32 ships a pkg-config file but no CMake config.
pkg_check_modules(SimGrid REQUIRED IMPORTED_TARGET simgrid>=3.32)
find_package(Boost 1.74 REQUIRED COMPONENTS graph)
# Abseil (libabsl-dev): flat_hash_map for the prefix cache, which looks up and evicts millions of blocks per run.
find_package(absl REQUIRED)
find_package(HDF5 REQUIRED COMPONENTS CXX)
find_package(yaml-cpp REQUIRED)
find_package(nlohmann_json 3 REQUIRED)
find_package(CLI11 REQUIRED)
find_package(TBB REQUIRED)
find_package(Threads REQUIRED)

# HDF5's CMake variables predate targets; wrap them in one.
if(NOT TARGET aif_hdf5)
  add_library(aif_hdf5 INTERFACE)
  target_include_directories(aif_hdf5 SYSTEM INTERFACE ${HDF5_INCLUDE_DIRS})
  target_link_libraries(aif_hdf5 INTERFACE ${HDF5_CXX_LIBRARIES} ${HDF5_LIBRARIES})
  target_compile_definitions(aif_hdf5 INTERFACE ${HDF5_DEFINITIONS})
endif()

if(AIF_BUILD_TESTS)
  find_package(GTest REQUIRED)
  include(GoogleTest)
endif()
