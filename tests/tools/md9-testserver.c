/* md9-testserver: plays the local RDP server just enough for md9 (tests).
 *
 * Per connection: read the X.224 Connection Request (one TPKT), answer a
 * Connection Confirm selecting PROTOCOL_RDP (so md9 in --security auto, which
 * asks for SSL, stays plaintext: adapter_on_cc -> ADAPTER_PLAIN), read the MCS
 * Connect-Initial (one TPKT), answer an MCS Connect-Response without
 * encryption (connect_response.h), then data mode (md9-testcommon.h):
 *
 *   --mode echo          every byte back; hashes what it received
 *   --mode sink-source   reads and hashes everything; sends what the client's
 *                        header asks for (or --bytes N|inf) of
 *                        stream(--seed S ^ client seed) in random chunks
 *
 * and prints one line per connection when it ends:
 *   conn K: done mode=M seed=0x.. received=R sha256=H sent=N sha256=H
 *           verified=yes|no(mismatch at OFFSET) status=S
 * verified: every byte received after the header was stream(client seed)
 * (a prefix of it when the connection ended early), in both modes.
 * status: complete | eof (the peer ended first) | closed-after | timeout | error:...
 *
 *   --refuse             close every connection right after accept
 *   --close-after N      close abruptly once N data-mode bytes were received
 *   --half-close-ok      a FIN from the peer after its whole announced stream
 *                        arrived is a half-close: keep sending what is owed
 *   --slow-read BPS      read at most BPS bytes per second in data mode
 *   --max-conns K        exit after K connections have ended
 */
#include "connect_response.h"
#include "md9-testcommon.h"
#include "testcli.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/socket.h>

static struct {
	enum testcli_mode mode;
	uint64_t bytes; /* to send in sink-source mode; UINT64_MAX = unlimited */
	bool bytes_set; /* else the client's header says how many */
	uint64_t seed;
	bool refuse;
	uint64_t close_after; /* 0 = never */
	bool half_close_ok;
	uint64_t slow_read; /* bytes/s, 0 = unlimited */
	size_t max_chunk;
	double idle_timeout;
	unsigned max_conns;
} opt = {
    .mode = TESTCLI_SINK_SOURCE,
    .seed = 1,
    .max_chunk = 65536,
    .idle_timeout = 120,
};

/* The Connection Confirm: TPKT, X.224 CC (LI 14), RDP_NEG_RSP selecting
 * PROTOCOL_RDP (0). MS-RDPBCGR 2.2.1.2. */
static const uint8_t cc_rdp[19] = {0x03, 0x00, 0x00, 0x13, 0x0e, 0xd0, 0x00, 0x00, 0x12, 0x34,
                                   0x00, 0x02, 0x00, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00};

struct conn {
	int fd;
	unsigned id;
};

struct data_state {
	EVP_MD_CTX *rx_sha, *tx_sha;
	uint64_t received, sent;
	uint64_t client_seed, client_total, to_send;
	uint8_t hdr[TC_HDR_LEN];
	bool have_hdr;
	struct tc_gen gen;  /* what we send */
	struct tc_gen vgen; /* what the client sends, to verify it */
	uint8_t *exp;
	bool verified;
	uint64_t mismatch_at;
	uint64_t chunk_seed;
	uint8_t *out; /* pending output */
	size_t out_len, out_off;
	const char *status;
	char why[128];
};

static void finish(struct conn *c, struct data_state *st)
{
	char rx[65], tx[65], v[64];

	tc_sha_hex(st->rx_sha, rx);
	tc_sha_hex(st->tx_sha, tx);
	testcli_verified(v, sizeof(v), st->verified, st->mismatch_at);
	testcli_say("conn %u: done mode=%s seed=0x%016" PRIx64 " received=%" PRIu64
	            " sha256=%s sent=%" PRIu64 " sha256=%s verified=%s status=%s%s\n",
	            c->id, opt.mode == TESTCLI_ECHO ? "echo" : "sink-source", st->client_seed,
	            st->received, rx, st->sent, tx, v, st->status, st->why);
}

/* How many bytes --slow-read lets us read now; *wait_ms when 0. */
static size_t read_allowance(const struct data_state *st, double t0, int *wait_ms)
{
	double allowed;

	*wait_ms = -1;
	if (!opt.slow_read)
		return SIZE_MAX;
	allowed = (tc_now() - t0) * (double)opt.slow_read - (double)st->received;
	if (allowed >= 1)
		return allowed > (double)SIZE_MAX ? SIZE_MAX : (size_t)allowed;
	*wait_ms = (int)((1.0 - allowed) * 1000.0 / (double)opt.slow_read) + 1;
	return 0;
}

