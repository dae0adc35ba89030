#include "sessioncheck.h"

#include "inikey.h"
#include "xrdp_ini.h"
#include "path.h"
#include "textfile.h"

#include <ctype.h>
#include <errno.h>
#include <glob.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

/* The small configuration files the checks read. */
static char *slurp(const char *path)
{
	int err;

	return md9_textfile_read(path, 256 * 1024, NULL, &err);
}

static bool exists(const char *root, const char *rel)
{
	char p[PATH_MAX];

	return md9_path_join(p, sizeof(p), root, rel)[0] && access(p, F_OK) == 0;
}

/* The first path matching root/pattern, copied to out. */
static bool first_match(const char *root, const char *pattern, char *out, size_t cap)
{
	char p[PATH_MAX];
	glob_t g = {0};
	bool ok;

	if (!md9_path_join(p, sizeof(p), root, pattern)[0])
		return false;
	ok = glob(p, GLOB_NOSORT, NULL, &g) == 0 && g.gl_pathc > 0;
	if (ok)
		snprintf(out, cap, "%s", g.gl_pathv[0]);
	globfree(&g);
	return ok;
}

/* The verdict and its line: what doctor prints for the check. */
__attribute__((format(printf, 3, 4))) static void say(struct sessioncheck *c, int verdict,
                                                      const char *fmt, ...)
{
	va_list ap;

	c->verdict = verdict;
	va_start(ap, fmt);
	vsnprintf(c->what, sizeof(c->what), fmt, ap);
	va_end(ap);
}

/* What the administrator can do about it. */
__attribute__((format(printf, 2, 3))) static void suggest(struct sessioncheck *c, const char *fmt,
                                                          ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->fix, sizeof(c->fix), fmt, ap);
	va_end(ap);
}

void sessioncheck_drives(const char *etc, const char *dev, struct sessioncheck *c)
{
	char p[PATH_MAX], name[256] = "thinclient_drives", on[32];
	char *ini;

	md9_path_join(p, sizeof(p), etc, "xrdp/sesman.ini");
	c->fix[0] = '\0';
	if (!(ini = slurp(p))) {
		say(c, 1, "%s: %s: xrdp is not installed", p, strerror(errno));
		suggest(c, "apt-get install xrdp fuse3");
		return;
	}
	inikey_get(ini, "Chansrv", "FuseMountName", name, sizeof(name));
	if (inikey_get(ini, "Chansrv", "EnableFuseMount", on, sizeof(on)) &&
	    !md9_xrdp_ini_true(on)) {
		say(c, 1, "%s: EnableFuseMount=%s: the client's drives do not appear in sessions",
		    p, on);
		suggest(c, "remove EnableFuseMount=%s from [Chansrv] in %s", on, p);
	} else if (!exists(dev, "fuse")) {
		say(c, 1, "%s/fuse is missing: xrdp-chansrv cannot mount the client's drives", dev);
		suggest(c, "modprobe fuse");
	} else if (!exists(etc, "fuse.conf")) {
		/* both fuse (2) and fuse3 ship /etc/fuse.conf with fusermount */
		say(c, 1,
		    "%s/fuse.conf is missing: fusermount (package fuse3 or fuse) is not "
		    "installed, so "
		    "xrdp-chansrv cannot mount the client's drives",
		    etc);
		suggest(c, "apt-get install fuse3");
	} else {
		say(c, 0,
		    "the client's drives appear in the session under %s%s/<drive> (xrdp-chansrv, "
		    "FUSE)",
		    name[0] == '/' ? "" : "~/", name);
	}
	free(ini);
}

struct os_release {
	char id[64], version_id[32], codename[64];
};

