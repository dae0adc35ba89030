#include "doctor.h"

#include "backend.h"
#include "config.h"
#include "guid.h"
#include "log.h"
#include "passwd.h"
#include "path.h"
#include "peerauth.h"
#include "privdrop.h"
#include "probe.h"
#include "sessioncheck.h"
#include "status_query.h"
#include "sysfs.h"
#include "textfile.h"
#include "xrdp_ini.h"
#include "xrdp_listen.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

void md9_roots_default(struct md9_roots *r)
{
	r->sys = "/sys";
	r->proc = "/proc";
	r->etc = "/etc";
	r->dev = "/dev";
	r->run = "/run";
	r->lib = "/lib";
}

/* ---- small helpers ---- */

/* First line of a small file (a sysfs or procfs attribute), trimmed; ""
 * and false when unreadable. */
static bool read_line(const char *path, char *out, size_t cap)
{
	char buf[4096];
	ssize_t n = md9_textfile_read_into(AT_FDCWD, path, buf, sizeof(buf));
	size_t len;

	out[0] = '\0';
	if (n < 0)
		return false;
	buf[strcspn(buf, "\n")] = '\0';
	len = strlen(buf);
	while (len && isspace((unsigned char)buf[len - 1]))
		buf[--len] = '\0';
	snprintf(out, cap, "%s", buf);
	return true;
}

static bool is_dir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* ---- the report ---- */

enum verdict { V_OK, V_WARN, V_FAIL };

struct doctor {
	const struct md9_doctor_opts *o;
	const struct md9_roots *r;
	FILE *out;
	unsigned n[3];
	struct md9_config cfg;
	bool cfg_ok;
	bool real_roots;
	/* what later checks build on */
	bool hyperv, vmbus, uio_loaded;
	bool xrdp_present;
	bool backend_ok;
	struct md9_xrdp_ini xrdp;
	struct md9_vmbus_dev *ctrl;
	size_t nctrl;
	struct md9_vmbus_dev *data;
	size_t ndata;
};

