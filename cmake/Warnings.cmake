# aif_warnings: strict warnings, as errors, for the project's own code only
# (third-party headers come in as SYSTEM includes and are not affected).
add_library(aif_warnings INTERFACE)
target_compile_options(aif_warnings INTERFACE
  $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wconversion-null -Werror>)
