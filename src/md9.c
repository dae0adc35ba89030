/* md9: Hyper-V Enhanced Session for Linux guests over VMBus. */
#include "config.h"
#include "daemon.h"
#include "log.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
	fprintf(f,
		"usage: md9 run [options]     serve Enhanced Sessions from the Hyper-V host\n"
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
		"  -v, --verbose          debug logging\n",
		MD9_DEFAULT_CONFIG);
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
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	static struct daemon d;
	const char *why;
	int c;

	d.config_path = MD9_DEFAULT_CONFIG;
	d.config_optional = true;
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
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
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
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	md9_log_init("md9", MD9_LOG_INFO);
	md9_config_defaults(&d.cfg);
	if (md9_config_load(&d.cfg, d.config_path, d.config_optional) < 0)
		return 1;
	for (int i = 0; i < d.ncli; i++) {
		if (md9_config_set(&d.cfg, d.cli[i].key, d.cli[i].value, &why) < 0) {
			log_err("--%s %s: %s", d.cli[i].key, d.cli[i].value, why);
			return 2;
		}
	}
	md9_log_set_level(d.cfg.log_level);
	return daemon_run(&d);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
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
	fprintf(stderr, "md9: unknown command '%s'\n\n", argv[1]);
	usage(stderr);
	return 2;
}