static void report(struct doctor *dr, enum verdict v, const char *check, const char *fix,
                   const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void report(struct doctor *dr, enum verdict v, const char *check, const char *fix,
                   const char *fmt, ...)
{
	static const char *const names[] = {"ok", "warn", "FAIL"};
	char msg[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	dr->n[v]++;
	fprintf(dr->out, "%-4s  %-18s %s", names[v], check, msg);
	if (v != V_OK && fix && *fix)
		fprintf(dr->out, " -- fix: %s", fix);
	fputc('\n', dr->out);
	fflush(dr->out);
}

static const char *S(const char *s)
{
	return s && *s ? s : "(none)";
}

static void cpuid_vendor(char out[13])
{
	out[0] = '\0';
#if defined(__x86_64__) || defined(__i386__)
	{
		unsigned a, b, c, d;

		__cpuid(1, a, b, c, d);
		if (!(c & (1u << 31))) /* no hypervisor present bit */
			return;
		__cpuid(0x40000000, a, b, c, d);
		memcpy(out, &b, 4);
		memcpy(out + 4, &c, 4);
		memcpy(out + 8, &d, 4);
		out[12] = '\0';
		for (int i = 0; i < 12; i++)
			if (!isprint((unsigned char)out[i]))
				out[i] = out[i] ? '?' : '\0';
	}
#endif
}

static void check_hyperv(struct doctor *dr)
{
	char p[PATH_MAX], vendor[128], product[128], cpu[13] = "";
	bool dmi, dmi_ms, cpu_ms;
	static const char fix[] =
	    "md9 serves Hyper-V's Enhanced Session (vmconnect): run this system as a "
	    "Hyper-V virtual machine; on other hypervisors use their own console or a plain RDP "
	    "connection";

	dmi = read_line(md9_path_join(p, sizeof(p), dr->r->sys, "class/dmi/id/sys_vendor"), vendor,
	                sizeof(vendor));
	read_line(md9_path_join(p, sizeof(p), dr->r->sys, "class/dmi/id/product_name"), product,
	          sizeof(product));
	dmi_ms =
	    strcmp(vendor, "Microsoft Corporation") == 0 && strcmp(product, "Virtual Machine") == 0;
	if (dr->real_roots)
		cpuid_vendor(cpu);
	cpu_ms = strcmp(cpu, "Microsoft Hv") == 0;

	if (dmi_ms) {
		dr->hyperv = true;
		report(dr, V_OK, "hyper-v", NULL, "Hyper-V guest (DMI: %s, %s%s%s%s)", vendor,
		       product, dr->real_roots ? "; CPUID hypervisor \"" : "",
		       dr->real_roots ? S(cpu) : "", dr->real_roots ? "\"" : "");
	} else if (cpu_ms && !dmi) {
		dr->hyperv = true;
		report(dr, V_OK, "hyper-v", NULL,
		       "Hyper-V guest (CPUID hypervisor \"Microsoft Hv\"; no DMI tables)");
	} else if (cpu_ms) {
		report(dr, V_FAIL, "hyper-v", fix,
		       "not running on Hyper-V: CPUID says \"Microsoft Hv\" but DMI says \"%s\", "
		       "\"%s\" "
		       "(another hypervisor with Hyper-V enlightenments has no VMBus)",
		       S(vendor), S(product));
	} else {
		report(dr, V_FAIL, "hyper-v", fix, "not running on Hyper-V (DMI: %s%s%s%s%s%s%s)",
		       dmi ? "\"" : "", dmi ? S(vendor) : "no DMI tables", dmi ? "\", \"" : "",
		       dmi ? S(product) : "", dmi ? "\"" : "",
		       dr->real_roots ? "; CPUID hypervisor: " : "",
		       dr->real_roots ? (cpu[0] ? cpu : "none") : "");
	}
}

static void check_vmbus(struct doctor *dr)
{
	char p[PATH_MAX];

	dr->vmbus = is_dir(md9_path_join(p, sizeof(p), dr->r->sys, "bus/vmbus/devices"));
	if (dr->vmbus)
		report(dr, V_OK, "hv_vmbus", NULL, "VMBus present (%s)", p);
	else if (dr->hyperv)
		report(dr, V_FAIL, "hv_vmbus", "modprobe hv_vmbus (the kernel needs CONFIG_HYPERV)",
		       "no VMBus: %s missing", p);
	else
		report(dr, V_FAIL, "hv_vmbus", "only Hyper-V guests have a VMBus (see hyper-v)",
		       "no VMBus: %s missing", p);
}

/* modules.dep lines start "kernel/drivers/uio/uio_hv_generic.ko[.xz|.zst|.gz]:";
 * modules.builtin lines are "kernel/drivers/uio/uio_hv_generic.ko". */
static bool module_listed(const char *path, bool dep)
{
	FILE *f = fopen(path, "r");
	char line[4096];
	bool found = false;

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f)) {
		char *end = dep ? strchr(line, ':') : line + strcspn(line, "\r\n");
		char *base;
		if (!end)
			continue;
		*end = '\0';
		base = strrchr(line, '/');
		base = base ? base + 1 : line;
		found = strncmp(base, "uio_hv_generic.ko", 17) == 0 &&
		        (base[17] == '\0' || base[17] == '.');
	}
	fclose(f);
	return found;
}

static void check_module(struct doctor *dr)
{
	char p[PATH_MAX], rel[256], dir[PATH_MAX], f[PATH_MAX + 32];
	struct utsname u;

	dr->uio_loaded =
	    is_dir(md9_path_join(p, sizeof(p), dr->r->sys, "bus/vmbus/drivers/uio_hv_generic"));
	if (!read_line(md9_path_join(p, sizeof(p), dr->r->proc, "sys/kernel/osrelease"), rel,
	               sizeof(rel)) ||
	    !rel[0]) {
		if (dr->real_roots && uname(&u) == 0)
			snprintf(rel, sizeof(rel), "%s", u.release);
	}
	snprintf(dir, sizeof(dir), "%s/modules/%s", dr->r->lib, rel[0] ? rel : "UNKNOWN");
	snprintf(f, sizeof(f), "%s/modules.builtin", dir);
	if (module_listed(f, false)) {
		report(dr, V_OK, "uio_hv_generic", NULL, "built into kernel %s", rel);
		return;
	}
	snprintf(f, sizeof(f), "%s/modules.dep", dir);
	if (module_listed(f, true)) {
		report(dr, V_OK, "uio_hv_generic", NULL, "available as a module of kernel %s", rel);
		return;
	}
	if (dr->uio_loaded) {
		report(dr, V_OK, "uio_hv_generic", NULL, "loaded (not listed in %s)", dir);
		return;
	}
	if (!is_dir(dir)) {
		report(
		    dr, V_FAIL, "uio_hv_generic",
		    "install the modules of the running kernel (Debian: linux-image-$(uname -r); "
		    "Ubuntu: linux-modules-extra-$(uname -r)), or boot a kernel that has them",
		    "cannot tell: %s does not exist (kernel %s)", dir, rel[0] ? rel : "unknown");
		return;
	}
	report(
	    dr, V_FAIL, "uio_hv_generic",
	    "install a kernel built with CONFIG_UIO_HV_GENERIC=m (Debian's linux-image-amd64 has "
	    "it; Ubuntu ships it in linux-modules-extra-$(uname -r))",
	    "kernel %s does not ship uio_hv_generic (not in %s/modules.dep nor modules.builtin)",
	    rel, dir);
}

