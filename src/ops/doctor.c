#include "doctor.h"

#include "doctor_checks.h"

#include "config.h"
#include "fsutil.h"
#include "guid.h"
#include "kmsg.h"
#include "log.h"
#include "passwd.h"
#include "path.h"
#include "privdrop.h"
#include "sysfs.h"
#include "textfile.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
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
		doctor_report(dr, V_OK, "hyper-v", NULL, "Hyper-V guest (DMI: %s, %s%s%s%s)",
		              vendor, product, dr->real_roots ? "; CPUID hypervisor \"" : "",
		              dr->real_roots ? doctor_report_str(cpu) : "", dr->real_roots ? "\"" : "");
	} else if (cpu_ms && !dmi) {
		dr->hyperv = true;
		doctor_report(dr, V_OK, "hyper-v", NULL,
		              "Hyper-V guest (CPUID hypervisor \"Microsoft Hv\"; no DMI tables)");
	} else if (cpu_ms) {
		doctor_report(
		    dr, V_FAIL, "hyper-v", fix,
		    "not running on Hyper-V: CPUID says \"Microsoft Hv\" but DMI says \"%s\", "
		    "\"%s\" "
		    "(another hypervisor with Hyper-V enlightenments has no VMBus)",
		    doctor_report_str(vendor), doctor_report_str(product));
	} else {
		doctor_report(dr, V_FAIL, "hyper-v", fix,
		              "not running on Hyper-V (DMI: %s%s%s%s%s%s%s)", dmi ? "\"" : "",
		              dmi ? doctor_report_str(vendor) : "no DMI tables", dmi ? "\", \"" : "",
		              dmi ? doctor_report_str(product) : "", dmi ? "\"" : "",
		              dr->real_roots ? "; CPUID hypervisor: " : "",
		              dr->real_roots ? (cpu[0] ? cpu : "none") : "");
	}
}

