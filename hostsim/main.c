/* md9-hostsim: plays the Hyper-V host for md9 on one machine. */
#include "echo.h"
#include "evloop.h"
#include "log.h"
#include "simbus.h"

#include <getopt.h>
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
		"Plays the Hyper-V host for md9: offers VMBus channels over a simulated bus.\n"
		"\n"
		"  --bus PATH            UNIX socket md9 connects to (md9 run --transport sim:PATH)\n"
		"  --ring-size BYTES     bytes per ring direction, control page included (default 2 MiB)\n"
		"  --echo-channel GUID   offer a data channel that echoes what the guest writes (tests)\n"
		"  --echo-seed N         seed for the echo's random packet sizes\n"
		"  -v                    debug logging\n"
		"  -h, --help            this text\n");
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
		{"echo-seed", required_argument, NULL, 's'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *bus_path = NULL, *echo = NULL;
	size_t ring_size = DEFAULT_RING_SIZE;
	unsigned seed = 1;
	enum md9_log_level level = MD9_LOG_INFO;
	struct md9_guid echo_guid;
	struct ev_handler sigh = {0};
	sigset_t mask;
	int c, sfd, rc = 0;

	while ((c = getopt_long(argc, argv, "vh", opts, NULL)) != -1) {
		switch (c) {
		case 'b':
			bus_path = optarg;
			break;
		case 'r':
			ring_size = strtoul(optarg, NULL, 0);
			break;
		case 'e':
			echo = optarg;
			break;
		case 's':
			seed = (unsigned)strtoul(optarg, NULL, 0);
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
	if (!bus_path) {
		usage(stderr);
		return 2;
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
	struct simbus *bus = loop ? simbus_new(loop, bus_path, ring_size) : NULL;
	if (!bus || sfd < 0)
		return 1;
	ev_set(loop, &sigh, sfd, EPOLLIN, on_signal, loop);
	if (echo && echo_start(bus, &echo_guid, seed) < 0)
		return 1;
	log_info("hostsim: serving the bus at %s", bus_path);
	/* Readiness line for scripts and tests: the bus socket exists now. */
	printf("ready %s\n", bus_path);
	fflush(stdout);
	if (ev_run(loop) < 0)
		rc = 1;
	simbus_free(bus);
	ev_del(loop, &sigh);
	ev_loop_free(loop);
	close(sfd);
	return rc;
}
