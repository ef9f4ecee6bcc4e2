# Scripted checks of the scenario format, included from tests/CMakeLists.txt (label: unit).
#  - schema_check: scenarios/scenario.schema.json against every scenario and the marked bad scenarios
#    (needs python3-jsonschema and python3-yaml; reported as skipped, not passed, when they are missing);
#  - cli_bad_inputs_catalog: every file of tests/data/bad_* (scenarios, plans, traces, signals, calibration tables)
#    given to aifsim must exit with exactly 2, with the message docs/reliability.md lists;
#  - cli_validate_<name>: `aifsim validate` on each scenarios/**/*.yaml must exit with 0;
#  - python_results_example: analysis/python/ on a results file (skipped without pandas and matplotlib);
#  - report_in_browser: a report's charts laid out in headless Chromium (skipped without it).
set(AIF_SCENARIO_ROOT ${CMAKE_CURRENT_SOURCE_DIR}/..)

# Debian's interpreter: scripts/setup.sh installs python3-jsonschema and python3-yaml for it
# (a pyenv or venv python3 earlier on PATH may lack them).
if(NOT DEFINED Python3_EXECUTABLE AND EXISTS /usr/bin/python3)
  set(Python3_EXECUTABLE /usr/bin/python3)
endif()
find_package(Python3 COMPONENTS Interpreter)
if(Python3_Interpreter_FOUND)
  add_test(NAME schema_check COMMAND Python3::Interpreter ${CMAKE_CURRENT_SOURCE_DIR}/schema_check.py
                                     ${AIF_SCENARIO_ROOT})
  set_tests_properties(schema_check PROPERTIES LABELS unit SKIP_RETURN_CODE 77)
endif()

if(TARGET aifsim AND Python3_Interpreter_FOUND)
  # The notebook example (analysis/python/): a results file read with h5py and pandas, its percentiles recomputed with
  # NumPy against /summary, its figures drawn. Skipped, and said so, without pandas and matplotlib (CI leaves them out
  # for time: `scripts/setup.sh --python` installs them).
  add_test(NAME python_results_example
           COMMAND sh -c "\"$0\" -c 'import h5py, pandas, matplotlib' 2>/dev/null || { echo 'SKIP: python3-h5py, python3-pandas or python3-matplotlib missing (scripts/setup.sh --python)'; exit 77; }; \"$1\" run \"$2\" -q -o \"$3\" && \"$0\" \"$4\" \"$3\""
                   ${Python3_EXECUTABLE} $<TARGET_FILE:aifsim> ${CMAKE_CURRENT_SOURCE_DIR}/data/scenarios/reliability_failover.yaml
                   ${CMAKE_CURRENT_BINARY_DIR}/python_example.h5 ${AIF_SCENARIO_ROOT}/analysis/python/test_aifsim_results.py)
  set_tests_properties(python_results_example PROPERTIES LABELS smoke SKIP_RETURN_CODE 77 TIMEOUT 300)
endif()

