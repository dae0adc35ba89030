/* md9: Hyper-V Enhanced Session for Linux guests over VMBus. */
#include "config.h"
#include "doctor.h"
#include "log.h"
#include "roots.h"
#include "run.h"
#include "setup.h"
#include "status_query.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
	fprintf(f,
		"usage: md9 run [options]     serve Enhanced Sessions from the Hyper-V host\n"
		"       md9 status [--json]   what the running md9 is doing\n"
		"       md9 doctor            check this guest for Enhanced Session, with fixes\n"
		"       md9 setup [--dry-run] install and enable what is missing, prepare the desktop\n"
		"       md9 setup --undo      put back what setup changed for the desktop\n"
		"       md9 bind-classes      give the SynthRdp classes to uio_hv_generic (udev)\n"
		"       md9 --version | --help\n"
		"\n"
		"md9 relays the host's SynthRdp VMBus channels to a local RDP server, so\n"
		"vmconnect's Enhanced Session works with nothing configured on the host.\n"
		"\n"
		"run options (each overrides the configuration file):\n"
		"  -c, --config FILE      configuration file (default %s)\n"
		"  -t, --transport T      uio (Hyper-V, default) or sim:PATH (md9-hostsim)\n"
		"  -b, --backend SPEC     tcp:HOST:PORT (default tcp:127.0.0.1:3389), tcp:[V6]:PORT,\n"
		"                         unix:/path or vsock:CID:PORT\n"
		"  -s, --security MODE    auto (default), tls, rdp or passthrough\n"
		"      --tls-pin SHA256   only accept a server certificate with this fingerprint\n"
		"      --max-sessions N   sessions open at once (default 16)\n"
		"  -v, --verbose          debug logging\n"
		"\n"
		"status options:\n"
		"      --json             the same as JSON\n"
		"  -c, --config FILE      read status_socket from FILE\n"
		"      --socket PATH      ask md9 at PATH (default: status_socket, %s)\n"
		"\n"
		"doctor options:\n"
		"  -c, --config FILE      the configuration to check against\n"
		"  -s, --security MODE    check xrdp for this mode instead of the configured one\n"
		"  -b, --backend SPEC     check this RDP server instead of the configured one\n"
		"\n"
		"setup options:\n"
		"  -n, --dry-run          show what would change (diffs included), change nothing\n"
		"      --undo             restore the files the desktop steps edited, remove the\n"
		"                         ones they created (only if unchanged since)\n"
		"  -s, --security MODE    configure md9 and xrdp for this mode (md9.conf security)\n"
		"      --tcp              keep md9 and xrdp on TCP (default: xrdp's UNIX socket)\n"
		"      --root DIR         act on the system installed under DIR\n"
		"\n"
		"See md9(8) and md9.conf(5).\n",
		MD9_DEFAULT_CONFIG, MD9_DEFAULT_STATUS);
}

/* --roots DIR (hidden; for tests): every system path md9 reads under DIR. */
static int set_roots(struct md9_roots *r, const char *dir)
{
	int err = md9_roots_under(r, dir);

	if (err)
		fprintf(stderr, "md9: --roots %s: %s\n", dir,
		        err == -EINVAL ? "must be an absolute path" : strerror(-err));
	return err;
}

/* A bad flag or argument: one line, not the whole usage. getopt's own
 * message is off (opterr = 0) so that this is the only line. */
static int bad_usage(const char *cmd, int argc, char **argv)
{
	const char *arg = optind > 0 && optind <= argc ? argv[optind - 1] : "";

	fprintf(stderr, "md9 %s: unknown option or missing value: %s (md9 --help)\n", cmd, arg);
	return 2;
}

static int extra_args(const char *cmd, int argc, char **argv)
{
	fprintf(stderr, "md9 %s: unexpected argument '%s' (md9 --help)\n", cmd, argv[optind]);
	return 2;
}

