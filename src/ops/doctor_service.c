/* md9 doctor's checks of what md9 serves with (doctor_checks.h). */
#include "backend.h"
#include "config.h"
#include "doctor_checks.h"
#include "fsutil.h"
#include "log.h"
#include "passwd.h"
#include "path.h"
#include "peerauth.h"
#include "privdrop.h"
#include "probe.h"
#include "sessioncheck.h"
#include "status_query.h"
#include "xrdp_listen.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

static void check_user(struct doctor *dr)
{
	char p[PATH_MAX];
	long uid =
	    md9_passwd_id(md9_path_join(p, sizeof(p), dr->r->etc, "passwd"), MD9_DEFAULT_USER);

	if (uid > 0)
		doctor_report(dr, V_OK, "md9 user", NULL,
		              "user md9 exists (uid %ld): md9 drops to it", uid);
	else
		doctor_report(dr, V_WARN, "md9 user",
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
		doctor_report(
		    dr, V_FAIL, "configuration",
		    "correct the line named in the error above (md9 run refuses this file)",
		    "%s does not load; the checks below use the defaults", path);
	} else if (md9_config_finish(&dr->cfg, reason, sizeof(reason)) < 0) {
		doctor_report(dr, V_FAIL, "configuration", "correct md9.conf (md9 run refuses it)",
		              "%s: %s", path, reason);
	} else if (access(path, F_OK) < 0) {
		doctor_report(dr, V_OK, "configuration", NULL,
		              "%s absent: built-in defaults (security %s, server %s)", path,
		              md9_security_name(dr->cfg.security), dr->cfg.backend.spec);
	} else {
		doctor_report(dr, V_OK, "configuration", NULL, "%s: security %s, server %s", path,
		              md9_security_name(dr->cfg.security), dr->cfg.backend.spec);
	}
}

