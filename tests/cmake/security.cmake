# Security tests (issue 15): real unprivileged users made by each test
# (useradd/userdel), md9 dropped to one of them, Debian's xrdp run as its own
# user, impostors as others. Needs root; without it (or without xrdp) a test
# exits 77 and ctest reports it as skipped. Included from
# tests/CMakeLists.txt.
#
#   ctest -L security

set(MD9_SECURITY_ROOT "${PROJECT_SOURCE_DIR}")

function(md9_security_test name script case)
  add_test(NAME ${name}
           COMMAND /usr/bin/python3 ${MD9_SECURITY_ROOT}/tests/security/${script} ${case}
           WORKING_DIRECTORY ${MD9_SECURITY_ROOT})
  set_tests_properties(${name} PROPERTIES
    ENVIRONMENT "MD9_BIN=$<TARGET_FILE:md9>;MD9_HOSTSIM=$<TARGET_FILE:md9-hostsim>;MD9_REPO=${MD9_SECURITY_ROOT};PYTHONDONTWRITEBYTECODE=1"
    TIMEOUT 90 SKIP_RETURN_CODE 77 LABELS "security")
endfunction()

# The server is authenticated before a byte of the host's stream reaches it.
foreach(kind tcp unix)
  foreach(mode auto tls rdp passthrough auto_pin tls_pin)
    md9_security_test(security_impostor_${kind}_${mode} test_impostor.py impostor_${kind}_${mode})
  endforeach()
endforeach()
foreach(case tcp_auto tcp_tls_pin tcp_rdp unix_auto unix_auto_pin)
  md9_security_test(security_legit_${case} test_impostor.py legit_${case})
endforeach()

# After md9 setup, in each mode, no xrdp listener the network reaches
# serves unencrypted RDP (a real xrdp and an RDP client probe).
foreach(case control_unencrypted_detected
             setup_auto_unix setup_auto_tcp setup_auto_rdp_unix setup_auto_rdp_tcp
             setup_rdp_unix setup_rdp_tcp setup_tls_unix setup_tls_tcp
             setup_passthrough_unix setup_passthrough_tcp)
  md9_security_test(security_${case} test_setup_xrdp.py ${case})
endforeach()

# The status group asks md9 status and runs doctor; it cannot replace the
# socket nor open a channel device (made as the shipped udev rule says).
md9_security_test(security_status_group test_status_group.py status_group)
