# The benchmark's own tools (bench/run): md9-hostsim's host endpoint and
# md9bench, through md9 (tests/bench/test_endpoint.py --list).
# Included from tests/CMakeLists.txt.
foreach(case source sink ping echo mixed hs idle bad_spec)
  add_test(NAME bench_endpoint_${case}
    COMMAND /usr/bin/python3 ${PROJECT_SOURCE_DIR}/tests/bench/test_endpoint.py ${case})
  set_tests_properties(bench_endpoint_${case} PROPERTIES
    ENVIRONMENT "MD9_BIN=$<TARGET_FILE:md9>;MD9_HOSTSIM=$<TARGET_FILE:md9-hostsim>;MD9_BENCH=$<TARGET_FILE:md9bench>;PYTHONDONTWRITEBYTECODE=1"
    TIMEOUT 120 LABELS bench)
endforeach()
