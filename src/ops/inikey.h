/* Reading and setting one key in the text of an INI-style file (xrdp.ini,
 * sesman.ini, Xwrapper.config, md9.conf), keeping every other line as it
 * was. The one line-level INI reader md9 has: doctor and setup read xrdp's
 * files with it (xrdp_ini.c), the desktop steps edit with it. md9.conf
 * itself is parsed by libinih (config.c); inikey only edits it. */
#ifndef MD9_INIKEY_H
#define MD9_INIKEY_H

#include <stdbool.h>
#include <stddef.h>

/* The value of the last uncommented "key=value" (key case-insensitive,
 * spaces around '=' allowed) in [section] ("" = lines before any section
 * header), trimmed, copied to out; false when there is none. The last one,
 * because that is the one xrdp (and libinih) end up with. */
bool inikey_get(const char *text, const char *section, const char *key, char *out, size_t cap);
/* The same for the first assignment: for keys that form a list, one item a
 * line (sesman.ini's [Xorg] param=, the X server's command line in order). */
bool inikey_get_first(const char *text, const char *section, const char *key, char *out,
                      size_t cap);

/* A copy of text with key set to value in [section]: the last assignment is
 * replaced, or "key=value" is added after the section's last assignment (or
 * right after its header; or in a new section at the end; for "" at the
 * top). *changed says whether the text differs. NULL: out of memory. */
char *inikey_set(const char *text, const char *section, const char *key, const char *value,
                 bool *changed);

/* The same for files where the lines before any header belong to [section]
 * too when top (md9.conf: libinih gives md9 those as section ""), with a new
 * line written "key<sep>value" (" = " in md9.conf). */
char *inikey_set_in(const char *text, const char *section, bool top, const char *key,
                    const char *sep, const char *value, bool *changed);

#endif