static void check_daemon(struct doctor *dr)
{
	char path[PATH_MAX], *answer = NULL, *line, *nl;
	const char *sock = dr->cfg.status_socket;
	int err;

	if (!sock[0]) {
		doctor_report(dr, V_WARN, "md9 running", "set status_socket in md9.conf",
		              "status_socket is off: cannot ask md9");
		return;
	}
	if (strncmp(sock, "/run/", 5) == 0)
		snprintf(path, sizeof(path), "%s/%s", dr->r->run, sock + 5);
	else
		snprintf(path, sizeof(path), "%s", sock);
	err = md9_status_query_buf(path, false, dr->o->timeout_ms, &answer);
	if (err == -EACCES || err == -EPERM) {
		doctor_report(dr, V_WARN, "md9 running",
		              "run md9 doctor as root or as a member of group md9-status",
		              "%s: permission denied", path);
		return;
	}
	if (err) {
		doctor_report(dr, V_FAIL, "md9 running",
		              "systemctl enable --now md9 (without systemd: md9 run)",
		              "md9 is not running: nothing answers on %s (%s)", path,
		              strerror(-err));
		return;
	}
	line = strstr(answer, "control channel: ");
	if (line && (nl = strchr(line, '\n')))
		*nl = '\0';
	doctor_report(dr, V_OK, "md9 running", NULL, "md9 answers on %s: %s", path,
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
			doctor_report(dr, V_FAIL, "rdp server", "correct backend in md9.conf", "%s",
			              why);
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
		doctor_report(
		    dr, V_FAIL, "rdp server",
		    "start the RDP server: systemctl enable --now xrdp (apt-get install xrdp), or "
		    "set backend in md9.conf to where your RDP server listens",
		    "nothing accepts connections at %s (%s)", b->spec, strerror(-err));
		return;
	}
	if (auth == MD9_PEERAUTH_OK) {
		if (uid == (uid_t)-1)
			doctor_report(dr, V_OK, "rdp server", NULL,
			              "%s accepts connections (a vsock port below 1024: root's)",
			              b->spec);
		else
			doctor_report(dr, V_OK, "rdp server", NULL,
			              "%s accepts connections; it runs as %s: md9 serves it",
			              b->spec, md9_peer_user_name(uid, who, sizeof(who)));
		return;
	}
	doctor_report(
	    dr, V_FAIL, "rdp server",
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
		doctor_report(dr, V_FAIL, "rdp security", "needs the rdp server (see above)",
		              "cannot ask the server at %s (md9 %s mode)", spec, mode);
		return;
	}
	if (md9_probe_server(&dr->cfg.backend, dr->cfg.security, &dr->cfg.tls_pin,
	                     dr->o->timeout_ms, &r)) {
		if (r.verdict == MD9_PROBE_TLS)
			doctor_report(
			    dr, V_OK, "rdp security", NULL,
			    "TLS ok: %s (md9 %s mode) selected SSL; md9 does TLS with it (%s); "
			    "MCS Connect-Response without standard RDP encryption",
			    spec, mode, r.tls);
		else if (r.verdict == MD9_PROBE_PLAIN)
			doctor_report(
			    dr, V_OK, "rdp security", NULL,
			    "standard RDP security without encryption ok: %s (md9 %s mode%s) "
			    "selected RDP; MCS Connect-Response with encryption NONE",
			    spec, mode,
			    r.retried ? ", asked again after SSL_NOT_ALLOWED_BY_SERVER" : "");
		else
			doctor_report(
			    dr, V_OK, "rdp security", NULL,
			    "vmconnect mode ok: %s (md9 %s mode) selected %s and answered the "
			    "host's plaintext Connect-Initial",
			    spec, mode, x224_protocol_name(r.selected));
		return;
	}
	doctor_report(dr, V_FAIL, "rdp security",
	              r.fix ? r.fix : "make the server at the backend answer RDP (see its log)",
	              "%s: %s (md9 %s mode, asked the server for %s): %s",
	              md9_probe_verdict_name(r.verdict), spec, mode, x224_protocol_name(r.asked),
	              r.why);
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
		doctor_report(
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
		doctor_report(dr, V_FAIL, "xrdp config", fixes, "%s: %s (md9 mode %s)", p, problems,
		              md9_security_name(mode));
	else
		doctor_report(
		    dr, V_OK, "xrdp config", NULL,
		    "%s: port %s, security_layer %s, crypt_level %s%s: fits md9's %s mode", p,
		    x->port, sl, cl, x->vmconnect ? ", vmconnect" : "", md9_security_name(mode));
}

static bool hv_sock_loaded(struct doctor *dr, char *where, size_t cap)
{
	char p[PATH_MAX], line[512];
	FILE *f;
	bool found = false;

	if (md9_fs_is_dir(md9_path_join(p, sizeof(p), dr->r->sys, "module/hv_sock"))) {
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
	doctor_report(dr, (enum verdict)c.verdict, name, c.fix, "%s", c.what);
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
		doctor_report(dr, V_OK, "hvsocket leftover", NULL,
		              "no HvSocket setup (xrdp not on vsock, "
		              "hv_sock not loaded)");
		return;
	}
	doctor_report(dr, only ? V_FAIL : V_WARN, "hvsocket leftover", fix,
	              "%s: an HvSocket Enhanced Session setup (e.g. linux-vm-tools); %s", what,
	              only ? "xrdp listens on vsock only, so md9 cannot reach it"
	                   : "if the VM uses the HvSocket transport, vmconnect bypasses md9");
}

void doctor_service_checks(struct doctor *dr)
{
	check_user(dr);
	check_config(dr);
	check_daemon(dr);
	check_backend(dr);
	check_server(dr);
	check_xrdp(dr);
	check_hvsocket(dr);
	check_session(dr, "drives", sessioncheck_drives, dr->r->dev);
	check_session(dr, "audio", sessioncheck_audio, dr->r->lib);
}