static void check_vmbus(struct doctor *dr)
{
	char p[PATH_MAX];

	dr->vmbus = md9_fs_is_dir(md9_path_join(p, sizeof(p), dr->r->sys, "bus/vmbus/devices"));
	if (dr->vmbus)
		doctor_report(dr, V_OK, "hv_vmbus", NULL, "VMBus present (%s)", p);
	else if (dr->hyperv)
		doctor_report(dr, V_FAIL, "hv_vmbus",
		              "modprobe hv_vmbus (the kernel needs CONFIG_HYPERV)",
		              "no VMBus: %s missing", p);
	else
		doctor_report(dr, V_FAIL, "hv_vmbus",
		              "only Hyper-V guests have a VMBus (see hyper-v)",
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

	dr->uio_loaded = md9_fs_is_dir(
	    md9_path_join(p, sizeof(p), dr->r->sys, "bus/vmbus/drivers/uio_hv_generic"));
	if (!read_line(md9_path_join(p, sizeof(p), dr->r->proc, "sys/kernel/osrelease"), rel,
	               sizeof(rel)) ||
	    !rel[0]) {
		if (dr->real_roots && uname(&u) == 0)
			snprintf(rel, sizeof(rel), "%s", u.release);
	}
	snprintf(dir, sizeof(dir), "%s/modules/%s", dr->r->lib, rel[0] ? rel : "UNKNOWN");
	snprintf(f, sizeof(f), "%s/modules.builtin", dir);
	if (module_listed(f, false)) {
		doctor_report(dr, V_OK, "uio_hv_generic", NULL, "built into kernel %s", rel);
		return;
	}
	snprintf(f, sizeof(f), "%s/modules.dep", dir);
	if (module_listed(f, true)) {
		doctor_report(dr, V_OK, "uio_hv_generic", NULL,
		              "available as a module of kernel %s", rel);
		return;
	}
	if (dr->uio_loaded) {
		doctor_report(dr, V_OK, "uio_hv_generic", NULL, "loaded (not listed in %s)", dir);
		return;
	}
	if (!md9_fs_is_dir(dir)) {
		doctor_report(
		    dr, V_FAIL, "uio_hv_generic",
		    "install the modules of the running kernel (Debian: linux-image-$(uname -r); "
		    "Ubuntu: linux-modules-extra-$(uname -r)), or boot a kernel that has them",
		    "cannot tell: %s does not exist (kernel %s)", dir, rel[0] ? rel : "unknown");
		return;
	}
	doctor_report(
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
		doctor_report(dr, V_OK, "module loaded", NULL, "uio_hv_generic is loaded (%s)", p);
	else if (!dr->vmbus)
		doctor_report(dr, V_FAIL, "module loaded", "needs hv_vmbus (see above)",
		              "uio_hv_generic is not loaded (%s missing)", p);
	else
		doctor_report(dr, V_FAIL, "module loaded",
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
		doctor_report(dr, V_FAIL, "control channel", "needs hv_vmbus (see above)",
		              "no VMBus, so no SynthRdp control channel (class %s)", g);
		return;
	}
	if (dr->nctrl) {
		doctor_report(
		    dr, V_OK, "control channel", NULL,
		    "the host offers the SynthRdp control channel: device %s (relid %u)%s",
		    dr->ctrl[0].name, dr->ctrl[0].relid,
		    dr->ndata ? "; data channel(s) offered too" : "");
		return;
	}
	doctor_report(
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
		doctor_report(dr, V_FAIL, "classes bound", "needs the control channel (see above)",
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
		doctor_report(dr, V_OK, "classes bound", NULL,
		              "%zu SynthRdp device(s) bound to uio_hv_generic (control: uio%d)",
		              nbound, dr->ctrl[0].uio_index);
	else if (dr->refused)
		doctor_report(dr, V_FAIL, "classes bound", "see kernel below",
		              "%s: the kernel refused it (see kernel below)", bad);
	else
		doctor_report(dr, V_FAIL, "classes bound", fix, "%s", bad);
}

/* Kernel log lines about one device: hv_uio_probe's refusal (K2, dev_err
 * prints "uio_hv_generic <device>: vmbus channel requires hypercall") and
 * the driver core's "probe of <device> failed with error N". */
struct kmsg_match {
	const char *name;
	char *line;
	size_t cap;
	bool refused;
};

static bool kmsg_about(const char *msg, void *arg)
{
	struct kmsg_match *m = arg;

	if (!strstr(msg, m->name) || !strstr(msg, "uio_hv_generic"))
		return false;
	if (strstr(msg, "vmbus channel requires hypercall")) {
		snprintf(m->line, m->cap, "%s", msg);
		m->refused = true;
		return true; /* the refusal says most: stop */
	}
	if (strstr(msg, "probe of") && strstr(msg, "failed"))
		snprintf(m->line, m->cap, "%s", msg);
	return false;
}

/* A SynthRdp device with no driver and no uio device: why? The kernel log
 * when readable, the channel's monitor page and the kernel version. */
static void diagnose_unbound(struct doctor *dr)
{
	char p[PATH_MAX], drv[256];
	struct kmsg_match m;
	bool found;

	md9_kernel_release(dr->r->proc, dr->release, sizeof(dr->release));
	for (size_t i = 0; i < dr->nctrl + dr->ndata && !dr->unbound; i++) {
		const struct md9_vmbus_dev *dv =
		    i < dr->nctrl ? &dr->ctrl[i] : &dr->data[i - dr->nctrl];

		snprintf(p, sizeof(p), "%s/bus/vmbus/devices/%s/driver", dr->r->sys, dv->name);
		drv[0] = '\0';
		if (dv->uio_index < 0 && readlink(p, drv, sizeof(drv) - 1) < 0) {
			dr->unbound = dv;
			dr->unbound_control = i < dr->nctrl;
		}
	}
	if (!dr->unbound)
		return;
	m = (struct kmsg_match){dr->unbound->name, dr->kmsg_line, sizeof(dr->kmsg_line), false};
	dr->kmsg_err = md9_kmsg_scan(dr->r->kmsg, kmsg_about, &m, &found);
	dr->refused = m.refused;
}

/* K2: before Linux 6.10, hv_uio_probe refuses channels without a monitor
 * page ("vmbus channel requires hypercall"); the SynthRdp channels very
 * probably have none. Detected from the system; the version is a hint. */
static void check_kernel(struct doctor *dr)
{
	static const char fix[] =
	    "Linux 6.10 or later: Debian 12: apt-get install -t bookworm-backports "
	    "linux-image-amd64 (6.12; bookworm-backports must be in the apt sources); "
	    "Ubuntu 24.04: apt-get install linux-generic-hwe-24.04; Ubuntu 22.04 has no such "
	    "kernel: upgrade to 24.04; or build uio_hv_generic from Linux 6.10 or later as an "
	    "out-of-tree module; then reboot";
	const struct md9_vmbus_dev *dv = dr->unbound;
	const char *rel = dr->release;
	int old = md9_kernel_before(rel, 6, 10);
	const char *what = dr->unbound_control ? "control" : "data";

	if (!dv) {
		if (dr->nctrl)
			doctor_report(dr, V_OK, "kernel", NULL,
			              "Linux %s: uio_hv_generic took the SynthRdp device(s)", rel);
		else if (old == 1)
			doctor_report(
			    dr, V_WARN, "kernel", fix,
			    "Linux %s is older than 6.10: its uio_hv_generic refuses channels "
			    "without a monitor page, as the SynthRdp channels very probably are "
			    "(no SynthRdp device here to check)",
			    rel);
		else
			doctor_report(
			    dr, V_OK, "kernel", NULL,
			    "Linux %s: uio_hv_generic takes channels without a monitor page too "
			    "(6.10 or later)",
			    rel);
		return;
	}
	if (dr->refused) {
		doctor_report(
		    dr, V_FAIL, "kernel", fix,
		    "Linux %s refused the SynthRdp %s channel %s: the kernel log says \"%s\": "
		    "its channel has no monitor page, and uio_hv_generic before Linux 6.10 "
		    "takes only channels with one",
		    rel, what, dv->name, dr->kmsg_line);
		return;
	}
	if (dr->kmsg_line[0]) {
		doctor_report(
		    dr, V_FAIL, "kernel",
		    "look for the cause in the kernel log (dmesg | grep -i uio_hv_generic): "
		    "uio_hv_generic needs memory for every device it takes",
		    "uio_hv_generic did not take the SynthRdp %s channel %s (Linux %s): the "
		    "kernel log says \"%s\"",
		    what, dv->name, rel, dr->kmsg_line);
		return;
	}
	if (!dv->has_monitor && old == 1) {
		if (dr->kmsg_err)
			doctor_report(
			    dr, V_FAIL, "kernel", fix,
			    "the SynthRdp %s channel %s has no driver and no uio device, its "
			    "channel has no monitor page, and Linux %s is older than 6.10, whose "
			    "uio_hv_generic refuses such channels (the kernel log, %s, is not "
			    "readable here to confirm: %s; run md9 doctor as root)",
			    what, dv->name, rel, dr->r->kmsg, strerror(-dr->kmsg_err));
		else
			doctor_report(
			    dr, V_FAIL, "kernel", fix,
			    "the SynthRdp %s channel %s has no driver and no uio device, its "
			    "channel has no monitor page, and Linux %s is older than 6.10, whose "
			    "uio_hv_generic refuses such channels once the class is bound (the "
			    "kernel log has no probe of it yet: bind the classes to see it fail)",
			    what, dv->name, rel);
		return;
	}
	doctor_report(
	    dr, V_WARN, "kernel", "md9 bind-classes (as root), then md9 doctor again",
	    "the SynthRdp %s channel %s has no driver and no uio device and %s: the class "
	    "is most likely not bound yet (Linux %s%s)",
	    what, dv->name,
	    dr->kmsg_err ? "the kernel log is not readable here"
	                 : "the kernel log has no probe of it",
	    rel, dv->has_monitor ? "; its channel has a monitor page" : ", 6.10 or later");
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
		doctor_report(dr, V_FAIL, "device nodes", "needs the classes bound (see above)",
		              "no uio device to check");
		return;
	}
	snprintf(node, sizeof(node), "uio%d", dr->ctrl[0].uio_index);
	md9_path_join(p, sizeof(p), dr->r->dev, node);
	if (stat(p, &st) < 0) {
		doctor_report(dr, V_FAIL, "device nodes",
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
		doctor_report(dr, V_FAIL, "device nodes", rule_fix,
		              "%s: group %s, mode %04o: others than md9 can open it and read every "
		              "session",
		              p, gname[0] ? gname : "?", (unsigned)(st.st_mode & 07777));
		return;
	}
	if (md9_uid >= 0 && (long)st.st_uid == md9_uid) {
		doctor_report(dr, V_OK, "device nodes", NULL,
		              "%s: owner md9, mode %04o: md9's alone", p,
		              (unsigned)(st.st_mode & 07777));
		return;
	}
	doctor_report(
	    dr, V_WARN, "device nodes", rule_fix,
	    "%s: owner uid %ld, mode %04o: user md9 cannot open it (only md9 run as root can)", p,
	    (long)st.st_uid, (unsigned)(st.st_mode & 07777));
}

int md9_doctor(const struct md9_doctor_opts *o, FILE *out)
{
	struct doctor dr = {.o = o, .r = &o->roots, .out = out};
	struct md9_doctor_opts local = *o;

	if (local.timeout_ms <= 0)
		local.timeout_ms = 1500;
	dr.o = &local;
	dr.r = &local.roots;
	dr.real_roots = md9_roots_are_default(dr.r);

	check_hyperv(&dr);
	check_vmbus(&dr);
	check_module(&dr);
	check_loaded(&dr);
	scan_devices(&dr);
	check_offered(&dr);
	diagnose_unbound(&dr);
	check_bound(&dr);
	check_kernel(&dr);
	check_nodes(&dr);
	doctor_service_checks(&dr);
	fprintf(out, "md9 doctor: %u ok, %u warn, %u FAIL%s\n", dr.n[V_OK], dr.n[V_WARN],
	        dr.n[V_FAIL],
	        dr.n[V_FAIL]   ? ""
	        : dr.n[V_WARN] ? " (Enhanced Session should work)"
	                       : " (ready for Enhanced Session)");
	free(dr.ctrl);
	free(dr.data);
	return dr.n[V_FAIL] ? 1 : 0;
}