static void data_mode(struct conn *c)
{
	struct data_state st = {0};
	size_t bufsz = opt.max_chunk > 65536 ? opt.max_chunk : 65536;
	uint8_t *in = malloc(bufsz);
	double t0 = tc_now(), last = t0;
	bool peer_eof = false, peer_fin = false; /* fin: read() returned 0 */

	st.rx_sha = tc_sha_new();
	st.tx_sha = tc_sha_new();
	st.out = malloc(bufsz);
	st.exp = malloc(bufsz);
	st.verified = true;
	st.status = "complete";
	if (!in || !st.out || !st.exp) {
		st.status = "error: out of memory";
		goto out;
	}
	for (;;) {
		bool recv_done =
		    peer_eof || (st.have_hdr && st.client_total && st.received >= st.client_total);
		bool send_more;
		int wait_ms = -1, rc;
		size_t allow = read_allowance(&st, t0, &wait_ms);
		struct pollfd p = {.fd = c->fd};

		if (opt.mode == TESTCLI_ECHO)
			send_more = st.out_off < st.out_len;
		else
			send_more =
			    st.have_hdr && (st.out_off < st.out_len || st.sent < st.to_send);
		if (opt.mode == TESTCLI_ECHO && peer_eof && !send_more)
			break;
		if (opt.mode == TESTCLI_SINK_SOURCE && recv_done && !send_more)
			break;
		if (opt.mode == TESTCLI_SINK_SOURCE && peer_eof && send_more &&
		    !(opt.half_close_ok && peer_fin && st.have_hdr && st.client_total &&
		      st.received >= st.client_total)) {
			st.status = "eof";
			break;
		}
		/* Echo: do not read more until what was read went back. */
		if (!recv_done && allow && !(opt.mode == TESTCLI_ECHO && st.out_off < st.out_len))
			p.events |= POLLIN;
		/* --half-close-ok: watch for the peer's FIN after its stream. */
		if (opt.half_close_ok && recv_done && !peer_eof)
			p.events |= POLLIN;
		if (send_more)
			p.events |= POLLOUT;
		if (!p.events && wait_ms < 0) {
			st.status = "error";
			snprintf(st.why, sizeof(st.why), ": stuck");
			break;
		}
		rc = poll(&p, 1, wait_ms >= 0 && wait_ms < 1000 ? wait_ms : 1000);
		if (rc < 0 && errno != EINTR) {
			st.status = "error";
			snprintf(st.why, sizeof(st.why), ": poll: %s", strerror(errno));
			break;
		}
		if (rc <= 0) {
			if (tc_now() - last > opt.idle_timeout) {
				st.status = "timeout";
				break;
			}
			continue;
		}
		last = tc_now();
		if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
			size_t want = tc_chunk(&st.chunk_seed, bufsz);
			if (want > allow)
				want = allow;
			if (want == 0)
				want = 1;
			ssize_t n = read(c->fd, in, want);
			if (n == 0) {
				if (!peer_eof && opt.half_close_ok)
					testcli_say(
					    "conn %u: half-closed by the peer: seed=0x%016" PRIx64
					    " received=%" PRIu64 " sent=%" PRIu64 " owed=%" PRIu64
					    "\n",
					    c->id, st.client_seed, st.received, st.sent,
					    st.to_send > st.sent ? st.to_send - st.sent : 0);
				peer_eof = peer_fin = true;
			} else if (n < 0 && errno != EAGAIN && errno != EINTR) {
				if (errno == ECONNRESET) {
					peer_eof = true;
				} else {
					st.status = "error";
					snprintf(st.why, sizeof(st.why), ": read: %s",
					         strerror(errno));
					break;
				}
			} else if (n > 0) {
				size_t off = 0;
				EVP_DigestUpdate(st.rx_sha, in, (size_t)n);
				while (!st.have_hdr && off < (size_t)n) {
					size_t k = TC_HDR_LEN - (size_t)(st.received + off);
					if (k > (size_t)n - off)
						k = (size_t)n - off;
					memcpy(st.hdr + st.received + off, in + off, k);
					off += k;
					if (st.received + off == TC_HDR_LEN) {
						st.have_hdr = true;
						st.client_seed = tc_get64(st.hdr);
						st.client_total = tc_get64(st.hdr + 8);
						st.to_send = opt.bytes_set ? opt.bytes
						                           : tc_get64(st.hdr + 16);
						tc_gen_init(&st.gen, opt.seed ^ st.client_seed);
						tc_gen_init(&st.vgen, st.client_seed);
						st.chunk_seed ^= st.client_seed;
					}
				}
				if (st.have_hdr && off < (size_t)n) {
					size_t k = (size_t)n - off;
					tc_gen_fill(&st.vgen, st.exp, k);
					if (st.verified && memcmp(in + off, st.exp, k) != 0) {
						size_t i = 0;
						while (in[off + i] == st.exp[i])
							i++;
						st.verified = false;
						st.mismatch_at = st.received + off + i;
					}
				}
				st.received += (uint64_t)n;
				if (opt.mode == TESTCLI_ECHO) {
					memcpy(st.out, in, (size_t)n);
					st.out_len = (size_t)n;
					st.out_off = 0;
				}
				if (opt.close_after && st.received >= opt.close_after) {
					st.status = "closed-after";
					break;
				}
			}
		}
		if (p.revents & POLLOUT) {
			if (st.out_off == st.out_len && opt.mode == TESTCLI_SINK_SOURCE &&
			    st.sent < st.to_send) {
				size_t k = tc_chunk(&st.chunk_seed, opt.max_chunk);
				if (k > st.to_send - st.sent)
					k = (size_t)(st.to_send - st.sent);
				tc_gen_fill(&st.gen, st.out, k);
				st.out_len = k;
				st.out_off = 0;
			}
			while (st.out_off < st.out_len) {
				ssize_t n =
				    write(c->fd, st.out + st.out_off, st.out_len - st.out_off);
				if (n < 0) {
					if (errno == EAGAIN || errno == EINTR)
						break;
					if (errno == EPIPE || errno == ECONNRESET) {
						peer_eof = true;
						peer_fin = false;
						break;
					}
					st.status = "error";
					snprintf(st.why, sizeof(st.why), ": write: %s",
					         strerror(errno));
					goto out;
				}
				EVP_DigestUpdate(st.tx_sha, st.out + st.out_off, (size_t)n);
				st.out_off += (size_t)n;
				st.sent += (uint64_t)n;
			}
			if (st.out_off == st.out_len)
				st.out_len = st.out_off = 0;
		}
	}
	/* Complete: the client's whole announced stream arrived and ours went. */
	if (strcmp(st.status, "complete") == 0 &&
	    (!st.have_hdr || (opt.mode == TESTCLI_SINK_SOURCE && st.sent < st.to_send) ||
	     (opt.mode == TESTCLI_SINK_SOURCE &&
	      (st.client_total == 0 || st.received < st.client_total)) ||
	     (opt.mode == TESTCLI_ECHO && st.client_total && st.received < st.client_total)))
		st.status = "eof";
