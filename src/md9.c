/* md9: Hyper-V Enhanced Session for Linux guests over VMBus. The commands
 * (cli.h): each row of `commands` is one, with its options and handler. */
#include "cli.h"
#include "config.h"
#include "doctor.h"
#include "log.h"
#include "roots.h"
#include "run.h"
#include "bind.h"
#include "setup.h"
#include "status_query.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char intro[] =
    "md9 relays the host's SynthRdp VMBus channels to a local RDP server, so\n"
    "vmconnect's Enhanced Session works with nothing configured on the host.\n";
static const char outro[] = "See md9(8) and md9.conf(5).\n";

static const struct cli_command commands[];

static void verbose(const struct cli_args *a)
{
	if (cli_get(a, "verbose"))
		md9_log_set_level(MD9_LOG_DEBUG);
}

/* --root DIR: every system path md9 looks at under DIR (roots.h; hidden
 * for run, doctor and bind-classes, where tests point md9 at a fake tree);
 * the real system without. 0, or 2 after one line. */
static int roots_of(const struct cli_args *a, struct md9_roots *r)
{
	const char *dir = cli_get(a, "root");
	char real[PATH_MAX];
	int err;

	md9_roots_default(r);
	if (!dir)
		return 0;
	if (!realpath(dir, real)) {
		fprintf(stderr, "md9 %s: --root %s: %s\n", a->cmd->name, dir, strerror(errno));
		return 2;
	}
	if ((err = md9_roots_under(r, real)) < 0) {
		fprintf(stderr, "md9 %s: --root %s: %s\n", a->cmd->name, dir, strerror(-err));
		return 2;
	}
	return 0;
}

static int cmd_run(const struct cli_args *a)
{
	static struct md9_run_opts d;

	if (roots_of(a, &d.roots))
		return 2;

	d.config_path = cli_get(a, "config") ? cli_get(a, "config") : MD9_DEFAULT_CONFIG;
	d.config_optional = !cli_get(a, "config");
	if (a->nsettings > (int)(sizeof(d.cli) / sizeof(d.cli[0]))) {
		fprintf(stderr, "md9 run: too many settings on the command line\n");
		return 2;
	}
	for (int i = 0; i < a->nsettings; i++) {
		d.cli[i].key = a->settings[i].key;
		d.cli[i].value = a->settings[i].value;
	}
	d.ncli = a->nsettings;
	md9_log_init("md9", MD9_LOG_INFO);
	return md9_run(&d);
}

static int cmd_status(const struct cli_args *a)
{
	const char *config = cli_get(a, "config"), *sock = cli_get(a, "socket");
	struct md9_config cfg;
	int err;

	md9_log_init("md9", MD9_LOG_INFO);
	verbose(a);
	if (!sock) {
		md9_config_defaults(&cfg);
		if (md9_config_load(&cfg, config ? config : MD9_DEFAULT_CONFIG, !config) < 0)
			return 1;
		if (!cfg.status_socket[0]) {
			fprintf(stderr,
			        "md9 status: status_socket is empty in %s: md9 serves no status\n",
			        config ? config : MD9_DEFAULT_CONFIG);
			return 1;
		}
		sock = cfg.status_socket;
	}
	err = md9_status_query(sock, cli_get(a, "json") != NULL, STATUS_TIMEOUT_MS * 2, stdout);
	if (err == -ENOENT || err == -ECONNREFUSED) {
		fprintf(stderr, "md9 status: md9 is not running: nothing answers on %s (%s)\n",
		        sock, strerror(-err));
		return 3;
	}
	if (err) {
		fprintf(stderr, "md9 status: %s: %s%s\n", sock, strerror(-err),
		        err == -EACCES
		            ? " (run as root or as a member of group " MD9_DEFAULT_STATUS_GROUP ")"
		            : "");
		return 1;
	}
	return 0;
}

static int cmd_doctor(const struct cli_args *a)
{
	static struct md9_doctor_opts o;

	md9_log_init("md9", MD9_LOG_WARN);
	verbose(a);
	if (roots_of(a, &o.roots))
		return 2;
	o.config = cli_get(a, "config");
	o.security = cli_get(a, "security");
	o.backend = cli_get(a, "backend");
	o.timeout_ms = (int)cli_number(a, "timeout", 0);
	return md9_doctor(&o, stdout);
}

static int cmd_setup(const struct cli_args *a)
{
	static struct md9_setup_opts o;

	md9_log_init("md9", MD9_LOG_INFO);
	verbose(a);
	o.dry_run = cli_get(a, "dry-run") != NULL;
	o.undo = cli_get(a, "undo") != NULL;
	if (roots_of(a, &o.roots))
		return 2;
	o.security = cli_get(a, "security");
	o.self = cli_get(a, "md9-path");
	o.tcp = cli_get(a, "tcp") != NULL;
	return md9_setup(&o, stdout);
}

