/* md9-hostsim: plays the Hyper-V host for md9 on one machine. */
#include "echo.h"
#include "endpoint.h"
#include "evloop.h"
#include "fault.h"
#include "hostctl.h"
#include "log.h"
#include "number.h"
#include "raw.h"
#include "rdpfront.h"
#include "simbus.h"
#include "uiokern.h"

#include <getopt.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#define DEFAULT_RING_SIZE (2u << 20) /* per direction, as uio_hv_generic allocates */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: md9-hostsim --bus PATH [options]\n"
		"       md9-hostsim --uio-root DIR --kernel VERSION [options]\n"
		"Plays the Hyper-V host for md9: offers VMBus channels over a simulated bus.\n"
		"\n"
		"  --bus PATH            UNIX socket md9 connects to (md9 run --transport sim:PATH)\n"
		"  --uio-root DIR        instead of --bus: emulate the guest kernel's uio_hv_generic\n"
		"                        in the tree DIR (md9 run --transport uio --root DIR, with\n"
		"                        LD_PRELOAD=libmd9uioemu.so MD9_UIO_KERNEL=DIR/kernel.sock)\n"
		"  --kernel VERSION      the emulated kernel's behaviour: %s\n"
		"  --monitored           the host gives every channel a monitor page (monitor_id)\n"
		"  --udev auto|manual    udev sets the device nodes' group and mode right after\n"
		"                        they appear (auto) or on the command \"udev\" (manual)\n"
		"  --udev-group NAME     the group udev gives the nodes (mode 0660; default root)\n"
		"  --ring-size BYTES     bytes per ring direction, control page included (default 2 MiB;\n"
		"                        with --kernel, the kernel's size)\n"
		"  --raw-listen ADDR:PORT  raw front end: each TCP connection becomes a session whose\n"
		"                        bytes go verbatim through a data channel (PORT 0: any)\n"
		"  --rdp-listen ADDR:PORT  RDP front end for real RDP clients: TLS like the host, then\n"
		"                        the decrypted stream through a data channel (PORT 0: any)\n"
		"  --version-reply R     answer the guest's VersionRequest: accept (default),\n"
		"                        reject, malformed or silent; garbled: error, unknown,\n"
		"                        short, twice, create-first\n"
		"  --instances N         data instances sessions rotate over: 99221FA1 and on\n"
		"                        (default 5, the known ones; at most 64)\n"
		"  --commands            read commands from standard input, one per line:\n"
		"                        rescind-control, offer-control,\n"
		"                        create-session-unoffered GUID, quit, and the faults\n"
		"                        (hostsim/fault.h):\n"
		"                        rescind-data all|last|GUID\n"
		"                        corrupt offset8|len8|type|type-comp|pipe-len|pipe-type|\n"
		"                                truncated|write-index|write-index-unaligned|\n"
		"                                read-index [last|GUID|control]\n"
		"                        stall on|off [all|GUID], stall after N,\n"
		"                        burst on|off [all|GUID]\n"
		"                        ctrl-send error|unknown|short|version-response|huge\n"
		"                        version-reply R, status\n"
		"                        with --uio-root also: udev, rescind-unread GUID|last,\n"
		"                        uio-status (hostsim/uiokern.h)\n"
		"  --endpoint SPEC       host endpoint: sessions whose traffic md9-hostsim makes\n"
		"                        itself on the rings (source, sink, echo, ping, idle, hs),\n"
		"                        e.g. sink:4,warmup=1,window=3 (hostsim/endpoint.h)\n"
		"  --allow-remote        allow front ends on non-loopback addresses\n"
		"  --echo-channel GUID   offer a data channel that echoes what the guest writes (tests)\n"
		"  --echo-seed N         seed for the echo's random packet sizes\n"
		"  -v                    debug logging\n"
		"  -h, --help            this text\n",
		uio_profile_names());
}

struct commands {
	struct ev_loop *loop;
	struct hostctl *ctl;
	struct uiokern *kern;
	char buf[512];
	size_t len;
};

