# Run by `cmake --install` (install(SCRIPT)): CMAKE_INSTALL_PREFIX is the
# install-time prefix; file(INSTALL) adds $DESTDIR. Set by the caller:
# MD9_PKG_DIR, MD9_BINDIR, MD9_STAGE.
set(_prefix "${CMAKE_INSTALL_PREFIX}")
if(IS_ABSOLUTE "${MD9_BINDIR}")
	set(_bin "${MD9_BINDIR}/md9")
else()
	set(_bin "${_prefix}/${MD9_BINDIR}/md9")
endif()
# Files systemd and udev find under the prefix's lib/ (/usr/lib/..., /usr/local/lib/...).
if(_prefix STREQUAL "/")
	set(_lib "/usr/lib")
else()
	set(_lib "${_prefix}/lib")
endif()
file(MAKE_DIRECTORY "${MD9_STAGE}")
foreach(_pair "md9.service.in;md9.service" "60-md9.rules.in;60-md9.rules")
	list(GET _pair 0 _in)
	list(GET _pair 1 _out)
	file(READ "${MD9_PKG_DIR}/${_in}" _text)
	string(REPLACE "@MD9_BIN@" "${_bin}" _text "${_text}")
	file(WRITE "${MD9_STAGE}/${_out}" "${_text}")
endforeach()
file(INSTALL DESTINATION "${_lib}/systemd/system" TYPE FILE
	FILES "${MD9_STAGE}/md9.service")
file(INSTALL DESTINATION "${_lib}/udev/rules.d" TYPE FILE
	FILES "${MD9_STAGE}/60-md9.rules")
file(INSTALL DESTINATION "${_lib}/modules-load.d" TYPE FILE
	FILES "${MD9_PKG_DIR}/modules-load.conf" RENAME md9.conf)
file(INSTALL DESTINATION "${_lib}/sysusers.d" TYPE FILE
	FILES "${MD9_PKG_DIR}/sysusers.conf" RENAME md9.conf)
# The configuration: md9 reads /etc/md9/md9.conf, so the system prefixes
# (/usr, /usr/local) install it there; another prefix gets <prefix>/etc
# (then: md9 run --config <prefix>/etc/md9/md9.conf). An existing file is
# the administrator's and stays.
if(_prefix STREQUAL "/usr" OR _prefix STREQUAL "/usr/local" OR _prefix STREQUAL "/")
	set(_etc "/etc")
else()
	set(_etc "${_prefix}/etc")
endif()
if(EXISTS "$ENV{DESTDIR}${_etc}/md9/md9.conf")
	message(STATUS "Keeping: $ENV{DESTDIR}${_etc}/md9/md9.conf")
else()
	file(INSTALL DESTINATION "${_etc}/md9" TYPE FILE FILES "${MD9_PKG_DIR}/md9.conf")
endif()
