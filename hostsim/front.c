#include "front.h"

#include "fault.h"
#include "log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define PUMP_BUDGET (4u << 20)

int front_listen(const char *addr, bool allow_remote)
{
	char host[64];
	const char *colon;
	struct sockaddr_storage ss = {0};
	socklen_t len;
	int fd, one = 1, port;

	if (addr[0] == '[') {
		const char *close = strchr(addr, ']');
		if (!close || close[1] != ':' || (size_t)(close - addr - 1) >= sizeof(host))
			goto bad;
		memcpy(host, addr + 1, (size_t)(close - addr - 1));
		host[close - addr - 1] = '\0';
		colon = close + 1;
	} else {
		colon = strrchr(addr, ':');
		if (!colon || (size_t)(colon - addr) >= sizeof(host))
			goto bad;
		memcpy(host, addr, (size_t)(colon - addr));
		host[colon - addr] = '\0';
	}
	port = atoi(colon + 1);
	if (port < 0 || port > 65535)
		goto bad;
	struct sockaddr_in *v4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&ss;
	if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
		v4->sin_family = AF_INET;
		v4->sin_port = htons((uint16_t)port);
		len = sizeof(*v4);
		if (!allow_remote && (ntohl(v4->sin_addr.s_addr) >> 24) != 127)
			goto remote;
	} else if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
		v6->sin6_family = AF_INET6;
		v6->sin6_port = htons((uint16_t)port);
		len = sizeof(*v6);
		if (!allow_remote && !IN6_IS_ADDR_LOOPBACK(&v6->sin6_addr))
			goto remote;
	} else {
		goto bad;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, 16) < 0) {
		log_err("hostsim: cannot listen on %s: %s", addr, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
bad:
	log_err("hostsim: listen address must be ADDR:PORT or [ADDR]:PORT, not %s", addr);
	return -1;
remote:
	log_err("hostsim: %s is not a loopback address; the simulator listens on loopback only unless --allow-remote is given",
		addr);
	return -1;
}

int front_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return -1;
	if (ss.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&ss)->sin_port);
	return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
}