static void run_command(struct commands *c, char *line)
{
	struct md9_guid g;
	int rc;

	if (strcmp(line, "rescind-control") == 0) {
		hostctl_rescind_control(c->ctl);
	} else if (strcmp(line, "offer-control") == 0) {
		hostctl_offer_control(c->ctl);
	} else if (strncmp(line, "create-session-unoffered ", 25) == 0 &&
		   md9_guid_parse(line + 25, &g) == 0) {
		hostctl_create_session_unoffered(c->ctl, &g);
	} else if (strcmp(line, "quit") == 0) {
		ev_stop(c->loop);
	} else if (c->kern && (rc = uiokern_command(c->kern, c->ctl, line)) != 0) {
		if (rc < 0)
			return;
	} else if ((rc = fault_command(line)) != 0) {
		if (rc < 0)
			return;
	} else if (line[0]) {
		log_warn("hostsim: unknown command '%s'", line);
		return;
	}
	log_info("hostsim: command '%s' done", line);
}

static void on_stdin(struct ev_handler *h, uint32_t events)
{
	struct commands *c = h->arg;
	ssize_t n = read(h->fd, c->buf + c->len, sizeof(c->buf) - 1 - c->len);
	char *nl;

	if (n <= 0) {
		/* Standard input closed: no more commands, keep serving. */
		ev_del(c->loop, h);
		return;
	}
	c->len += (size_t)n;
	c->buf[c->len] = '\0';
	while ((nl = strchr(c->buf, '\n'))) {
		*nl = '\0';
		run_command(c, c->buf);
		c->len -= (size_t)(nl + 1 - c->buf);
		memmove(c->buf, nl + 1, c->len + 1);
	}
	if (c->len == sizeof(c->buf) - 1)
		c->len = 0; /* an over-long line: drop it */
}

