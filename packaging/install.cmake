# Installation (cmake --install, honouring CMAKE_INSTALL_PREFIX, --prefix and
# DESTDIR), and nothing else. Included at the end of the top-level CMakeLists.txt;
# paths are absolute, so the including directory does not matter.
#
#   bin/md9 (md9-hostsim is a test tool: built, never installed)
#   share/man/man8/md9.8, share/man/man5/md9.conf.5
#   lib/systemd/system/md9.service      (ExecStart = <prefix>/bin/md9)
#   lib/udev/rules.d/60-md9.rules       (RUN = <prefix>/bin/md9 bind-classes)
#   lib/modules-load.d/md9.conf, lib/sysusers.d/md9.conf
#   share/doc/md9/md9.conf.example, and /etc/md9/md9.conf (prefixes /usr and
#   /usr/local; <prefix>/etc/md9/md9.conf otherwise) when none exists yet
#   (never overwritten).

include_guard(GLOBAL)
include(GNUInstallDirs)

get_filename_component(MD9_PKG_ROOT "${CMAKE_CURRENT_LIST_DIR}/.." ABSOLUTE)
set(MD9_PKG_DIR "${MD9_PKG_ROOT}/packaging")


# ---- install ----
install(TARGETS md9 RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(FILES "${MD9_PKG_ROOT}/man/md9.8" DESTINATION ${CMAKE_INSTALL_MANDIR}/man8)
install(FILES "${MD9_PKG_ROOT}/man/md9.conf.5" DESTINATION ${CMAKE_INSTALL_MANDIR}/man5)
install(FILES "${MD9_PKG_DIR}/md9.conf" DESTINATION ${CMAKE_INSTALL_DOCDIR}
	RENAME md9.conf.example)
# Paths inside the unit and the rule follow the prefix given at install time
# (cmake --install --prefix), so they are written by an install script.
install(CODE "set(MD9_PKG_DIR \"${MD9_PKG_DIR}\")
set(MD9_BINDIR \"${CMAKE_INSTALL_BINDIR}\")
set(MD9_STAGE \"${CMAKE_BINARY_DIR}/packaging-stage\")")
install(SCRIPT "${MD9_PKG_DIR}/install-files.cmake")