if(TARGET aifsim)
  # The HTML report in a real browser (scripts/report_in_browser.mjs: headless Chromium through its DevTools pipe):
  # every chart laid out with its lines. Skipped, and said so, without Node.js or Chromium (CI's time budget leaves
  # Chromium out; gui_test renders every chart of a report with Qt's SVG renderer instead).
  add_test(NAME report_in_browser
           COMMAND sh -c "command -v node >/dev/null && { [ -n \"$CHROMIUM\" ] || command -v chromium >/dev/null || command -v chromium-browser >/dev/null || command -v google-chrome >/dev/null; } || { echo 'SKIP: Node.js or Chromium missing (apt-get install chromium)'; exit 77; }; \"$0\" run \"$1\" -q -o \"$2.h5\" && \"$0\" report \"$2.h5\" -o \"$2.html\" && node \"$3\" \"$2.html\""
                   $<TARGET_FILE:aifsim> ${CMAKE_CURRENT_SOURCE_DIR}/data/scenarios/reliability_failover.yaml
                   ${CMAKE_CURRENT_BINARY_DIR}/report_in_browser ${AIF_SCENARIO_ROOT}/scripts/report_in_browser.mjs)
  set_tests_properties(report_in_browser PROPERTIES LABELS smoke SKIP_RETURN_CODE 77 TIMEOUT 300)

  # Every bad input of tests/data/bad_* through aifsim as a user gives it, exit code 2 exactly (1 would be a crash
  # path or an uncaught exception, not a clean rejection), and the catalog in docs/reliability.md as printed.
  if(Python3_Interpreter_FOUND)
    add_test(NAME cli_bad_inputs_catalog
             COMMAND Python3::Interpreter ${AIF_SCENARIO_ROOT}/scripts/bad_inputs_catalog.py $<TARGET_FILE:aifsim> --check)
    set_tests_properties(cli_bad_inputs_catalog PROPERTIES LABELS unit TIMEOUT 600)
  endif()

  file(GLOB_RECURSE good_scenarios CONFIGURE_DEPENDS ${AIF_SCENARIO_ROOT}/scenarios/*.yaml)
  # Sweep files are not scenarios: `aifsim sweep --dry-run` checks them (and every point's scenario).
  file(GLOB sweep_files CONFIGURE_DEPENDS ${AIF_SCENARIO_ROOT}/scenarios/sweeps/*.yaml)
  list(REMOVE_ITEM good_scenarios ${sweep_files})
  # Plan files (*.plan.yaml) neither: `aifsim plan --dry-run` checks them and bounds every candidate.
  file(GLOB_RECURSE plan_files CONFIGURE_DEPENDS ${AIF_SCENARIO_ROOT}/scenarios/*.plan.yaml)
  if(plan_files)
    list(REMOVE_ITEM good_scenarios ${plan_files})
  endif()
  foreach(file ${plan_files})
    get_filename_component(name ${file} NAME_WE)
    add_test(NAME cli_plan_dry_run_${name} COMMAND $<TARGET_FILE:aifsim> plan ${file} -o ${CMAKE_CURRENT_BINARY_DIR}/plan_dry_${name} --dry-run)
    set_tests_properties(cli_plan_dry_run_${name} PROPERTIES LABELS unit)
  endforeach()
  file(GLOB bad_plans CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/data/bad_plans/*.yaml)
  foreach(file ${bad_plans})
    get_filename_component(name ${file} NAME_WE)
    add_test(NAME cli_plan_bad_${name}
             COMMAND sh -c "\"$0\" plan \"$1\" -o \"$2\" --dry-run; test $? -eq 2" $<TARGET_FILE:aifsim> ${file}
                     ${CMAKE_CURRENT_BINARY_DIR}/plan_bad_${name})
    set_tests_properties(cli_plan_bad_${name} PROPERTIES LABELS unit)
  endforeach()
  foreach(file ${sweep_files})
    get_filename_component(name ${file} NAME_WE)
    add_test(NAME cli_sweep_dry_run_${name} COMMAND $<TARGET_FILE:aifsim> sweep ${file} -o ${CMAKE_CURRENT_BINARY_DIR}/sweep_dry_${name} --dry-run)
    set_tests_properties(cli_sweep_dry_run_${name} PROPERTIES LABELS unit)
  endforeach()
  foreach(file ${good_scenarios})
    file(RELATIVE_PATH rel ${AIF_SCENARIO_ROOT}/scenarios ${file})
    string(REGEX REPLACE "\\.yaml$" "" rel ${rel})
    string(REGEX REPLACE "[^A-Za-z0-9_]" "_" name ${rel})
    add_test(NAME cli_validate_${name} COMMAND $<TARGET_FILE:aifsim> validate ${file})
    set_tests_properties(cli_validate_${name} PROPERTIES LABELS unit)
  endforeach()
endif()

# aifsim calibrate:
#  - cli_calibrate_other_device: only cpu-local can be calibrated here; anything else is a clean exit 2;
#  - calibrating for real is exercised by tests/validation/test_engine_vs_sim.cpp (kbench, profile, fit, validate).
if(TARGET aifsim)
  add_test(NAME cli_calibrate_other_device
           COMMAND sh -c "out=$(\"$0\" calibrate --device H200-SXM 2>&1); rc=$?; echo \"$out\"; \
test $rc -eq 2 && echo \"$out\" | grep -q 'only cpu-local'" $<TARGET_FILE:aifsim>)
  set_tests_properties(cli_calibrate_other_device PROPERTIES LABELS unit)
endif()

# aifsim topo:
#  - cli_topo_default: the default scenario's fabric report (exit 0, with its bisection line);
#  - cli_topo_dot: --dot writes a Graphviz file (through a temporary name);
#  - cli_topo_bad_scenario: a fabric that cannot be built is the same clean exit 2 as `aifsim validate`.
if(TARGET aifsim)
  add_test(NAME cli_topo_default
           COMMAND sh -c "out=$(\"$0\" topo \"$1\" 2>&1); rc=$?; echo \"$out\"; \
test $rc -eq 0 && echo \"$out\" | grep -q 'bisection'" $<TARGET_FILE:aifsim> ${AIF_SCENARIO_ROOT}/scenarios/default.yaml)
  set_tests_properties(cli_topo_default PROPERTIES LABELS unit)
  add_test(NAME cli_topo_dot
           COMMAND sh -c "rm -f \"$2\" && \"$0\" topo \"$1\" --dot \"$2\" && head -1 \"$2\" | grep -q '^graph fabric' \
&& test ! -e \"$2.tmp\"" $<TARGET_FILE:aifsim> ${AIF_SCENARIO_ROOT}/scenarios/default.yaml
                   ${CMAKE_CURRENT_BINARY_DIR}/cli_topo_default.dot)
  set_tests_properties(cli_topo_dot PROPERTIES LABELS unit)
  add_test(NAME cli_topo_bad_scenario
           COMMAND sh -c "\"$0\" topo \"$1\"; test $? -eq 2" $<TARGET_FILE:aifsim>
                   ${CMAKE_CURRENT_SOURCE_DIR}/data/bad_scenarios/71_fabric_dragonfly_too_few_global_links.yaml)
  set_tests_properties(cli_topo_bad_scenario PROPERTIES LABELS unit)
endif()

# scenarios/sweeps/slurm_sweep.sh outside Slurm: the same mpirun command on this machine with 2 ranks; it must
# complete the sweep and write its tables (where mpirun and an MPI-enabled aifsim exist).
find_program(AIF_MPIRUN mpirun)
get_property(aif_have_mpi GLOBAL PROPERTY AIF_HAVE_MPI)
if(TARGET aifsim AND AIF_MPIRUN AND aif_have_mpi)
  add_test(NAME cli_slurm_sweep_script_outside_slurm
           COMMAND sh -c "rm -rf \"$2\" && AIFSIM=\"$0\" \"$1\" \"$3\" \"$2\" && test -s \"$2/sweep_summary.csv\" \
&& test $(wc -l < \"$2/sweep.csv\") -eq 19" $<TARGET_FILE:aifsim> ${AIF_SCENARIO_ROOT}/scenarios/sweeps/slurm_sweep.sh
                   ${CMAKE_CURRENT_BINARY_DIR}/slurm_sweep_out ${AIF_SCENARIO_ROOT}/scenarios/sweeps/replicas_by_rate.yaml)
  set_tests_properties(cli_slurm_sweep_script_outside_slurm PROPERTIES LABELS smoke)
endif()

# aifsim report / compare (charts and statistics are checked in tests/model/test_report.cpp and
# tests/unit/test_compare.cpp):
#  - cli_report_missing / cli_compare_missing: a results file that does not exist is a clean exit 2 naming it;
#  - cli_compare_one_file: compare needs two sides.
if(TARGET aifsim)
  add_test(NAME cli_report_missing
           COMMAND sh -c "out=$(\"$0\" report /nonexistent/r.h5 2>&1); rc=$?; echo \"$out\"; \
test $rc -eq 2 && echo \"$out\" | grep -q '/nonexistent/r.h5'" $<TARGET_FILE:aifsim>)
  set_tests_properties(cli_report_missing PROPERTIES LABELS unit)
  add_test(NAME cli_compare_missing
           COMMAND sh -c "out=$(\"$0\" compare /nonexistent/a.h5 /nonexistent/b.h5 2>&1); rc=$?; echo \"$out\"; \
test $rc -eq 2 && echo \"$out\" | grep -q '/nonexistent/a.h5'" $<TARGET_FILE:aifsim>)
  set_tests_properties(cli_compare_missing PROPERTIES LABELS unit)
  add_test(NAME cli_compare_one_file
           COMMAND sh -c "\"$0\" compare /nonexistent/a.h5; test $? -eq 2" $<TARGET_FILE:aifsim>)
  set_tests_properties(cli_compare_one_file PROPERTIES LABELS unit)
endif()

# aifsim compare-kernels (tests/unit/test_compare_kernels.cpp checks the ratios on tests/data/compare_kernels/):
#  - the unit test compiles the command's source (it is part of the aifsim executable, not of a library);
#  - cli_compare_kernels_fixture: the command writes the report with the summary line the unit test derives by hand;
#  - cli_compare_kernels_other_model / _missing: a table of another model, a file that does not exist: exit 2 naming
#    the file and line.
if(TARGET unit_test_compare_kernels)
  target_sources(unit_test_compare_kernels PRIVATE ${AIF_SCENARIO_ROOT}/sim/cli/compare_kernels.cpp)
  target_link_libraries(unit_test_compare_kernels PRIVATE CLI11::CLI11)
endif()
if(TARGET aifsim)
  set(aif_ck ${CMAKE_CURRENT_SOURCE_DIR}/data/compare_kernels)
  add_test(NAME cli_compare_kernels_fixture
           COMMAND sh -c "rm -f \"$2\" && \"$0\" compare-kernels \"$1/kbench.csv\" --profile \"$1/profile.csv\" \
--model tiny-llama --tp 1 -o \"$2\" && grep -qF '| qkv_proj | 4 | 1.25 | 0.4 | 8 tokens | 0.4 | 2 | 0 |' \"$2\" \
&& test ! -e \"$2.tmp\"" $<TARGET_FILE:aifsim> ${aif_ck} ${CMAKE_CURRENT_BINARY_DIR}/compare_kernels_fixture.md)
  set_tests_properties(cli_compare_kernels_fixture PROPERTIES LABELS unit)
  add_test(NAME cli_compare_kernels_other_model
           COMMAND sh -c "out=$(\"$0\" compare-kernels \"$1/kbench.csv\" --profile \"$1/profile.csv\" --model small-llama \
--tp 1 2>&1); rc=$?; echo \"$out\"; test $rc -eq 2 && echo \"$out\" | grep -q 'kbench.csv:4: model:'"
                   $<TARGET_FILE:aifsim> ${aif_ck})
  set_tests_properties(cli_compare_kernels_other_model PROPERTIES LABELS unit)
  add_test(NAME cli_compare_kernels_missing
           COMMAND sh -c "out=$(\"$0\" compare-kernels /nonexistent/k.csv --profile \"$1/profile.csv\" --model tiny-llama \
--tp 1 2>&1); rc=$?; echo \"$out\"; test $rc -eq 2 && echo \"$out\" | grep -q '/nonexistent/k.csv'"
                   $<TARGET_FILE:aifsim> ${aif_ck})
  set_tests_properties(cli_compare_kernels_missing PROPERTIES LABELS unit)
endif()

# scripts/gpu_check.sh --cpu-dry-run: the GPU check's pipeline on this CPU with the tools of this build (CPU backend,
# tiny kbench grid of Llama-2-7B at tp 8, 24 requests on tiny-llama; about 15 s on 2 cores). It must pass, write the
# kbench table, the engine results and the comparison, and every operator of the comparison's summary that has rows
# must have a finite positive median ratio (the five GEMMs always have rows: their shapes are in the profile).
if(TARGET aifsim AND TARGET aifsim-kbench AND TARGET aifsim-engine)
  add_test(NAME cli_gpu_check_cpu_dry_run
           COMMAND sh -c "rm -rf \"$1\" && \"$0\" --cpu-dry-run --no-build --build-dir \"$2\" --out \"$1\" \
&& test -s \"$1/cpu-dry-run-kbench-Llama-2-7B.csv\" && test -s \"$1/engine-tiny-llama.h5\" \
&& test -s \"$1/comparison.md\" && test -s \"$1/gpu-check.log\" \
&& awk -F'|' '/^## Summary/ { s = 1; next } /^## / { s = 0 } s && $3 + 0 > 0 { n++; gemm += ($2 ~ /_proj|lm_head/); \
if ($4 !~ /^ *[0-9][0-9.e+-]* *$/ || $4 + 0 <= 0) { print \"not a finite ratio: \" $0; bad++ } } \
END { exit !(n >= 5 && gemm == 5 && bad == 0) }' \"$1/comparison.md\""
                   ${AIF_SCENARIO_ROOT}/scripts/gpu_check.sh ${CMAKE_CURRENT_BINARY_DIR}/gpu_check_dry_run ${CMAKE_BINARY_DIR})
  set_tests_properties(cli_gpu_check_cpu_dry_run PROPERTIES LABELS smoke TIMEOUT 300)
endif()

# A refactor keeps the event streams: the examples' fingerprints equal the recorded ones (scripts/check_fingerprints.sh;
# --all adds the energy, reliability and bench scenarios, minutes).
add_test(NAME fingerprints_of_the_examples_unchanged
         COMMAND ${AIF_SOURCE_DIR}/scripts/check_fingerprints.sh ${CMAKE_BINARY_DIR})
set_tests_properties(fingerprints_of_the_examples_unchanged PROPERTIES LABELS fingerprint TIMEOUT 600)