static int cmd_bind_classes(const struct cli_args *a)
{
	md9_log_init("md9", MD9_LOG_INFO);
	verbose(a);
	static struct md9_roots roots;

	if (roots_of(a, &roots))
		return 2;
	return md9_bind_classes(&roots);
}

static int cmd_version(const struct cli_args *a)
{
	(void)a;
	printf("md9 %s\n", MD9_VERSION);
	return 0;
}

static int cmd_help(const struct cli_args *a)
{
	const struct cli_command *c = a->argc ? cli_find(commands, a->argv[0]) : NULL;

	if (a->argc && !c) {
		fprintf(stderr, "md9 help: unknown command '%s' (md9 --help)\n", a->argv[0]);
		return 2;
	}
	if (c)
		cli_usage_command(stdout, c, outro);
	else
		cli_usage(stdout, commands, intro, outro);
	return 0;
}

#define VERBOSE                                                                                    \
	{                                                                                          \
		.name = "verbose", .short_name = 'v', .doc = "debug logging"                       \
	}
#define CONFIG(text)                                                                               \
	{                                                                                          \
		.name = "config", .short_name = 'c', .arg = "FILE", .doc = text                    \
	}
#define HIDDEN(n, a)                                                                               \
	{                                                                                          \
		.name = n, .arg = a                                                                \
	}

static const struct cli_opt run_opts[] = {
    CONFIG("configuration file (default " MD9_DEFAULT_CONFIG ")"),
    {.name = "verbose",
     .short_name = 'v',
     .doc = "debug logging (log_level debug)",
     .setting = "log_level",
     .value = "debug"},
    HIDDEN("root", "DIR"),
    {0},
};

static const struct cli_opt status_opts[] = {
    {.name = "json", .doc = "the same as JSON"},
    CONFIG("read status_socket from FILE"),
    {.name = "socket",
     .arg = "PATH",
     .doc = "ask md9 at PATH (default: status_socket, " MD9_DEFAULT_STATUS ")"},
    VERBOSE,
    {0},
};

/* --root and --timeout are for tests (a fake tree, short waits): not in
 * the usage. */
static const struct cli_opt doctor_opts[] = {
    CONFIG("the configuration to check against"),
    {.name = "security",
     .doc = "check xrdp for this mode instead of the configured one",
     .setting = "security"},
    {.name = "backend",
     .doc = "check this RDP server instead of the configured one",
     .setting = "backend"},
    {.name = "timeout", .arg = "MS", .number = true, .min = 1, .max = 600000},
    HIDDEN("root", "DIR"),
    VERBOSE,
    {0},
};

/* --md9-path (the binary the unit and rule name) is for tests. */
static const struct cli_opt setup_opts[] = {
    {.name = "dry-run",
     .short_name = 'n',
     .doc = "show what would change (diffs included), change nothing"},
    {.name = "undo",
     .doc = "restore the files the desktop steps edited, remove the ones they created "
            "(only if unchanged since)"},
    {.name = "security",
     .doc = "configure md9 and xrdp for this mode (md9.conf security)",
     .setting = "security"},
    {.name = "tcp", .doc = "keep md9 and xrdp on TCP (default: xrdp's UNIX socket)"},
    {.name = "root", .arg = "DIR", .doc = "act on the system installed under DIR"},
    HIDDEN("md9-path", "PATH"),
    VERBOSE,
    {0},
};

/* --root is for tests (a fake sysfs). */
static const struct cli_opt bind_opts[] = {
    HIDDEN("root", "DIR"),
    VERBOSE,
    {0},
};

/* One row a command, laid out by hand (clang-format would put each field on
 * a line of its own): name, synopsis, options, handler; the summary. */
/* clang-format off */
static const struct cli_command commands[] = {
    {.name = "run", .synopsis = "[options]", .opts = run_opts, .exec = cmd_run,
     .summary = "serve Enhanced Sessions from the Hyper-V host",
     .title = "run options (each overrides the configuration file):", .all_settings = true},
    {.name = "status", .synopsis = "[--json]", .opts = status_opts, .exec = cmd_status,
     .summary = "what the running md9 is doing"},
    {.name = "doctor", .synopsis = "[options]", .opts = doctor_opts, .exec = cmd_doctor,
     .summary = "check this guest for Enhanced Session, with fixes"},
    {.name = "setup", .synopsis = "[--dry-run | --undo]", .opts = setup_opts, .exec = cmd_setup,
     .summary = "install and enable what is missing, prepare the desktop"},
    {.name = "bind-classes", .opts = bind_opts, .exec = cmd_bind_classes,
     .summary = "give the SynthRdp classes to uio_hv_generic (udev)"},
    {.name = "--version", .alias = {"-V"}, .exec = cmd_version},
    {.name = "--help", .alias = {"-h", "help"}, .max_args = 1, .exec = cmd_help},
    {0},
};
/* clang-format on */

int main(int argc, char **argv)
{
	return cli_main(commands, intro, outro, argc, argv);
}
