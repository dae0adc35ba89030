# Integration tests (tests/integration/): md9 + md9-hostsim (raw front end)
# + a private xrdp started by each test (its own xrdp.ini copy, a free port),
# all on 127.0.0.1.  Python 3 standard library only.
#
# Included from tests/CMakeLists.txt.
#
# Needs root (xrdp reads /etc/xrdp's keys) and xrdp + openssl installed;
# without them each test exits 77 and ctest reports it as skipped.
#
# Each test starts its own xrdp on a free port (in a private mount namespace
# when possible), its own hostsim bus in a temp dir and its own md9, so the
# tests run in parallel (ctest -j) without a RESOURCE_LOCK.
#
#   ctest -R integration_            all of them (about 15 s serial)
#   ctest -L integration             same, by label
#   python3 tests/integration/test_security_matrix.py tls_auto   one by hand

set(MD9_INTEGRATION_PYTHON /usr/bin/python3 CACHE FILEPATH
    "Python 3 interpreter for the integration tests")

function(md9_integration_test name script case)
  add_test(NAME ${name}
           COMMAND ${MD9_INTEGRATION_PYTHON} ${PROJECT_SOURCE_DIR}/tests/integration/${script} ${case}
           WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
  set_tests_properties(${name} PROPERTIES
    ENVIRONMENT "MD9_BIN=$<TARGET_FILE:md9>;MD9_HOSTSIM=$<TARGET_FILE:md9-hostsim>;PYTHONDONTWRITEBYTECODE=1"
    # Every wait inside has its own deadline (<= 10 s); a case takes 0.5-3 s.
    TIMEOUT 60
    SKIP_RETURN_CODE 77
    LABELS "integration")
endfunction()

# 1. security matrix: xrdp security_layer x md9 --security (the expected
#    outcome of every cell is the MATRIX table in the script).
#    Layers rdp-high/-low/-fips are security_layer=rdp with that crypt_level:
#    standard RDP security with encryption, which no md9 mode can serve.
foreach(layer negotiate tls rdp rdp-high)
  foreach(mode auto tls rdp passthrough)
    md9_integration_test(integration_matrix_${layer}_${mode}
                         test_security_matrix.py ${layer}_${mode})
  endforeach()
endforeach()
foreach(layer rdp-low rdp-fips)
  md9_integration_test(integration_matrix_${layer}_auto test_security_matrix.py ${layer}_auto)
endforeach()
foreach(mode auto rdp)
  md9_integration_test(integration_matrix_negotiate-none_${mode}
                       test_security_matrix.py negotiate-none_${mode})
endforeach()
# A host Connection Request without RDP_NEG_REQ gets a legacy Connection
# Confirm (MS-RDPBCGR 3.3.5.3.2), whatever md9 asked the server for.
foreach(case negotiate_auto rdp_auto rdp_passthrough)
  md9_integration_test(integration_legacy_${case} test_security_matrix.py legacy_${case})
endforeach()

# A second RDP server: FreeRDP's shadow server (freerdp2-shadow-x11) with
# /sec:tls|rdp|nla or all protocols ("all") x md9 --security (the expected
# outcome of every cell is the CELLS table in the script).
foreach(sec all tls rdp nla)
  foreach(mode auto tls rdp passthrough)
    md9_integration_test(integration_shadow_${sec}_${mode}
                         test_servers.py shadow-${sec}_${mode})
  endforeach()
endforeach()

# 2-5. the daemon: concurrency, backend down, control channel, garbage.
foreach(case concurrent_sessions backend_down control_reset version_reject
             version_malformed garbage_from_host)
  md9_integration_test(integration_daemon_${case} test_daemon_robustness.py ${case})
endforeach()