static void on_signal(struct ev_handler *h, uint32_t events)
{
	struct signalfd_siginfo si;

	if (read(h->fd, &si, sizeof(si)) == sizeof(si)) {
		log_info("hostsim: signal %u, stopping", si.ssi_signo);
		ev_stop(h->arg);
	}
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"bus", required_argument, NULL, 'b'},
		{"ring-size", required_argument, NULL, 'r'},
		{"echo-channel", required_argument, NULL, 'e'},
		{"raw-listen", required_argument, NULL, 'R'},
		{"rdp-listen", required_argument, NULL, 'D'},
		{"version-reply", required_argument, NULL, 'V'},
		{"commands", no_argument, NULL, 'C'},
		{"allow-remote", no_argument, NULL, 'A'},
		{"echo-seed", required_argument, NULL, 's'},
		{"instances", required_argument, NULL, 'I'},
		{"uio-root", required_argument, NULL, 'U'},
		{"kernel", required_argument, NULL, 'K'},
		{"monitored", no_argument, NULL, 'M'},
		{"udev", required_argument, NULL, 'u'},
		{"udev-group", required_argument, NULL, 'g'},
		{"endpoint", required_argument, NULL, 'E'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *bus_path = NULL, *echo = NULL, *raw = NULL, *rdp = NULL, *endpoint = NULL;
	enum version_reply vreply = VERSION_ACCEPT;
	bool commands = false, allow_remote = false;
	static struct commands cmds;
	struct ev_handler stdin_h = {0};
	int raw_port = -1, rdp_port = -1;
	size_t ring_size = DEFAULT_RING_SIZE;
	bool ring_size_set = false;
	struct uiokern_opts uo = {.udev_mode = 0660};
	const char *kernel = NULL, *udev_group = NULL;
	struct uiokern *kern = NULL;
	unsigned seed = 1, instances = MD9_DATA_INSTANCES;
	enum md9_log_level level = MD9_LOG_INFO;
	struct md9_guid echo_guid;
	struct ev_handler sigh = {0};
	sigset_t mask;
	int c, sfd, rc = 0;
	uint64_t n;

	while ((c = getopt_long(argc, argv, "vh", opts, NULL)) != -1) {
		switch (c) {
		case 'b':
			bus_path = optarg;
			break;
		case 'r':
			if (md9_number_parse(optarg, 2 * 4096, 1ull << 30, &n) < 0) {
				fprintf(stderr, "--ring-size: bytes, 8192 to 1073741824 (a multiple "
						"of the page size)\n");
				return 2;
			}
			ring_size = (size_t)n;
			ring_size_set = true;
			break;
		case 'U':
			uo.root = optarg;
			break;
		case 'K':
			kernel = optarg;
			break;
		case 'M':
			uo.monitored = true;
			break;
		case 'u':
			if (strcmp(optarg, "auto") != 0 && strcmp(optarg, "manual") != 0) {
				fprintf(stderr, "--udev: auto or manual\n");
				return 2;
			}
			uo.udev_manual = strcmp(optarg, "manual") == 0;
			break;
		case 'g':
			udev_group = optarg;
			break;
		case 'e':
			echo = optarg;
			break;
		case 's':
			if (md9_number_parse(optarg, 0, UINT32_MAX, &n) < 0) {
				fprintf(stderr, "--echo-seed: 0 to 4294967295\n");
				return 2;
			}
			seed = (unsigned)n;
			break;
		case 'R':
			raw = optarg;
			break;
		case 'D':
			rdp = optarg;
			break;
		case 'V':
			if (version_reply_parse(optarg, &vreply) < 0) {
				fprintf(stderr, "--version-reply: accept, reject, malformed, silent, "
						"error, unknown, short, twice or create-first\n");
				return 2;
			}
			break;
		case 'C':
			commands = true;
			break;
		case 'I':
			if (md9_number_parse(optarg, 1, 64, &n) < 0) {
				fprintf(stderr, "--instances: 1-64\n");
				return 2;
			}
			instances = (unsigned)n;
			break;
		case 'E':
			endpoint = optarg;
			break;
		case 'A':
			allow_remote = true;
			break;
		case 'v':
			level = MD9_LOG_DEBUG;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	md9_log_init("md9-hostsim", level);
	if (!bus_path == !uo.root || !uo.root != !kernel) {
		usage(stderr);
		return 2;
	}
	if (kernel && !(uo.profile = uio_profile_find(kernel))) {
		fprintf(stderr, "--kernel: one of %s\n", uio_profile_names());
		return 2;
	}
	if (uo.profile && !ring_size_set)
		ring_size = uo.profile->ring_size;
	if (udev_group) {
		struct group *gr = getgrnam(udev_group);

		if (!gr) {
			fprintf(stderr, "--udev-group: no group %s\n", udev_group);
			return 2;
		}
		uo.udev_gid = gr->gr_gid;
	}
	if (echo && md9_guid_parse(echo, &echo_guid) < 0) {
		log_err("--echo-channel: not a GUID: %s", echo);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);

	struct ev_loop *loop = ev_loop_new();
	struct simbus *bus = NULL;
	if (loop && uo.root) {
		kern = uiokern_new(loop, &uo);
		bus = kern ? uiokern_bus(kern, ring_size) : NULL;
	} else if (loop) {
		bus = simbus_new(loop, bus_path, ring_size);
	}
	if (!bus || sfd < 0)
		return 1;
	ev_set(loop, &sigh, sfd, EPOLLIN, on_signal, loop);
	struct echo *echo_peer = NULL;
	if (echo && !(echo_peer = echo_start(bus, &echo_guid, seed)))
		return 1;
	struct hostctl *ctl = hostctl_new(bus, vreply);
	if (!ctl)
		return 1;
	hostctl_set_instances(ctl, instances);
	fault_init(ctl);
	if (raw && (raw_port = raw_start(loop, ctl, raw, allow_remote)) < 0)
		return 1;
	if (rdp && (rdp_port = rdpfront_start(loop, ctl, rdp, allow_remote)) < 0)
		return 1;
	if (endpoint && endpoint_start(loop, ctl, endpoint) < 0)
		return 2;
	if (commands) {
		cmds.loop = loop;
		cmds.ctl = ctl;
		cmds.kern = kern;
		ev_set(loop, &stdin_h, STDIN_FILENO, EPOLLIN, on_stdin, &cmds);
	}
	if (bus_path)
		log_info("hostsim: serving the bus at %s", bus_path);
	/* Readiness line for scripts and tests: everything listens now. */
	if (bus_path)
		printf("ready %s raw=%d rdp=%d\n", bus_path, raw_port, rdp_port);
	else
		printf("ready uio:%s raw=%d rdp=%d\n", uo.root, raw_port, rdp_port);
	fflush(stdout);
	if (ev_run(loop) < 0)
		rc = 1;
	raw_stop();
	endpoint_stop();
	rdpfront_stop();
	hostctl_free(ctl);
	simbus_free(bus);
	uiokern_free(kern);
	echo_free(echo_peer);
	ev_del(loop, &sigh);
	ev_loop_free(loop);
	close(sfd);
	return rc;
}