static int cmd_run(int argc, char **argv)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'},
		{"transport", required_argument, NULL, 't'},
		{"backend", required_argument, NULL, 'b'},
		{"security", required_argument, NULL, 's'},
		{"tls-pin", required_argument, NULL, 'p'},
		{"max-sessions", required_argument, NULL, 'm'},
		{"verbose", no_argument, NULL, 'v'},
		{"roots", required_argument, NULL, 'R'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct md9_run_opts d = {0};
	int c;

	md9_roots_default(&d.roots);
	d.config_path = MD9_DEFAULT_CONFIG;
	d.config_optional = true;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "c:t:b:s:vh", opts, NULL)) != -1) {
		const char *key = NULL;
		switch (c) {
		case 'c':
			d.config_path = optarg;
			d.config_optional = false;
			break;
		case 't':
			key = "transport";
			break;
		case 'b':
			key = "backend";
			break;
		case 's':
			key = "security";
			break;
		case 'p':
			key = "tls_pin";
			break;
		case 'm':
			key = "max_sessions";
			break;
		case 'v':
			key = "log_level";
			optarg = "debug";
			break;
		case 'R':
			if (set_roots(&d.roots, optarg))
				return 2;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			return bad_usage("run", argc, argv);
		}
		if (key) {
			if (d.ncli == (int)(sizeof(d.cli) / sizeof(d.cli[0]))) {
				fprintf(stderr, "md9: too many options\n");
				return 2;
			}
			d.cli[d.ncli].key = key;
			d.cli[d.ncli].value = optarg;
			d.ncli++;
		}
	}
	if (optind != argc)
		return extra_args("run", argc, argv);
	md9_log_init("md9", MD9_LOG_INFO);
	return md9_run(&d);
}