static void check_loaded(struct doctor *dr)
{
	char p[PATH_MAX];

	md9_path_join(p, sizeof(p), dr->r->sys, "bus/vmbus/drivers/uio_hv_generic");
	if (dr->uio_loaded)
		report(dr, V_OK, "module loaded", NULL, "uio_hv_generic is loaded (%s)", p);
	else if (!dr->vmbus)
		report(dr, V_FAIL, "module loaded", "needs hv_vmbus (see above)",
		       "uio_hv_generic is not loaded (%s missing)", p);
	else
		report(dr, V_FAIL, "module loaded",
		       "modprobe uio_hv_generic; md9 setup makes it load at boot "
		       "(/etc/modules-load.d/md9.conf)",
		       "uio_hv_generic is not loaded (%s missing)", p);
}

static void scan_devices(struct doctor *dr)
{
	char p[PATH_MAX];

	if (!dr->vmbus)
		return;
	md9_path_join(p, sizeof(p), dr->r->sys, "bus/vmbus/devices");
	md9_sysfs_scan(p, &md9_guid_control_class, 1, &dr->ctrl, &dr->nctrl);
	md9_sysfs_scan(p, &md9_guid_data_class, 1, &dr->data, &dr->ndata);
}

static void check_offered(struct doctor *dr)
{
	char g[MD9_GUID_STRLEN];

	md9_guid_format(&md9_guid_control_class, g);
	if (!dr->vmbus) {
		report(dr, V_FAIL, "control channel", "needs hv_vmbus (see above)",
		       "no VMBus, so no SynthRdp control channel (class %s)", g);
		return;
	}
	if (dr->nctrl) {
		report(dr, V_OK, "control channel", NULL,
		       "the host offers the SynthRdp control channel: device %s (relid %u)%s",
		       dr->ctrl[0].name, dr->ctrl[0].relid,
		       dr->ndata ? "; data channel(s) offered too" : "");
		return;
	}
	report(
	    dr, V_FAIL, "control channel",
	    "on the Hyper-V host, as administrator: Set-VMHost -EnableEnhancedSessionMode $true "
	    "(and keep the VM on the VMBus transport: Set-VM -VMName NAME "
	    "-EnhancedSessionTransportType VMBus); Enhanced Session needs a Windows 8.1 / "
	    "Server 2012 R2 host or later; then reconnect vmconnect",
	    "the host does not offer the SynthRdp control channel (no VMBus device of class %s): "
	    "Enhanced Session mode is off in the host's policy, or the host is too old",
	    g);
}

/* Basename of <devices>/<name>/driver; "" when unbound. */
static void driver_of(struct doctor *dr, const struct md9_vmbus_dev *dev, char *out, size_t cap)
{
	char p[PATH_MAX], link[PATH_MAX];
	ssize_t n;

	out[0] = '\0';
	snprintf(p, sizeof(p), "%s/bus/vmbus/devices/%s/driver", dr->r->sys, dev->name);
	n = readlink(p, link, sizeof(link) - 1);
	if (n < 0)
		return;
	link[n] = '\0';
	if ((size_t)snprintf(out, cap, "%s", strrchr(link, '/') ? strrchr(link, '/') + 1 : link) >=
	    cap)
		out[0] = '\0'; /* no driver has so long a name */
}

