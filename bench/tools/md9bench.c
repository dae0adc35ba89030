/* md9bench: the traffic ends of md9's benchmark (bench/run).
 *
 *   md9bench server --mode sink|source|echo|idle|ping [--listen PORT] ...
 *       A fake RDP server: for every connection it reads the X.224
 *       Connection Request, answers a Connection Confirm selecting
 *       PROTOCOL_RDP (so md9 --security auto relays plaintext), reads the
 *       MCS Connect-Initial, then sinks, sources, echoes, ping-pongs (ping:
 *       the server measures, the host end echoes) or just holds the
 *       connection; with --echo-first N the first N connections echo whatever
 *       the mode (an interactive session among bulk ones). Prints "listening
 *       PORT", and "accept N NS" (CLOCK_MONOTONIC) for every accept().
 *
 *   md9bench client --connect PORT --mode source|sink|ping|idle|hs ...
 *       The host-side client: connects (to md9-hostsim's raw front end, to
 *       a relay, or straight to the server), sends the vmconnect Connection
 *       Request, reads the Confirm, sends a 462-byte seed-shaped
 *       Connect-Initial, then sources, sinks, ping-pongs, idles, or (hs)
 *       closes and starts over.
 *
 * The sink side measures: it waits until --conns connections carry payload,
 * lets --warmup seconds pass, then counts bytes per connection over --window
 * seconds, together with the CPU time (every thread's schedstat, ns) of the
 * processes named in the --watch file ("NAME PID" lines) and of itself.
 * Results are one line "result {json}" on stdout.
 *
 * All times are CLOCK_MONOTONIC, comparable across processes. */
#include "md9bench.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(void) __attribute__((noreturn));
static void usage(void)
{
	fprintf(
	    stderr,
	    "usage: md9bench server --mode sink|source|echo|idle|ping [--listen PORT] [options]\n"
	    "       md9bench client --connect PORT --mode source|sink|ping|idle|hs [options]\n"
	    "  --conns N        connections (client) / connections to measure (sink)\n"
	    "  --warmup S       sink: seconds before the window (default 1)\n"
	    "  --window S       sink: measured seconds (default 3)\n"
	    "  --watch FILE     sink: \"NAME PID\" lines whose CPU time to report\n"
	    "  --chunk BYTES    read/write size (default 262144)\n"
	    "  --count N        ping: round trips (default 20000); hs: sessions\n"
	    "  --warm-count N   ping: round trips before measuring (default 2000)\n"
	    "  --size BYTES     ping: message size (default 64)\n"
	    "  --gap-ms MS      hs: pause between sessions (default 100)\n"
	    "  --hold S         idle: seconds to hold (default 30, or until stdin closes)\n"
	    "  --no-handshake   skip the X.224/MCS exchange\n"
	    "  --verify         sink: check every byte of the source's pattern\n"
	    "  --interval S     sink: also print MB/s per connection every S seconds\n"
	    "  --echo-first N   server: the first N connections echo, whatever --mode\n"
	    "  --delay S        ping: wait S seconds after the opening before the first ping\n");
	exit(2);
}

static enum mode parse_mode(const char *s)
{
	static const char *const names[] = {"sink", "source", "echo", "idle", "ping", "hs"};

	for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(s, names[i]) == 0)
			return (enum mode)i;
	usage();
}

/* Every option: its name, how its argument is read, where it goes. */
enum opt_kind { O_MODE, O_INT, O_DOUBLE, O_SIZE, O_TEXT, O_SET, O_CLEAR };

static const struct {
	const char *name;
	enum opt_kind kind;
	void *dst;
} options[] = {
    {"mode", O_MODE, &md9bench_opt.mode},
    {"listen", O_INT, &md9bench_opt.port},
    {"connect", O_INT, &md9bench_opt.port},
    {"conns", O_INT, &md9bench_opt.conns},
    {"warmup", O_DOUBLE, &md9bench_opt.warmup},
    {"window", O_DOUBLE, &md9bench_opt.window},
    {"interval", O_DOUBLE, &md9bench_opt.interval},
    {"watch", O_TEXT, &md9bench_opt.watch},
    {"chunk", O_SIZE, &md9bench_opt.chunk},
    {"count", O_INT, &md9bench_opt.count},
    {"warm-count", O_INT, &md9bench_opt.warm_count},
    {"size", O_SIZE, &md9bench_opt.msg},
    {"gap-ms", O_INT, &md9bench_opt.gap_ms},
    {"hold", O_DOUBLE, &md9bench_opt.hold},
    {"no-handshake", O_CLEAR, &md9bench_opt.handshake},
    {"verify", O_SET, &md9bench_opt.verify},
    {"echo-first", O_INT, &md9bench_opt.echo_first},
    {"delay", O_DOUBLE, &md9bench_opt.delay},
};
#define NOPTIONS (sizeof(options) / sizeof(options[0]))

static void set_option(unsigned i, const char *arg)
{
	void *dst = options[i].dst;

	switch (options[i].kind) {
	case O_MODE:
		*(enum mode *)dst = parse_mode(arg);
		break;
	case O_INT:
		*(int *)dst = atoi(arg);
		break;
	case O_DOUBLE:
		*(double *)dst = atof(arg);
		break;
	case O_SIZE:
		*(size_t *)dst = strtoul(arg, NULL, 0);
		break;
	case O_TEXT:
		*(const char **)dst = arg;
		break;
	case O_SET:
	case O_CLEAR:
		*(bool *)dst = options[i].kind == O_SET;
		break;
	}
}

int main(int argc, char **argv)
{
	struct option lo[NOPTIONS + 1] = {{0}};
	int c;
	bool have_mode = false;

	for (unsigned i = 0; i < NOPTIONS; i++) {
		bool flag = options[i].kind == O_SET || options[i].kind == O_CLEAR;
		lo[i] = (struct option){options[i].name, flag ? no_argument : required_argument,
		                        NULL, (int)i};
	}
	if (argc < 2)
		usage();
	if (strcmp(argv[1], "server") == 0)
		md9bench_opt.server = true;
	else if (strcmp(argv[1], "client") != 0)
		usage();
	optind = 2;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		if (c < 0 || (unsigned)c >= NOPTIONS)
			usage();
		set_option((unsigned)c, optarg);
		have_mode |= options[c].kind == O_MODE;
	}
	if (!have_mode || md9bench_opt.conns < 1 || md9bench_opt.conns > MAXC ||
	    md9bench_opt.chunk == 0 || md9bench_opt.count < 1)
		usage();
	if (!md9bench_opt.server && md9bench_opt.port <= 0)
		usage();
	return md9bench_opt.server ? md9bench_server_run() : md9bench_client_run();
}