static void os_release_read(const char *etc, struct os_release *o)
{
	char p[PATH_MAX], *text, *line, *save = NULL;

	memset(o, 0, sizeof(*o));
	md9_path_join(p, sizeof(p), etc, "os-release");
	if (!(text = slurp(p)))
		return;
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *eq = strchr(line, '='), *v;
		size_t n;
		if (!eq)
			continue;
		*eq = '\0';
		v = eq + 1;
		if (*v == '"' || *v == '\'')
			v++;
		n = strcspn(v, "\"'");
		v[n] = '\0';
		if (strcmp(line, "ID") == 0)
			snprintf(o->id, sizeof(o->id), "%s", v);
		else if (strcmp(line, "VERSION_ID") == 0)
			snprintf(o->version_id, sizeof(o->version_id), "%s", v);
		else if (strcmp(line, "VERSION_CODENAME") == 0)
			snprintf(o->codename, sizeof(o->codename), "%s", v);
	}
	free(text);
}

/* Where a distribution packages xrdp's sound module (packages.debian.org:
 * source pipewire-module-xrdp, binaries pipewire-module-xrdp and
 * libpipewire-0.3-modules-xrdp, in trixie and later and in
 * bookworm-backports; no PulseAudio module is packaged by Debian). */
static void audio_fix(const char *etc, char *fix, size_t cap)
{
	struct os_release o;

	os_release_read(etc, &o);
	if (strcmp(o.id, "debian") == 0 && strcmp(o.version_id, "12") == 0)
		snprintf(
		    fix, cap,
		    "Debian 12 has it only in bookworm-backports: add that suite, then apt-get "
		    "install -t bookworm-backports pipewire-module-xrdp");
	else if (strcmp(o.id, "debian") == 0 &&
	         (atoi(o.version_id) >= 13 || (!o.version_id[0] && o.codename[0])))
		snprintf(fix, cap, "apt-get install pipewire-module-xrdp");
	else if (strcmp(o.id, "debian") == 0)
		snprintf(fix, cap,
		         "Debian before 12 packages no xrdp sound module: build neutrinolabs' "
		         "pulseaudio-module-xrdp, or upgrade to Debian 13 (pipewire-module-xrdp)");
	else
		snprintf(
		    fix, cap,
		    "install xrdp's sound module for your sound server if %s%s%s packages it "
		    "(apt-cache policy pipewire-module-xrdp pulseaudio-module-xrdp), else build "
		    "neutrinolabs' pipewire-module-xrdp or pulseaudio-module-xrdp",
		    o.id[0] ? o.id : "your distribution", o.version_id[0] ? " " : "", o.version_id);
}

void sessioncheck_audio(const char *etc, const char *lib, struct sessioncheck *c)
{
	static const char *const pipewire[] = {"*/pipewire-0.3/libpipewire-module-xrdp.so",
	                                       "pipewire-0.3/libpipewire-module-xrdp.so", NULL};
	static const char *const pulse[] = {"pulse-*/modules/module-xrdp-sink.so",
	                                    "*/pulseaudio/modules/module-xrdp-sink.so",
	                                    "pulseaudio/modules/module-xrdp-sink.so", NULL};
	char found[PATH_MAX] = "";
	const char *server = NULL, *loader = NULL;

	c->fix[0] = '\0';
	for (size_t i = 0; pipewire[i] && !server; i++)
		if (first_match(lib, pipewire[i], found, sizeof(found))) {
			server = "PipeWire";
			loader = "xdg/autostart/pipewire-xrdp.desktop";
		}
	for (size_t i = 0; pulse[i] && !server; i++)
		if (first_match(lib, pulse[i], found, sizeof(found))) {
			server = "PulseAudio";
			loader = "xdg/autostart/pulseaudio-xrdp.desktop";
		}
	if (!server) {
		say(c, 1,
		    "no xrdp sound module (PipeWire or PulseAudio): sessions play no sound on the "
		    "client");
		audio_fix(etc, c->fix, sizeof(c->fix));
	} else if (!exists(etc, loader)) {
		say(c, 1,
		    "xrdp's %s module is there (%s) but nothing loads it in a session (%s/%s is "
		    "missing)",
		    server, found, etc, loader);
		suggest(c, "apt-get install %s",
		        server[1] == 'i' ? "pipewire-module-xrdp" : "pulseaudio-module-xrdp");
	} else {
		say(c, 0,
		    "xrdp's %s module (%s), loaded at session start by %s/%s: sound goes to the "
		    "client over rdpsnd",
		    server, found, etc, loader);
	}
}
