# Operations tests: configuration, status socket, doctor, setup, the daemon's
# systemd integration. Included from tests/CMakeLists.txt.

# The file-reading tests share one scratch directory (tmpdir_fixture.c).
foreach(t config inikey status)
  md9_add_test(test_${t} md9ops ${PROJECT_SOURCE_DIR}/tests/test_${t}.c
    ${PROJECT_SOURCE_DIR}/tests/tmpdir_fixture.c)
endforeach()
# test_config holds packaging/md9.conf and man/md9.conf.5 to the settings
# table (src/ops/config.c): the file must be what the table generates, and
# the man page must document every key with its default.
set_tests_properties(test_config PROPERTIES ENVIRONMENT
	"MD9_EXAMPLE_CONF=${PROJECT_SOURCE_DIR}/packaging/md9.conf;MD9_MAN_CONF=${PROJECT_SOURCE_DIR}/man/md9.conf.5")

# After a setting changed: cmake --build BUILD --target md9.conf rewrites
# packaging/md9.conf from the table.
add_executable(md9-conf-template ${PROJECT_SOURCE_DIR}/tests/tools/md9-conf-template.c)
target_link_libraries(md9-conf-template PRIVATE md9ops)
add_custom_target(md9.conf
	COMMAND md9-conf-template ${PROJECT_SOURCE_DIR}/packaging/md9.conf
	COMMENT "Writing packaging/md9.conf from the settings table")

set(_md9_ops_env
	"MD9_BIN=$<TARGET_FILE:md9>"
	"MD9_HOSTSIM=$<TARGET_FILE:md9-hostsim>"
	"MD9_REPO=${PROJECT_SOURCE_DIR}")
foreach(_t test_doctor test_setup test_setup_desktop)
	add_test(NAME ${_t} COMMAND /usr/bin/python3 ${PROJECT_SOURCE_DIR}/tests/ops/${_t}.py)
	set_tests_properties(${_t} PROPERTIES ENVIRONMENT "${_md9_ops_env}" TIMEOUT 120
		SKIP_RETURN_CODE 77 LABELS ops)
endforeach()
add_test(NAME test_ops_daemon COMMAND /usr/bin/python3 ${PROJECT_SOURCE_DIR}/tests/ops/test_daemon.py)
set_tests_properties(test_ops_daemon PROPERTIES ENVIRONMENT "${_md9_ops_env}" TIMEOUT 180
	SKIP_RETURN_CODE 77 LABELS ops)
# The same where md9 is installed (a system user md9 exists), in a private
# mount namespace over a copy of /etc (tests/ops/with_md9_user.sh).
add_test(NAME test_ops_daemon_md9_user COMMAND ${PROJECT_SOURCE_DIR}/tests/ops/with_md9_user.sh
	/usr/bin/python3 ${PROJECT_SOURCE_DIR}/tests/ops/test_daemon.py)
set_tests_properties(test_ops_daemon_md9_user PROPERTIES ENVIRONMENT "${_md9_ops_env}"
	TIMEOUT 180 SKIP_RETURN_CODE 77 LABELS ops)
# The shipped unit: systemd-analyze security exposure <= 2.5, user md9, no
# capabilities; the udev rule: /dev/uioN for user md9 alone.
add_test(NAME test_unit_security COMMAND ${PROJECT_SOURCE_DIR}/tests/ops/test_unit_security.sh)
set_tests_properties(test_unit_security PROPERTIES ENVIRONMENT "${_md9_ops_env}" TIMEOUT 60
	SKIP_RETURN_CODE 77 LABELS ops)
# The command line: one-line usage errors, strict numbers, every setting an
# option, help text and md9(8) in step.
add_test(NAME test_ops_cli COMMAND /usr/bin/python3 ${PROJECT_SOURCE_DIR}/tests/ops/test_cli.py)
set_tests_properties(test_ops_cli PROPERTIES ENVIRONMENT "${_md9_ops_env}" TIMEOUT 120
	LABELS ops)