enum pump_result pump_run(struct hostchan *hc, struct md9_stream *client, struct pump_state *ps,
			  const char **why)
{
	enum pump_result res = PUMP_OK;
	bool kick = false;
	/* The client came up short (EAGAIN or a short read): do not read it
	 * again in this call. Its fd is level-triggered, so bytes arriving
	 * meanwhile bring us back; reading now would only cost a system call
	 * (on the latency path, before the doorbell). */
	bool drained = false;
	/* Fault injection (fault.h): a corrupted channel moves nothing more;
	 * a stalled one leaves the guest's TX ring unread (and masked: the
	 * guest's doorbell stays quiet); burst writes tiny packets. */
	bool stalled = fault_stalled(hc), burst = fault_burst(hc);
	/* Bytes this call may move before it lets the loop serve the other
	 * channels and the bus (below). */
	uint64_t budget_end = ps->to_guest + ps->to_client + PUMP_BUDGET;

	if (fault_frozen(hc)) {
		ps->ring_full = true;
		ps->client_write_blocked = false;
		return PUMP_OK;
	}
	/* Woken: look at the ring again whatever we waited for. */
	vmbus_ring_write_unwait(&hc->rx);
	for (;;) {
		bool progress = false;
		struct relay_result r;

		vmbus_ring_mask(&hc->tx);
		/* stall after N: this channel's limit reached counts as stalled. */
		size_t room = fault_stall_room(ps->to_client);

		stalled |= room == 0;
		if (!stalled) {
			r = relay_pipe_to_stream(&hc->in, client, room);
			ps->to_client += r.moved;
			if (r.state == RELAY_ERROR) {
				*why = r.err == -EBADMSG ? hc->in.error : strerror(-r.err);
				res = PUMP_ERROR;
				break;
			}
			ps->client_write_blocked = r.state == RELAY_BLOCKED;
			progress |= r.moved > 0;
			if (hc->in.eof && !ps->eof_from_guest) {
				/* K9: the guest sends nothing more; every byte before
				 * it went to the client, which sees FIN now. */
				int rc = client->ops->shutdown_write(client);
				if (rc == -EAGAIN) {
					ps->client_write_blocked = true;
				} else {
					ps->eof_from_guest = true;
					log_info("hostsim: end of stream from the guest after %llu "
					         "bytes; "
					         "the client connection is half-closed",
					         (unsigned long long)ps->to_client);
				}
			}
		} else {
			ps->client_write_blocked = false;
		}

		if (ps->client_fin) {
			/* fault eof: the client's FIN goes to the guest as one
			 * zero-length packet after its last byte. */
			if (!ps->eof_to_guest) {
				if (pipe_tx_eof(&hc->out)) {
					ps->eof_to_guest = true;
					ps->ring_full = false;
					progress = true;
					log_info(
					    "hostsim: end of stream to the guest after %llu bytes",
					    (unsigned long long)ps->to_guest);
				} else if (pipe_tx_wait(&hc->out, 0)) {
					progress = true;
				} else {
					ps->ring_full = true;
				}
			}
		} else if (!drained &&
		           (!ps->ring_full || vmbus_ring_max_payload(&hc->rx) > PIPE_HDR_LEN)) {
			r = burst ? fault_burst_fill(hc, client)
				  : relay_stream_to_pipe(client, &hc->out, 1u << 20);
			ps->to_guest += r.moved;
			progress |= r.moved > 0;
			ps->ring_full = false;
			drained = r.state == RELAY_IDLE;
			if (r.state == RELAY_EOF && fault_eof(hc)) {
				ps->client_fin = true;
				progress = true;
			} else if (r.state == RELAY_EOF) {
				res = PUMP_CLIENT_EOF;
				break;
			}
			if (r.state == RELAY_ERROR) {
				*why = strerror(-r.err);
				res = PUMP_ERROR;
				break;
			}
			if (r.state == RELAY_BLOCKED) {
				/* Publish before waiting for room (session.c,
				 * wait_host_room: the same holds for the host). */
				if (pipe_tx_commit(&hc->out))
					hostchan_signal(hc);
				if (pipe_tx_wait(&hc->out, 1))
					progress = true;
				else
					ps->ring_full = true;
			}
		} else if (!drained && !ps->client_fin && pipe_tx_wait(&hc->out, 1)) {
			/* Still full: the unwait above dropped our request for a
			 * signal; without it the guest's reads would never wake
			 * us (found by the stall fault test). */
			progress = true;
		}
		/* Publish this pass and ring the doorbell now if the guest needs
		 * it (it was idle and unmasked, or waits for room): it starts on
		 * these bytes while we look again. Commits signal only on those
		 * transitions, so this is not a doorbell per packet. */
		bool ring = pipe_tx_commit(&hc->out);
		ring |= pipe_rx_commit(&hc->in); /* both commits must run: no || */
		if (ring)
			hostchan_signal(hc);
		if (progress && ps->to_guest + ps->to_client < budget_end)
			continue;
		if (progress) {
			/* Budget used up while both sides keep pace: without
			 * this the loop could run for a whole transfer and starve
			 * the other channels and the bus (a guest's channel open
			 * would time out). Ring our own doorbell to come back
			 * after them. */
			uint64_t one = 1;
			if (write(hc->from_guest, &one, sizeof(one)) < 0)
				log_warn("hostsim: self doorbell: %s", strerror(errno));
			break;
		}
		if (ps->client_write_blocked || stalled || !vmbus_ring_unmask(&hc->tx))
			break;
	}
	kick |= pipe_tx_commit(&hc->out);
	kick |= pipe_rx_commit(&hc->in);
	if (kick)
		hostchan_signal(hc);
	return res;
}

uint32_t pump_client_events(struct md9_stream *client, const struct pump_state *ps)
{
	return client->ops->events_for(client, !ps->ring_full && !ps->client_fin,
	                               ps->client_write_blocked);
}