static void check_bound(struct doctor *dr)
{
	static const char fix[] =
	    "md9 bind-classes (as root); at boot the udev rule 60-md9.rules does it "
	    "(md9 setup installs it); md9 started as root does it too";
	char drv[256], bad[640] = "";
	size_t nbound = 0, total = dr->nctrl + dr->ndata;

	if (!dr->nctrl) {
		report(dr, V_FAIL, "classes bound", "needs the control channel (see above)",
		       "no SynthRdp device to check");
		return;
	}
	for (size_t i = 0; i < total; i++) {
		const struct md9_vmbus_dev *dv =
		    i < dr->nctrl ? &dr->ctrl[i] : &dr->data[i - dr->nctrl];
		driver_of(dr, dv, drv, sizeof(drv));
		if (strcmp(drv, "uio_hv_generic") == 0 && dv->uio_index >= 0) {
			nbound++;
		} else if (!bad[0]) {
			snprintf(bad, sizeof(bad), "%s %s is %s%s",
			         i < dr->nctrl ? "control" : "data", dv->name,
			         drv[0] ? "bound to " : "not bound to any driver",
			         drv[0] ? drv : "");
		}
	}
	if (nbound == total)
		report(dr, V_OK, "classes bound", NULL,
		       "%zu SynthRdp device(s) bound to uio_hv_generic (control: uio%d)", nbound,
		       dr->ctrl[0].uio_index);
	else
		report(dr, V_FAIL, "classes bound", fix, "%s", bad);
}

static void check_nodes(struct doctor *dr)
{
	char p[PATH_MAX], pw[PATH_MAX], grp[PATH_MAX], gname[64], node[64];
	struct stat st;
	long md9_uid =
	    md9_passwd_id(md9_path_join(pw, sizeof(pw), dr->r->etc, "passwd"), MD9_DEFAULT_USER);
	static const char rule_fix[] =
	    "md9 setup installs the udev rule (60-md9.rules: OWNER=md9, MODE=0600); then: "
	    "udevadm trigger --subsystem-match=uio --action=add";

	if (!dr->nctrl || dr->ctrl[0].uio_index < 0) {
		report(dr, V_FAIL, "device nodes", "needs the classes bound (see above)",
		       "no uio device to check");
		return;
	}
	snprintf(node, sizeof(node), "uio%d", dr->ctrl[0].uio_index);
	md9_path_join(p, sizeof(p), dr->r->dev, node);
	if (stat(p, &st) < 0) {
		report(dr, V_FAIL, "device nodes",
		       "udev creates it: check that systemd-udevd runs (udevadm trigger "
		       "--subsystem-match=uio)",
		       "%s: %s", p, strerror(errno));
		return;
	}
	md9_passwd_name(md9_path_join(grp, sizeof(grp), dr->r->etc, "group"), (long)st.st_gid,
	                gname, sizeof(gname));
	/* Whoever can open a channel's node can map its rings: read the
	 * session (keystrokes, the password) and inject input. */
	if (st.st_mode & 0077) {
		report(dr, V_FAIL, "device nodes", rule_fix,
		       "%s: group %s, mode %04o: others than md9 can open it and read every "
		       "session",
		       p, gname[0] ? gname : "?", (unsigned)(st.st_mode & 07777));
		return;
	}
	if (md9_uid >= 0 && (long)st.st_uid == md9_uid) {
		report(dr, V_OK, "device nodes", NULL, "%s: owner md9, mode %04o: md9's alone", p,
		       (unsigned)(st.st_mode & 07777));
		return;
	}
	report(dr, V_WARN, "device nodes", rule_fix,
	       "%s: owner uid %ld, mode %04o: user md9 cannot open it (only md9 run as root can)",
	       p, (long)st.st_uid, (unsigned)(st.st_mode & 07777));
}

static void check_user(struct doctor *dr)
{
	char p[PATH_MAX];
	long uid =
	    md9_passwd_id(md9_path_join(p, sizeof(p), dr->r->etc, "passwd"), MD9_DEFAULT_USER);

	if (uid > 0)
		report(dr, V_OK, "md9 user", NULL, "user md9 exists (uid %ld): md9 drops to it",
		       uid);
	else
		report(dr, V_WARN, "md9 user",
		       "md9 setup creates it (or: adduser --system --group md9)",
		       "no user md9 in %s: md9 started as root stays root", p);
}

