#include "run.h"

#include "config.h"
#include "daemon.h"
#include "log.h"
#include "notify.h"
#include "privdrop.h"

struct run {
	const struct md9_run_opts *o;
	struct md9_config cfg; /* as started */
	struct daemon *d;
};

/* Defaults, then the file, then the command line, then the checks across
 * settings (md9_config_finish). 0, or the exit status (1: the file, 2: a
 * setting); logged. */
static int load(const struct md9_run_opts *o, struct md9_config *c, bool reloading)
{
	const char *why;
	char reason[400];

	md9_config_defaults(c);
	if (md9_config_load(c, o->config_path, o->config_optional) < 0) {
		if (reloading)
			log_err("reload failed; keeping the running configuration");
		return 1;
	}
	for (int i = 0; i < o->ncli; i++) {
		if (md9_config_set(c, o->cli[i].key, o->cli[i].value, &why) < 0) {
			if (reloading)
				log_err("reload: --%s %s: %s; keeping the running configuration",
				        o->cli[i].key, o->cli[i].value, why);
			else
				log_err("--%s %s: %s", o->cli[i].key, o->cli[i].value, why);
			return 2;
		}
	}
	if (md9_config_finish(c, reason, sizeof(reason)) < 0) {
		if (reloading)
			log_err("reload: %s; keeping the running configuration", reason);
		else
			log_err("%s", reason);
		return 2;
	}
	return 0;
}

static void on_ready(void *arg)
{
	struct run *r = arg;

	md9_notifyf("READY=1\nSTATUS=transport %s, server %s", r->cfg.transport,
	            r->cfg.backend.spec);
}

/* SIGHUP: the service manager sees RELOADING until the new settings are in
 * place (or refused). */
static void on_reload(void *arg)
{
	struct run *r = arg;
	struct md9_config c;
	struct daemon_settings set;

	md9_notify_reloading();
	if (load(r->o, &c, true) == 0) {
		md9_config_daemon_settings(&c, &set);
		set.roots = r->o->roots;
		daemon_reconfigure(r->d, &set);
		md9_log_set_level(c.log_level);
		log_info("configuration reloaded: server %s, security %s (new sessions use it)",
		         c.backend.spec, md9_security_name(c.security));
	}
	md9_notify("READY=1");
}

static void on_stopping(void *arg)
{
	md9_notify("STOPPING=1");
}

int md9_run(const struct md9_run_opts *o)
{
	static struct run r;
	struct daemon_settings set;
	const struct daemon_hooks hooks = {
	    .arg = &r,
	    .ready = on_ready,
	    .reload = on_reload,
	    .stopping = on_stopping,
	};
	int rc;

	r.o = o;
	rc = load(o, &r.cfg, false);
	if (rc)
		return rc;
	md9_log_set_level(r.cfg.log_level);
	log_debug(
	    "configuration: %s%s, %d command-line setting(s); max_sessions %u, "
	    "negotiate_timeout_ms %u, drain_timeout_ms %u, relay_budget %zu, status_socket %s",
	    o->config_path, o->config_optional ? " (if present)" : "", o->ncli, r.cfg.max_sessions,
	    r.cfg.negotiate_timeout_ms, r.cfg.drain_timeout_ms, r.cfg.relay_budget,
	    r.cfg.status_socket[0] ? r.cfg.status_socket : "(off)");
	md9_config_daemon_settings(&r.cfg, &set);
	set.roots = o->roots;
	r.d = daemon_new(&set, &hooks);
	if (!r.d)
		return 1;
	/* Bind as root, drop, serve: root is needed for new_id only, and the
	 * status socket is created by the user md9 runs as. */
	if (daemon_open(r.d) < 0 || md9_privdrop(r.cfg.run_user, r.cfg.allow_root, r.cfg.status_socket) < 0) {
		daemon_free(r.d);
		return 1;
	}
	rc = daemon_run(r.d);
	daemon_free(r.d);
	r.d = NULL;
	return rc;
}
