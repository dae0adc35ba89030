# Reliability: md9-hostsim fault injection (hostsim/fault.c, built with md9-hostsim), the test
# backend/client pair (tests/tools/), the fault and integrity tests
# (tests/fault/), the control-message fuzzer and the valgrind stage.
# Included from tests/CMakeLists.txt.

# testcli.c: the options and output lines both tools share.
add_executable(md9-testserver ${PROJECT_SOURCE_DIR}/tests/tools/md9-testserver.c
  ${PROJECT_SOURCE_DIR}/tests/tools/testcli.c)
add_executable(md9-testclient ${PROJECT_SOURCE_DIR}/tests/tools/md9-testclient.c
  ${PROJECT_SOURCE_DIR}/tests/tools/testcli.c)
foreach(t md9-testserver md9-testclient)
  target_link_libraries(${t} PRIVATE PkgConfig::OPENSSL Threads::Threads)
endforeach()

# ---- fault-injection and integrity tests (tests/fault/, Python 3 stdlib) ----
# Neither root nor xrdp: md9-testserver is the RDP server, md9-testclient the
# host's client. Each test starts its own processes on free loopback ports
# and its own bus in a temp dir, so they can run in parallel; the integrity
# tests hold a lock so that they do not share the machine with each other.
#
#   ctest -L fault            every fault test   (about 40 s)
#   ctest -L integrity        the byte-exactness tests (1 GiB each way)
#   python3 tests/fault/test_fault_data.py stall   one by hand (build-rel/)
set(MD9_REL_PYTHON /usr/bin/python3 CACHE FILEPATH "Python 3 for tests/fault")
# The fault cases by script (tests/fault/test_fault_SUBJECT.py); the ctest
# name is fault_CASE whichever script holds it.
set(MD9_REL_FAULT_SUBJECTS control data sessions)
set(MD9_REL_FAULT_control_CASES
  rescind_control version_reject version_garbled version_silent ctrl_messages
  create_unoffered corrupt_control)
set(MD9_REL_FAULT_data_CASES
  rescind_data rescind_unread
  corrupt_offset8 corrupt_len8 corrupt_type corrupt_type_comp corrupt_pipe_len
  corrupt_pipe_type corrupt_truncated corrupt_write_index
  corrupt_write_index_unaligned corrupt_read_index corrupt_full_ring
  stall burst host_eof reoffer_same_instance)
set(MD9_REL_FAULT_sessions_CASES
  many_sessions max_sessions server_refuses server_closes slow_server sigterm)
set(MD9_REL_INTEGRITY_CASES single parallel5 small_chunks echo)

set(MD9_REL_ENV
  "MD9_BIN=$<TARGET_FILE:md9>"
  "MD9_HOSTSIM=$<TARGET_FILE:md9-hostsim>"
  "MD9_TESTSERVER=$<TARGET_FILE:md9-testserver>"
  "MD9_TESTCLIENT=$<TARGET_FILE:md9-testclient>"
  "PYTHONDONTWRITEBYTECODE=1")
if(MD9_SANITIZE)
  # ASan/UBSan make md9 and the tools several times slower: 64 MiB each way
  # instead of 1 GiB for the integrity tests, and longer deadlines.
  list(APPEND MD9_REL_ENV "MD9_INTEGRITY_BYTES=67108864" "MD9_TIME_SCALE=4")
endif()

# md9_rel_test(NAME SCRIPT CASE TIMEOUT LABELS [extra env...])
function(md9_rel_test name script case timeout labels)
  add_test(NAME ${name}
           COMMAND ${MD9_REL_PYTHON} ${PROJECT_SOURCE_DIR}/tests/fault/${script} ${case}
           WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
  set_tests_properties(${name} PROPERTIES
    ENVIRONMENT "${MD9_REL_ENV};${ARGN}" TIMEOUT ${timeout} LABELS "${labels}")
endfunction()

foreach(subject ${MD9_REL_FAULT_SUBJECTS})
  foreach(case ${MD9_REL_FAULT_${subject}_CASES})
    md9_rel_test(fault_${case} test_fault_${subject}.py ${case} 180 "fault;reliability")
  endforeach()
endforeach()
foreach(case ${MD9_REL_INTEGRITY_CASES})
  md9_rel_test(integrity_${case} test_integrity.py ${case} 900 "integrity;reliability")
  set_tests_properties(integrity_${case} PROPERTIES RESOURCE_LOCK md9_integrity)
endforeach()

# ---- the same under valgrind (-DMD9_VALGRIND=ON, a gcc build without ASan) ----
# md9 and md9-hostsim run under valgrind (faultlib.py: $MD9_WRAPPER); each
# must exit 0 at the end of the test, and valgrind exits 97 on any invalid
# access or definite/indirect leak. Every fault and integrity test; transfers
# 8x smaller (integrity: 32 MiB each way), deadlines 20x longer. About 1-2
# minutes on two cores (md9 relays zero-copy: little for valgrind to slow):
#   cmake -S . -B build-valgrind -DMD9_VALGRIND=ON && cmake --build build-valgrind -j
#   (cd build-valgrind && ctest -L valgrind -j2)
option(MD9_VALGRIND "Register the valgrind runs of the fault/integrity tests (label valgrind)" OFF)
if(MD9_VALGRIND)
  if(MD9_SANITIZE OR MD9_FUZZ)
    message(FATAL_ERROR "MD9_VALGRIND needs a build without sanitizers")
  endif()
  find_program(MD9_VALGRIND_BIN valgrind REQUIRED)
  set(MD9_REL_VALGRIND
    "MD9_WRAPPER=${MD9_VALGRIND_BIN} -q --error-exitcode=97 --leak-check=full --errors-for-leak-kinds=definite,indirect --show-leak-kinds=definite,indirect --track-fds=no"
    "MD9_INTEGRITY_BYTES=33554432")
  foreach(subject ${MD9_REL_FAULT_SUBJECTS})
    foreach(case ${MD9_REL_FAULT_${subject}_CASES})
      md9_rel_test(valgrind_fault_${case} test_fault_${subject}.py ${case} 600 "valgrind"
                   ${MD9_REL_VALGRIND})
    endforeach()
  endforeach()
  foreach(case ${MD9_REL_INTEGRITY_CASES})
    md9_rel_test(valgrind_integrity_${case} test_integrity.py ${case} 900 "valgrind"
                 ${MD9_REL_VALGRIND})
  endforeach()
endif()

# ---- fuzzing: the control channel (fuzz/fuzz_control.c) ----
# Seeds: fuzz/corpus/control/, written by fuzz/make_control_corpus.py.
if(MD9_FUZZ)
  md9_add_fuzzer(fuzz_control md9relay ${PROJECT_SOURCE_DIR}/fuzz/fuzz_control.c)
endif()