static void check_config(struct doctor *dr)
{
	char p[PATH_MAX];
	const char *path = dr->o->config;
	bool optional = !path;
	const char *why;
	char reason[400];

	if (!path)
		path = md9_path_join(p, sizeof(p), dr->r->etc, "md9/md9.conf");
	md9_config_defaults(&dr->cfg);
	dr->cfg_ok = md9_config_load(&dr->cfg, path, optional) == 0;
	if (!dr->cfg_ok)
		md9_config_defaults(&dr->cfg);
	/* md9.c checked the flags already: they apply. */
	if (dr->o->security)
		md9_config_set(&dr->cfg, "security", dr->o->security, &why);
	if (dr->o->backend)
		md9_config_set(&dr->cfg, "backend", dr->o->backend, &why);
	if (!dr->cfg_ok) {
		report(dr, V_FAIL, "configuration",
		       "correct the line named in the error above (md9 run refuses this file)",
		       "%s does not load; the checks below use the defaults", path);
	} else if (md9_config_finish(&dr->cfg, reason, sizeof(reason)) < 0) {
		report(dr, V_FAIL, "configuration", "correct md9.conf (md9 run refuses it)",
		       "%s: %s", path, reason);
	} else if (access(path, F_OK) < 0) {
		report(dr, V_OK, "configuration", NULL,
		       "%s absent: built-in defaults (security %s, server %s)", path,
		       md9_security_name(dr->cfg.security), dr->cfg.backend.spec);
	} else {
		report(dr, V_OK, "configuration", NULL, "%s: security %s, server %s", path,
		       md9_security_name(dr->cfg.security), dr->cfg.backend.spec);
	}
}

static void check_daemon(struct doctor *dr)
{
	char path[PATH_MAX], *answer = NULL, *line, *nl;
	const char *sock = dr->cfg.status_socket;
	int err;

	if (!sock[0]) {
		report(dr, V_WARN, "md9 running", "set status_socket in md9.conf",
		       "status_socket is off: cannot ask md9");
		return;
	}
	if (strncmp(sock, "/run/", 5) == 0)
		snprintf(path, sizeof(path), "%s/%s", dr->r->run, sock + 5);
	else
		snprintf(path, sizeof(path), "%s", sock);
	err = md9_status_query_buf(path, false, dr->o->timeout_ms, &answer);
	if (err == -EACCES || err == -EPERM) {
		report(dr, V_WARN, "md9 running",
		       "run md9 doctor as root or as a member of group md9-status",
		       "%s: permission denied", path);
		return;
	}
	if (err) {
		report(dr, V_FAIL, "md9 running",
		       "systemctl enable --now md9 (without systemd: md9 run)",
		       "md9 is not running: nothing answers on %s (%s)", path, strerror(-err));
		return;
	}
	line = strstr(answer, "control channel: ");
	if (line && (nl = strchr(line, '\n')))
		*nl = '\0';
	report(dr, V_OK, "md9 running", NULL, "md9 answers on %s: %s", path,
	       line ? line : "(no control channel line)");
	free(answer);
}

/* Who serves the backend: the same check md9 makes before each session
 * (peerauth.h), waiting up to the timeout for a tcp server to accept. */
static int backend_owner(struct doctor *dr, int fd, uid_t *uid, char *why, size_t cap)
{
	struct md9_peer_policy pol = dr->cfg.peer;
	const struct passwd *me =
	    getpwnam(dr->cfg.run_user[0] ? dr->cfg.run_user : MD9_DEFAULT_USER);
	int rc, waited = 0;

	/* Allowed are root, the server user and md9's own user: not whoever
	 * runs doctor. */
	pol.self_set = true;
	pol.self_uid = me ? me->pw_uid : 0;
	while ((rc = md9_peerauth_check(fd, &dr->cfg.backend, &pol, uid, why, cap)) ==
	           MD9_PEERAUTH_PENDING &&
	       waited < dr->o->timeout_ms) {
		poll(NULL, 0, 10);
		waited += 10;
	}
	return rc;
}

