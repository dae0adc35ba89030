/* md9bench's parts (md9bench.c has the whole tool's description): the
 * options, the connections, and what each file offers the others. */
#ifndef MD9BENCH_H
#define MD9BENCH_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "timespec.h" /* timespec_now_ns: CLOCK_MONOTONIC, as md9 and hostsim */

#define MAXC          64
#define TPKT_MAX      65535
#define DEFAULT_CHUNK (256u << 10)

enum mode { M_SINK, M_SOURCE, M_ECHO, M_IDLE, M_PING, M_HS };

struct md9bench_opts {
	bool server;
	enum mode mode;
	int port;
	int conns;
	double warmup, window, hold;
	const char *watch;
	size_t chunk;
	int count, warm_count;
	size_t msg;
	int gap_ms;
	bool handshake;
	bool verify;
	double interval;
	int echo_first;
	double delay;
};

struct conn {
	int fd;
	uint64_t vpos; /* --verify: stream offset of the next byte */
	uint64_t spos; /* source: stream offset of the next byte */
	_Atomic uint64_t bytes;
	_Atomic uint64_t first_ns;
	uint8_t *rbuf; /* handshake reader */
	size_t rlen;
};

/* md9bench_state.c: the options, the connections, and helpers every part
 * uses; below every other file of md9bench. */
extern struct md9bench_opts md9bench_opt;
extern struct conn md9bench_conns[MAXC];
extern _Atomic int md9bench_nconns, md9bench_nready;
void md9bench_sleep_s(double s);
void md9bench_die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* md9bench_net.c: whole sends and receives on a blocking socket; 0 or -1. */
int md9bench_net_write_full(int fd, const void *p, size_t n);
int md9bench_net_read_full(int fd, void *p, size_t n);
void md9bench_net_nodelay(int fd);

/* md9bench_opening.c: the RDP opening on a connected socket; 0 or -1
 * (said on stderr). Bytes after it stay in c->rbuf. */
int md9bench_opening_server(struct conn *c);
int md9bench_opening_client(struct conn *c);

/* md9bench_bulk.c: hand an opened connection to the sink/source loop (the
 * loop's thread starts with the first start_thread); serve the source
 * connections on this thread until all are gone; echo or hold one. */
void md9bench_bulk_add(struct conn *c, bool start_thread);
void md9bench_bulk_serve(void);
void md9bench_bulk_echo(struct conn *c);
void md9bench_bulk_hold(struct conn *c);

/* md9bench_measure.c: the sink's window; prints the result and exits (a
 * thread's start routine). */
void *md9bench_measure(void *arg);

/* md9bench_ping.c: ping-pong on an opened connection; prints the result. */
int md9bench_ping(struct conn *c);

/* md9bench_server.c, md9bench_client.c: the two roles; they do not return
 * but through exit, or 0 when done. */
int md9bench_server_run(void);
int md9bench_client_run(void);

#endif
