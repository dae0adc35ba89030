/* Setting one key in the text of an INI-style file (xrdp's sesman.ini,
 * Xwrapper.config), keeping every other line as it was. */
#ifndef MD9_INIKEY_H
#define MD9_INIKEY_H

#include <stdbool.h>
#include <stddef.h>

/* The value of the first uncommented "key=value" (key case-insensitive,
 * spaces around '=' allowed) in [section] ("" = lines before any section
 * header), trimmed, copied to out; false when there is none. */
bool inikey_get(const char *text, const char *section, const char *key, char *out, size_t cap);

/* A copy of text with key set to value in [section]: the first assignment is
 * replaced, or "key=value" is added after the section's last assignment (or
 * right after its header; or in a new section at the end; for "" at the
 * top). *changed says whether the text differs. NULL: out of memory. */
char *inikey_set(const char *text, const char *section, const char *key, const char *value,
                 bool *changed);

#endif