static void check_backend(struct doctor *dr)
{
	const struct md9_backend *b = &dr->cfg.backend;
	char why[400], who[96];
	struct pollfd p;
	uid_t uid = (uid_t)-1;
	int fd, err = 0, r, auth = MD9_PEERAUTH_REFUSED;

	if (b->family == 0) {
		struct md9_backend tmp = *b;
		if (md9_backend_resolve(&tmp, why, sizeof(why)) < 0) {
			report(dr, V_FAIL, "rdp server", "correct backend in md9.conf", "%s", why);
			return;
		}
		dr->cfg.backend = tmp;
	}
	fd = md9_backend_connect(b);
	if (fd < 0) {
		err = fd;
	} else {
		p.fd = fd;
		p.events = POLLOUT;
		do {
			r = poll(&p, 1, dr->o->timeout_ms);
		} while (r < 0 && errno == EINTR);
		err = r == 0 ? -ETIMEDOUT : r < 0 ? -errno : md9_backend_connected(fd);
		if (!err)
			auth = backend_owner(dr, fd, &uid, why, sizeof(why));
		close(fd);
	}
	dr->backend_ok = !err && auth == MD9_PEERAUTH_OK;
	if (err) {
		report(
		    dr, V_FAIL, "rdp server",
		    "start the RDP server: systemctl enable --now xrdp (apt-get install xrdp), or "
		    "set backend in md9.conf to where your RDP server listens",
		    "nothing accepts connections at %s (%s)", b->spec, strerror(-err));
		return;
	}
	if (auth == MD9_PEERAUTH_OK) {
		if (uid == (uid_t)-1)
			report(dr, V_OK, "rdp server", NULL,
			       "%s accepts connections (a vsock port below 1024: root's)", b->spec);
		else
			report(dr, V_OK, "rdp server", NULL,
			       "%s accepts connections; it runs as %s: md9 serves it", b->spec,
			       md9_peer_user_name(uid, who, sizeof(who)));
		return;
	}
	report(dr, V_FAIL, "rdp server",
	       "find and stop what listens there (ss -ltnpe, or the socket's owner), start the "
	       "RDP server; if it really runs as another user, name it in server_user",
	       "%s: md9 would refuse every session", why);
}

/* Talk to the server as md9 will (probe.c): the verdict md9's sessions
 * would reach, before any host depends on it. */
static void check_server(struct doctor *dr)
{
	struct md9_probe_result r;
	const char *spec = dr->cfg.backend.spec, *mode = md9_security_name(dr->cfg.security);

	if (!dr->backend_ok) {
		report(dr, V_FAIL, "rdp security", "needs the rdp server (see above)",
		       "cannot ask the server at %s (md9 %s mode)", spec, mode);
		return;
	}
	if (md9_probe_server(&dr->cfg.backend, dr->cfg.security, &dr->cfg.tls_pin,
	                     dr->o->timeout_ms, &r)) {
		if (r.verdict == MD9_PROBE_TLS)
			report(dr, V_OK, "rdp security", NULL,
			       "TLS ok: %s (md9 %s mode) selected SSL; md9 does TLS with it (%s); "
			       "MCS Connect-Response without standard RDP encryption",
			       spec, mode, r.tls);
		else if (r.verdict == MD9_PROBE_PLAIN)
			report(dr, V_OK, "rdp security", NULL,
			       "standard RDP security without encryption ok: %s (md9 %s mode%s) "
			       "selected RDP; MCS Connect-Response with encryption NONE",
			       spec, mode,
			       r.retried ? ", asked again after SSL_NOT_ALLOWED_BY_SERVER" : "");
		else
			report(dr, V_OK, "rdp security", NULL,
			       "vmconnect mode ok: %s (md9 %s mode) selected %s and answered the "
			       "host's plaintext Connect-Initial",
			       spec, mode, x224_protocol_name(r.selected));
		return;
	}
	report(dr, V_FAIL, "rdp security",
	       r.fix ? r.fix : "make the server at the backend answer RDP (see its log)",
	       "%s: %s (md9 %s mode, asked the server for %s): %s",
	       md9_probe_verdict_name(r.verdict), spec, mode, x224_protocol_name(r.asked), r.why);
}