out:
	finish(c, &st);
	EVP_MD_CTX_free(st.rx_sha);
	EVP_MD_CTX_free(st.tx_sha);
	free(in);
	free(st.out);
	free(st.exp);
}

static void *conn_main(void *arg)
{
	struct conn *c = arg;
	uint8_t *buf = malloc(65536);
	double deadline = tc_now() + opt.idle_timeout;
	long n;

	if (!buf)
		goto out;
	if (opt.refuse) {
		testcli_say("conn %u: refused\n", c->id);
		goto out;
	}
	n = tc_read_tpkt(c->fd, buf, 65536, deadline);
	if (n < 7 || (buf[5] & 0xf0) != 0xe0) {
		testcli_say("conn %u: done status=error: no X.224 Connection Request (%ld)\n",
		            c->id, n);
		goto out;
	}
	if (tc_write_all(c->fd, cc_rdp, sizeof(cc_rdp), deadline) < 0) {
		testcli_say("conn %u: done status=error: cannot send the Connection Confirm\n",
		            c->id);
		goto out;
	}
	n = tc_read_tpkt(c->fd, buf, 65536, deadline);
	if (n < 9 || buf[4] != 0x02 || buf[5] != 0xf0 || buf[7] != 0x7f || buf[8] != 0x65) {
		testcli_say("conn %u: done status=error: no MCS Connect-Initial (%ld)\n", c->id, n);
		goto out;
	}
	if (tc_write_all(c->fd, test_connect_response, sizeof(test_connect_response), deadline) <
	    0) {
		testcli_say("conn %u: done status=error: cannot send the Connect-Response\n",
		            c->id);
		goto out;
	}
	testcli_say("conn %u: negotiated: Connection Request and %ld-byte Connect-Initial\n", c->id,
	            n);
	data_mode(c);
out:
	close(c->fd);
	free(buf);
	free(c);
	return NULL;
}

