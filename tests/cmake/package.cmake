# The Debian package test (label "package"): packaging/test-package.sh builds
# the .deb from this build tree, installs it into a clean debootstrap root of
# this machine's release and runs md9 doctor, md9 setup --dry-run and
# systemd-analyze verify there. About a minute with Debian's mirror; it
# skips (77) only when the machine cannot debootstrap (not root, the mirror
# unreachable). Not in sanitizer or fuzzer builds: their binaries need the
# compiler's runtime, which a clean root does not have.
if(NOT MD9_SANITIZE AND NOT MD9_FUZZ)
	add_test(NAME package_deb
		COMMAND ${PROJECT_SOURCE_DIR}/packaging/test-package.sh ${CMAKE_BINARY_DIR})
	set_tests_properties(package_deb PROPERTIES
		LABELS package TIMEOUT 420 SKIP_RETURN_CODE 77)
endif()