static void check_xrdp(struct doctor *dr)
{
	char p[PATH_MAX], problems[1024] = "", fixes[1024] = "";
	struct md9_xrdp_ini *x = &dr->xrdp;
	enum md9_security mode = dr->cfg.security;
	const char *sl = x->security_layer, *cl = x->crypt_level;
	bool sl_rdp, sl_tls, sl_neg, cl_none;
	unsigned port;
	int err;

#define PROBLEM(fix, ...)                                                                          \
	do {                                                                                       \
		size_t l_ = strlen(problems);                                                      \
		snprintf(problems + l_, sizeof(problems) - l_, "%s", l_ ? "; " : "");              \
		l_ = strlen(problems);                                                             \
		snprintf(problems + l_, sizeof(problems) - l_, __VA_ARGS__);                       \
		l_ = strlen(fixes);                                                                \
		snprintf(fixes + l_, sizeof(fixes) - l_, "%s%s", l_ ? "; " : "", fix);             \
	} while (0)

	err = md9_xrdp_ini_read(md9_path_join(p, sizeof(p), dr->r->etc, "xrdp/xrdp.ini"), x);
	dr->xrdp_present = err == 0;
	if (err) {
		report(
		    dr, V_WARN, "xrdp config",
		    "apt-get install xrdp, or set backend in md9.conf to your RDP server",
		    "%s: %s: xrdp is not installed (md9 works with any RDP server at its backend)",
		    p, strerror(-err));
		return;
	}
	sl_rdp = strcasecmp(sl, "rdp") == 0;
	sl_tls = strcasecmp(sl, "tls") == 0;
	sl_neg = strcasecmp(sl, "negotiate") == 0;
	cl_none = strcasecmp(cl, "none") == 0;
	if (dr->cfg.backend.family == AF_UNIX || dr->cfg.backend.family == AF_VSOCK) {
		/* xrdp's unix:// and vsock:// listeners: not compared. */
	} else if ((port = (unsigned)strtoul(dr->cfg.backend.port, NULL, 10)) &&
	           !md9_xrdp_listen_tcp(x, port)) {
		PROBLEM("set port in [Globals] to include "
		        "the backend's port (e.g. port=3389)",
		        "xrdp listens on \"%s\", not on TCP port %u where md9 connects", x->port,
		        port);
	}
	switch (mode) {
	case MD9_SEC_RDP:
		if (sl_tls)
			PROBLEM("security_layer=negotiate (md9 setup does it)",
			        "security_layer=%s refuses the standard RDP security md9's rdp "
			        "mode asks for",
			        sl);
		if (!cl_none)
			PROBLEM("crypt_level=none (md9 setup does it)",
			        "crypt_level=%s: with standard RDP security xrdp would encrypt, "
			        "and the host does not (rdp mode needs crypt_level=none)",
			        cl);
		break;
	case MD9_SEC_TLS:
		if (sl_rdp)
			PROBLEM("security_layer=negotiate or tls",
			        "security_layer=rdp refuses the TLS md9's tls mode asks for");
		break;
	case MD9_SEC_AUTO:
		if (sl_rdp && !cl_none)
			PROBLEM("crypt_level=none, or security_layer=negotiate",
			        "security_layer=rdp makes xrdp choose standard RDP security, and "
			        "crypt_level=%s would encrypt it (the host does not)",
			        cl);
		break;
	case MD9_SEC_PASSTHROUGH:
		if (!x->vmconnect)
			PROBLEM(
			    "vmconnect=true in [Globals] (needs an xrdp with vmconnect mode; md9 "
			    "setup sets it), or security = auto in md9.conf",
			    "vmconnect is %s: md9's passthrough mode needs xrdp's vmconnect mode",
			    x->has_vmconnect ? "off" : "not set");
		break;
	}
	if (!sl_rdp && !sl_tls && !sl_neg)
		PROBLEM("security_layer=negotiate", "unknown security_layer=%s", sl);
	{
		char net[256];
		/* crypt_level=none lets any client pick encryption method 0:
		 * fine on loopback or a socket (md9 is the only client), not
		 * where the network reaches. */
		if (cl_none && !sl_tls && md9_xrdp_listen_network(x, net, sizeof(net)))
			PROBLEM("restrict port= to loopback (tcp://.:3389) or a socket "
			        "(unix://./run/xrdp/xrdp.sock; md9 setup does it)",
			        "crypt_level=none with a network listener (%s): any client on the "
			        "network gets unencrypted RDP",
			        net);
	}
#undef PROBLEM
	if (problems[0])
		report(dr, V_FAIL, "xrdp config", fixes, "%s: %s (md9 mode %s)", p, problems,
		       md9_security_name(mode));
	else
		report(dr, V_OK, "xrdp config", NULL,
		       "%s: port %s, security_layer %s, crypt_level %s%s: fits md9's %s mode", p,
		       x->port, sl, cl, x->vmconnect ? ", vmconnect" : "", md9_security_name(mode));
}