static int listen_on(const char *spec)
{
	char host[64] = "127.0.0.1";
	const char *colon = strrchr(spec, ':');
	struct sockaddr_in sa = {.sin_family = AF_INET};
	int fd, one = 1;

	if (colon) {
		size_t hl = (size_t)(colon - spec);
		if (hl >= sizeof(host))
			return -1;
		memcpy(host, spec, hl);
		host[hl] = '\0';
		spec = colon + 1;
	}
	sa.sin_port = htons((uint16_t)atoi(spec));
	if (inet_pton(AF_INET, host, &sa.sin_addr) != 1)
		return -1;
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 64) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: md9-testserver [--listen HOST:PORT] [--mode echo|sink-source]\n"
	        "         [--bytes N|inf] [--seed S] [--refuse] [--close-after N]\n"
	        "         [--slow-read BYTES_PER_SEC] [--max-chunk N] [--max-conns K]\n"
	        "         [--idle-timeout SEC] [--half-close-ok]\n"
	        "Prints \"listening PORT\", then one \"conn K: done ...\" line per connection.\n");
}

int main(int argc, char **argv)
{
	const char *listen_spec = "127.0.0.1:0";
	const struct testcli_option opts[] = {
	    {"listen", TESTCLI_STRING, &listen_spec, NULL},
	    {"mode", TESTCLI_MODE, &opt.mode, NULL},
	    {"bytes", TESTCLI_U64_INF, &opt.bytes, &opt.bytes_set},
	    {"seed", TESTCLI_U64, &opt.seed, NULL},
	    {"refuse", TESTCLI_FLAG, &opt.refuse, NULL},
	    {"close-after", TESTCLI_U64, &opt.close_after, NULL},
	    {"slow-read", TESTCLI_U64, &opt.slow_read, NULL},
	    {"max-chunk", TESTCLI_MAX_CHUNK, &opt.max_chunk, NULL},
	    {"max-conns", TESTCLI_UNSIGNED, &opt.max_conns, NULL},
	    {"idle-timeout", TESTCLI_SECONDS, &opt.idle_timeout, NULL},
	    {"half-close-ok", TESTCLI_FLAG, &opt.half_close_ok, NULL},
	};
	pthread_t *threads = NULL;
	unsigned nconn = 0;
	int rc, lfd;
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);

	rc = testcli_parse(argc, argv, opts, sizeof(opts) / sizeof(opts[0]), usage);
	if (rc >= 0)
		return rc;
	signal(SIGPIPE, SIG_IGN);
	lfd = listen_on(listen_spec);
	if (lfd < 0 || getsockname(lfd, (struct sockaddr *)&sa, &sl) < 0) {
		fprintf(stderr, "md9-testserver: cannot listen on %s: %s\n", listen_spec,
		        strerror(errno));
		return 1;
	}
	if (opt.max_conns)
		threads = calloc(opt.max_conns, sizeof(*threads));
	testcli_say("listening %d\n", ntohs(sa.sin_port));
	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		struct conn *cn;
		pthread_t t;

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			fprintf(stderr, "md9-testserver: accept: %s\n", strerror(errno));
			return 1;
		}
		cn = calloc(1, sizeof(*cn));
		if (!cn) {
			close(fd);
			continue;
		}
		cn->fd = fd;
		cn->id = ++nconn;
		testcli_say("conn %u: accepted\n", cn->id);
		if (pthread_create(&t, NULL, conn_main, cn) != 0) {
			close(fd);
			free(cn);
			continue;
		}
		if (!threads) {
			pthread_detach(t);
			continue;
		}
		threads[nconn - 1] = t;
		if (nconn == opt.max_conns)
			break;
	}
	for (unsigned i = 0; i < nconn; i++)
		pthread_join(threads[i], NULL);
	free(threads);
	close(lfd);
	return 0;
}
