/* Helpers shared by md9-hostsim's front ends: a loopback TCP listener and
 * the pump that moves a client's bytes through a data channel, with the same
 * relay.c code md9 runs on the guest side. */
#ifndef HOSTSIM_FRONT_H
#define HOSTSIM_FRONT_H

#include "evloop.h"
#include "hostchan.h"
#include "relay.h"
#include "stream.h"

/* "127.0.0.1:PORT" or "[::1]:PORT"; a non-loopback address needs
 * allow_remote. Returns a listening non-blocking socket or -1 (logged). */
int front_listen(const char *addr, bool allow_remote);
/* The port a listening socket got (for PORT 0). */
int front_port(int fd);

enum pump_result { PUMP_OK, PUMP_CLIENT_EOF, PUMP_ERROR };

struct pump_state {
	bool client_write_blocked; /* channel -> client waits for EPOLLOUT */
	bool ring_full;            /* client -> channel waits for the guest */
	bool client_fin;           /* the client half-closed (fault eof): read it no more */
	bool eof_to_guest;         /* the end-of-stream packet is in the guest's RX ring */
	bool eof_from_guest;       /* the guest's end of stream was read: client half-closed */
	uint64_t to_guest, to_client;
};

/* Move bytes both ways between client stream and the channel until neither
 * side can progress; rings the guest's doorbell at most once. *why is set
 * on PUMP_ERROR. The caller sets the client fd's epoll interest from
 * pump_client_events(). */
enum pump_result pump_run(struct hostchan *hc, struct md9_stream *client, struct pump_state *ps,
			  const char **why);
uint32_t pump_client_events(struct md9_stream *client, const struct pump_state *ps);

#endif