static int cmd_status(int argc, char **argv)
{
	static const struct option opts[] = {
		{"json", no_argument, NULL, 'j'},
		{"config", required_argument, NULL, 'c'},
		{"socket", required_argument, NULL, 'S'},
		{"verbose", no_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *config = MD9_DEFAULT_CONFIG, *sock = NULL;
	bool json = false, optional = true;
	struct md9_config cfg;
	int c, err;

	md9_log_init("md9", MD9_LOG_INFO);
	opterr = 0;
	while ((c = getopt_long(argc, argv, "c:vh", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case 'c':
			config = optarg;
			optional = false;
			break;
		case 'S':
			sock = optarg;
			break;
		case 'v':
			md9_log_set_level(MD9_LOG_DEBUG);
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			return bad_usage("status", argc, argv);
		}
	}
	if (optind != argc)
		return extra_args("status", argc, argv);
	if (!sock) {
		md9_config_defaults(&cfg);
		if (md9_config_load(&cfg, config, optional) < 0)
			return 1;
		if (!cfg.status_socket[0]) {
			fprintf(stderr, "md9 status: status_socket is empty in %s: md9 serves no status\n",
				config);
			return 1;
		}
		sock = cfg.status_socket;
	}
	err = md9_status_query(sock, json, STATUS_TIMEOUT_MS * 2, stdout);
	if (err == -ENOENT || err == -ECONNREFUSED) {
		fprintf(stderr, "md9 status: md9 is not running: nothing answers on %s (%s)\n", sock,
			strerror(-err));
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

static int cmd_doctor(int argc, char **argv)
{
	/* --roots and --timeout are for tests (fake trees); not in the usage. */
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'},
		{"security", required_argument, NULL, 's'},
		{"backend", required_argument, NULL, 'b'},
		{"timeout", required_argument, NULL, 'T'},
		{"roots", required_argument, NULL, 'R'},
		{"verbose", no_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	static struct md9_doctor_opts o;
	int c;

	md9_log_init("md9", MD9_LOG_WARN);
	md9_roots_default(&o.roots);
	opterr = 0;
	while ((c = getopt_long(argc, argv, "c:s:b:vh", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			o.config = optarg;
			break;
		case 's':
			o.security = optarg;
			break;
		case 'b':
			o.backend = optarg;
			break;
		case 'T':
			if (!optarg[0] || strspn(optarg, "0123456789") != strlen(optarg) ||
			    strlen(optarg) > 6) {
				fprintf(stderr,
				        "md9 doctor: --timeout %s: milliseconds, digits only\n",
				        optarg);
				return 2;
			}
			o.timeout_ms = atoi(optarg);
			break;
		case 'R':
			if (set_roots(&o.roots, optarg))
				return 2;
			break;
		case 'v':
			md9_log_set_level(MD9_LOG_DEBUG);
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			return bad_usage("doctor", argc, argv);
		}
	}
	if (optind != argc)
		return extra_args("doctor", argc, argv);
	{
		/* Bad flags are the caller's mistake, not a finding: one line. */
		struct md9_config cfg;
		const char *why;

		md9_config_defaults(&cfg);
		if (o.security && md9_config_set(&cfg, "security", o.security, &why) < 0) {
			fprintf(stderr, "md9 doctor: --security %s: %s\n", o.security, why);
			return 2;
		}
		if (o.backend && md9_config_set(&cfg, "backend", o.backend, &why) < 0) {
			fprintf(stderr, "md9 doctor: --backend %s: %s\n", o.backend, why);
			return 2;
		}
	}
	return md9_doctor(&o, stdout);
}

static int cmd_setup(int argc, char **argv)
{
	static const struct option opts[] = {
		{"dry-run", no_argument, NULL, 'n'},
		{"undo", no_argument, NULL, 'u'},
		{"root", required_argument, NULL, 'r'},
		{"security", required_argument, NULL, 's'},
		{"md9-path", required_argument, NULL, 'P'},
		{"tcp", no_argument, NULL, 'T'},
		{"verbose", no_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct md9_setup_opts o = {.root = "/"};
	int c;

	md9_log_init("md9", MD9_LOG_INFO);
	opterr = 0;
	while ((c = getopt_long(argc, argv, "nr:s:vh", opts, NULL)) != -1) {
		switch (c) {
		case 'n':
			o.dry_run = true;
			break;
		case 'u':
			o.undo = true;
			break;
		case 'r':
			o.root = optarg;
			break;
		case 's':
			o.security = optarg;
			break;
		case 'P':
			o.self = optarg;
			break;
		case 'T':
			o.tcp = true;
			break;
		case 'v':
			md9_log_set_level(MD9_LOG_DEBUG);
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			return bad_usage("setup", argc, argv);
		}
	}
	if (optind != argc)
		return extra_args("setup", argc, argv);
	return md9_setup(&o, stdout);
}

static int cmd_bind_classes(int argc, char **argv)
{
	static struct md9_roots roots;

	md9_log_init("md9", MD9_LOG_INFO);
	md9_roots_default(&roots);
	if (argc == 3 && strcmp(argv[1], "--roots") == 0) {
		if (set_roots(&roots, argv[2]))
			return 2;
	} else if (argc != 1) {
		fprintf(stderr, "md9 bind-classes: takes no arguments (md9 --help)\n");
		return 2;
	}
	return md9_bind_classes(&roots);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr,
		        "usage: md9 run|status|doctor|setup|bind-classes [options] (md9 --help)\n");
		return 2;
	}
	if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0) {
		printf("md9 %s\n", MD9_VERSION);
		return 0;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(argv[1], "run") == 0)
		return cmd_run(argc - 1, argv + 1);
	if (strcmp(argv[1], "status") == 0)
		return cmd_status(argc - 1, argv + 1);
	if (strcmp(argv[1], "doctor") == 0)
		return cmd_doctor(argc - 1, argv + 1);
	if (strcmp(argv[1], "setup") == 0)
		return cmd_setup(argc - 1, argv + 1);
	if (strcmp(argv[1], "bind-classes") == 0)
		return cmd_bind_classes(argc - 1, argv + 1);
	fprintf(stderr, "md9: unknown command '%s' (md9 --help)\n", argv[1]);
	return 2;
}