static bool hv_sock_loaded(struct doctor *dr, char *where, size_t cap)
{
	char p[PATH_MAX], line[512];
	FILE *f;
	bool found = false;

	if (is_dir(md9_path_join(p, sizeof(p), dr->r->sys, "module/hv_sock"))) {
		snprintf(where, cap, "%s", p);
		return true;
	}
	f = fopen(md9_path_join(p, sizeof(p), dr->r->proc, "modules"), "r");
	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f))
		found = strncmp(line, "hv_sock ", 8) == 0;
	fclose(f);
	if (found)
		snprintf(where, cap, "%s", p);
	return found;
}

/* The session's own redirections (sessioncheck.c): drives and sound. */
static void check_session(struct doctor *dr, const char *name,
                          void (*fn)(const char *, const char *, struct sessioncheck *),
                          const char *second_root)
{
	struct sessioncheck c;

	fn(dr->r->etc, second_root, &c);
	report(dr, (enum verdict)c.verdict, name, c.fix, "%s", c.what);
}

static void check_hvsocket(struct doctor *dr)
{
	static const char fix[] =
	    "remove vsock:// from port= in xrdp.ini (and use_vsock=true), drop hv_sock from "
	    "/etc/modules-load.d, and on the host: Set-VM -VMName NAME "
	    "-EnhancedSessionTransportType VMBus";
	char where[PATH_MAX] = "", what[1024] = "";
	bool only = false;
	bool vs = dr->xrdp_present && md9_xrdp_listen_vsock(&dr->xrdp, &only);
	bool mod = hv_sock_loaded(dr, where, sizeof(where));

	if (vs)
		snprintf(what, sizeof(what), "xrdp listens on vsock (port=%s%s)", dr->xrdp.port,
		         dr->xrdp.use_vsock ? ", use_vsock=true" : "");
	if (mod) {
		size_t l = strlen(what);
		snprintf(what + l, sizeof(what) - l, "%shv_sock is loaded (%s)", l ? "; " : "",
		         where);
	}
	if (!vs && !mod) {
		report(dr, V_OK, "hvsocket leftover", NULL,
		       "no HvSocket setup (xrdp not on vsock, "
		       "hv_sock not loaded)");
		return;
	}
	report(dr, only ? V_FAIL : V_WARN, "hvsocket leftover", fix,
	       "%s: an HvSocket Enhanced Session setup (e.g. linux-vm-tools); %s", what,
	       only ? "xrdp listens on vsock only, so md9 cannot reach it"
	            : "if the VM uses the HvSocket transport, vmconnect bypasses md9");
}

int md9_doctor(const struct md9_doctor_opts *o, FILE *out)
{
	struct doctor dr = {.o = o, .r = &o->roots, .out = out};
	struct md9_doctor_opts local = *o;

	if (local.timeout_ms <= 0)
		local.timeout_ms = 1500;
	dr.o = &local;
	dr.r = &local.roots;
	dr.real_roots = strcmp(dr.r->sys, "/sys") == 0 && strcmp(dr.r->proc, "/proc") == 0;

	check_hyperv(&dr);
	check_vmbus(&dr);
	check_module(&dr);
	check_loaded(&dr);
	scan_devices(&dr);
	check_offered(&dr);
	check_bound(&dr);
	check_nodes(&dr);
	check_user(&dr);
	check_config(&dr);
	check_daemon(&dr);
	check_backend(&dr);
	check_server(&dr);
	check_xrdp(&dr);
	check_hvsocket(&dr);
	check_session(&dr, "drives", sessioncheck_drives, dr.r->dev);
	check_session(&dr, "audio", sessioncheck_audio, dr.r->lib);
	fprintf(out, "md9 doctor: %u ok, %u warn, %u FAIL%s\n", dr.n[V_OK], dr.n[V_WARN],
	        dr.n[V_FAIL],
	        dr.n[V_FAIL]   ? ""
	        : dr.n[V_WARN] ? " (Enhanced Session should work)"
	                       : " (ready for Enhanced Session)");
	free(dr.ctrl);
	free(dr.data);
	return dr.n[V_FAIL] ? 1 : 0;
}
