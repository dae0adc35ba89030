/* md9-testclient: plays the host's client side against md9-hostsim's raw
 * front end (each TCP connection becomes one Enhanced Session).
 *
 * Per session: the seed's 19-byte vmconnect X.224 Connection Request, read the
 * Connection Confirm md9 passes back, the seed-shaped 462-byte MCS
 * Connect-Initial, then data mode (md9-testcommon.h): a 24-byte header and
 * --bytes M bytes of stream(seed) in random-size chunks, while receiving,
 * hashing and verifying byte by byte what comes back:
 *   --mode sink-source   stream(--server-seed S ^ seed), --recv-bytes N of it
 *   --mode echo          our own header and stream back
 *
 * One line per session when it ends:
 *   session I: done seed=0x.. sent=X sha256=H received=Y sha256=H verified=yes
 *              status=complete seconds=T send_MBps=R recv_MBps=R
 * status: complete | eof (the connection ended first) | timeout | error:...
 * In sink-source mode a session is complete when everything went both ways
 * and then the connection ended (the server closes once it has all of it).
 * and a last line "result: ..."; exit 0 when every session completed with
 * verified=yes, 3 when some ended early but everything received verified,
 * 1 otherwise. --sessions K runs K sessions in parallel (seeds seed..seed+K-1).
 * --half-close: send everything without reading, shutdown(SHUT_WR), then
 * receive (the server's end then comes through as EOF after its bytes). Not
 * reading meanwhile holds the server's bytes back in the buffers on the way,
 * so a server asked for more than they hold still owes bytes at the FIN.
 */
#include "../../src/rdp/mcs_seed.h"
#include "md9-testcommon.h"
#include "testcli.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>

static struct {
	const char *host;
	int port;
	unsigned sessions;
	enum testcli_mode mode;
	uint64_t bytes;      /* stream bytes after the header; UINT64_MAX = unlimited */
	uint64_t recv_bytes; /* sink-source: expected; UINT64_MAX = until EOF */
	uint64_t seed, server_seed;
	size_t max_chunk;
	double timeout;
	uint64_t progress;
	bool half_close;
} opt = {
    .host = "127.0.0.1",
    .sessions = 1,
    .mode = TESTCLI_SINK_SOURCE,
    .bytes = 1 << 20,
    .recv_bytes = 1 << 20,
    .seed = 1,
    .server_seed = 1,
    .max_chunk = 65536,
    .timeout = 60,
};

struct session {
	unsigned idx;
	uint64_t seed;
	pthread_t thread;
	/* results */
	uint64_t sent, received;
	bool complete, verified;
	uint64_t mismatch_at;
	double seconds;
	char status[160];
};

static int connect_to(void)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)opt.port)};
	int fd;

	if (inet_pton(AF_INET, opt.host, &sa.sin_addr) != 1)
		return -1;
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -1;
	}
	tc_set_nonblock(fd);
	return fd;
}

static void *session_main(void *arg)
{
	struct session *s = arg;
	size_t bufsz = opt.max_chunk > 65536 ? opt.max_chunk : 65536;
	uint8_t *in = malloc(bufsz), *exp = malloc(bufsz), *out = malloc(bufsz);
	uint8_t hdr[TC_HDR_LEN], buf[256];
	EVP_MD_CTX *rx_sha = tc_sha_new(), *tx_sha = tc_sha_new();
	struct tc_gen tx_gen, rx_gen;
	uint64_t chunk_seed = s->seed * 0x9e3779b97f4a7c15ull + 7;
	uint64_t total = opt.bytes == UINT64_MAX ? 0 : opt.bytes + TC_HDR_LEN;
	uint64_t tx_total = opt.bytes == UINT64_MAX ? UINT64_MAX : opt.bytes + TC_HDR_LEN;
	uint64_t rx_expect = opt.mode == TESTCLI_ECHO ? tx_total : opt.recv_bytes;
	uint64_t next_progress = opt.progress;
	size_t out_len = 0, out_off = 0;
	bool peer_eof = false, shut = false;
	double t0 = tc_now(), last, deadline;
	char rx_hex[65], tx_hex[65];
	int fd = -1;
	long n;

	snprintf(s->status, sizeof(s->status), "complete");
	s->verified = true;
	if (!in || !exp || !out) {
		snprintf(s->status, sizeof(s->status), "error: out of memory");
		goto out;
	}
	fd = connect_to();
	if (fd < 0) {
		snprintf(s->status, sizeof(s->status), "error: connect: %s", strerror(errno));
		goto out;
	}
	deadline = tc_now() + opt.timeout;
	if (tc_write_all(fd, mcs_seed_connection_request, sizeof(mcs_seed_connection_request),
	                 deadline) < 0) {
		snprintf(s->status, sizeof(s->status), "error: cannot send the Connection Request");
		goto out;
	}
	n = tc_read_tpkt(fd, buf, sizeof(buf), deadline);
	if (n < 7 || (buf[5] & 0xf0) != 0xd0) {
		snprintf(s->status, sizeof(s->status), "eof: no X.224 Connection Confirm");
		goto out;
	}
	if (n >= 19 && buf[11] == 2)
		testcli_say("session %u: Connection Confirm selects protocol %u\n", s->idx,
		            (unsigned)buf[15] | (unsigned)buf[16] << 8);
	else
		testcli_say("session %u: Connection Confirm (%ld bytes)\n", s->idx, n);
	if (tc_write_all(fd, mcs_seed_connect_initial, sizeof(mcs_seed_connect_initial), deadline) <
	    0) {
		snprintf(s->status, sizeof(s->status), "eof: cannot send the Connect-Initial");
		goto out;
	}
	n = tc_read_tpkt(fd, buf, sizeof(buf), deadline);
	if (n < 9 || buf[7] != 0x7f || buf[8] != 0x66) {
		snprintf(s->status, sizeof(s->status), "eof: no MCS Connect-Response");
		goto out;
	}

	/* Data mode. The header goes first, then stream(seed). */
	tc_put64(hdr, s->seed);
	tc_put64(hdr + 8, total);
	tc_put64(hdr + 16, opt.mode == TESTCLI_ECHO ? 0 : opt.recv_bytes);
	tc_gen_init(&tx_gen, s->seed);
	tc_gen_init(&rx_gen, opt.mode == TESTCLI_ECHO ? s->seed : opt.server_seed ^ s->seed);
	memcpy(out, hdr, TC_HDR_LEN);
	out_len = TC_HDR_LEN;
	t0 = last = tc_now();
	for (;;) {
		bool send_more = out_off < out_len || s->sent < tx_total;
		bool recv_more = !peer_eof && (rx_expect == UINT64_MAX || s->received < rx_expect);
		struct pollfd p = {.fd = fd};
		int rc;

		if (!send_more && opt.half_close && !shut) {
			if (shutdown(fd, SHUT_WR) < 0) {
				snprintf(s->status, sizeof(s->status), "error: shutdown: %s",
				         strerror(errno));
				break;
			}
			shut = true;
			testcli_say("session %u: half-closed after sending %" PRIu64 " bytes\n",
			            s->idx, s->sent);
		}
		if (!send_more && !recv_more) {
			/* Sink-source: everything went both ways; now wait for
			 * the server to end the connection (it does once it has
			 * received all of ours), so that closing cannot cut off
			 * bytes still on their way to it. */
			if (opt.mode == TESTCLI_ECHO || peer_eof) {
				if (peer_eof && rx_expect == UINT64_MAX)
					snprintf(s->status, sizeof(s->status), "eof");
				break;
			}
			recv_more = true;
		}
		if (peer_eof) {
			snprintf(s->status, sizeof(s->status), "eof");
			break;
		}
		if (recv_more && !(opt.half_close && !shut))
			p.events |= POLLIN;
		if (send_more)
			p.events |= POLLOUT;
		rc = poll(&p, 1, 1000);
		if (rc < 0 && errno != EINTR) {
			snprintf(s->status, sizeof(s->status), "error: poll: %s", strerror(errno));
			break;
		}
		if (rc <= 0) {
			if (tc_now() - last > opt.timeout) {
				snprintf(s->status, sizeof(s->status), "timeout");
				break;
			}
			continue;
		}
		last = tc_now();
		if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
			size_t want = tc_chunk(&chunk_seed, bufsz);
			if (rx_expect != UINT64_MAX && s->received < rx_expect &&
			    want > rx_expect - s->received)
				want = (size_t)(rx_expect - s->received);
			ssize_t r = read(fd, in, want ? want : 1);
			if (r == 0 || (r < 0 && errno == ECONNRESET)) {
				peer_eof = true;
				continue;
			}
			if (r < 0 && errno != EAGAIN && errno != EINTR) {
				snprintf(s->status, sizeof(s->status), "error: read: %s",
				         strerror(errno));
				break;
			}
			if (r > 0) {
				size_t off = 0;
				EVP_DigestUpdate(rx_sha, in, (size_t)r);
				if (opt.mode == TESTCLI_ECHO) {
					/* The header comes back first. */
					while (s->received + off < TC_HDR_LEN && off < (size_t)r) {
						exp[off] = hdr[s->received + off];
						off++;
					}
				}
				tc_gen_fill(&rx_gen, exp + off, (size_t)r - off);
				if (s->verified && memcmp(in, exp, (size_t)r) != 0) {
					size_t i = 0;
					while (in[i] == exp[i])
						i++;
					s->verified = false;
					s->mismatch_at = s->received + i;
				}
				s->received += (uint64_t)r;
				if (rx_expect != UINT64_MAX && s->received > rx_expect)
					s->verified = false;
			}
		}
		if (p.revents & POLLOUT) {
			if (out_off == out_len && s->sent < tx_total) {
				size_t k = tc_chunk(&chunk_seed, opt.max_chunk);
				if (k > tx_total - s->sent)
					k = (size_t)(tx_total - s->sent);
				tc_gen_fill(&tx_gen, out, k);
				out_len = k;
				out_off = 0;
			}
			while (out_off < out_len) {
				ssize_t w = write(fd, out + out_off, out_len - out_off);
				if (w < 0) {
					if (errno == EPIPE || errno == ECONNRESET)
						peer_eof = true;
					else if (errno != EAGAIN && errno != EINTR)
						snprintf(s->status, sizeof(s->status),
						         "error: write: %s", strerror(errno));
					break;
				}
				EVP_DigestUpdate(tx_sha, out + out_off, (size_t)w);
				out_off += (size_t)w;
				s->sent += (uint64_t)w;
			}
			if (strncmp(s->status, "error", 5) == 0)
				break;
			if (out_off == out_len)
				out_len = out_off = 0;
		}
		if (opt.progress && s->sent + s->received >= next_progress) {
			testcli_say("session %u: progress sent=%" PRIu64 " received=%" PRIu64 "\n",
			            s->idx, s->sent, s->received);
			while (next_progress <= s->sent + s->received)
				next_progress += opt.progress;
		}
	}
	s->complete = strcmp(s->status, "complete") == 0;
out:
	s->seconds = tc_now() - t0;
	if (fd >= 0)
		close(fd);
	tc_sha_hex(rx_sha, rx_hex);
	tc_sha_hex(tx_sha, tx_hex);
	{
		double secs = s->seconds > 1e-6 ? s->seconds : 1e-6;
		char v[64];
		testcli_verified(v, sizeof(v), s->verified, s->mismatch_at);
		testcli_say(
		    "session %u: done seed=0x%016" PRIx64 " sent=%" PRIu64
		    " sha256=%s received=%" PRIu64
		    " sha256=%s verified=%s status=%s seconds=%.3f send_MBps=%.1f recv_MBps=%.1f\n",
		    s->idx, s->seed, s->sent, tx_hex, s->received, rx_hex, v, s->status, s->seconds,
		    (double)s->sent / secs / 1e6, (double)s->received / secs / 1e6);
	}
	EVP_MD_CTX_free(rx_sha);
	EVP_MD_CTX_free(tx_sha);
	free(in);
	free(exp);
	free(out);
	return NULL;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: md9-testclient --port PORT [--host ADDR] [--sessions K]\n"
	           "         [--mode sink-source|echo] [--bytes M|inf] [--recv-bytes N|inf]\n"
	           "         [--seed C] [--server-seed S] [--max-chunk N] [--timeout SEC]\n"
	           "         [--progress BYTES] [--half-close]\n");
}

int main(int argc, char **argv)
{
	const struct testcli_option opts[] = {
	    {"host", TESTCLI_STRING, &opt.host, NULL},
	    {"port", TESTCLI_INT, &opt.port, NULL},
	    {"sessions", TESTCLI_UNSIGNED, &opt.sessions, NULL},
	    {"mode", TESTCLI_MODE, &opt.mode, NULL},
	    {"bytes", TESTCLI_U64_INF, &opt.bytes, NULL},
	    {"recv-bytes", TESTCLI_U64_INF, &opt.recv_bytes, NULL},
	    {"seed", TESTCLI_U64, &opt.seed, NULL},
	    {"server-seed", TESTCLI_U64, &opt.server_seed, NULL},
	    {"max-chunk", TESTCLI_MAX_CHUNK, &opt.max_chunk, NULL},
	    {"timeout", TESTCLI_SECONDS, &opt.timeout, NULL},
	    {"progress", TESTCLI_U64, &opt.progress, NULL},
	    {"half-close", TESTCLI_FLAG, &opt.half_close, NULL},
	};
	struct session *ss;
	unsigned complete = 0, bad = 0;
	uint64_t sent = 0, received = 0;
	double t0, secs;
	int rc;

	rc = testcli_parse(argc, argv, opts, sizeof(opts) / sizeof(opts[0]), usage);
	if (rc >= 0)
		return rc;
	if (opt.port <= 0 || opt.sessions == 0 || opt.sessions > 64)
		return testcli_usage(usage, false);
	signal(SIGPIPE, SIG_IGN);
	ss = calloc(opt.sessions, sizeof(*ss));
	if (!ss)
		return 1;
	t0 = tc_now();
	for (unsigned i = 0; i < opt.sessions; i++) {
		ss[i].idx = i;
		ss[i].seed = opt.seed + i;
		if (pthread_create(&ss[i].thread, NULL, session_main, &ss[i]) != 0) {
			fprintf(stderr, "md9-testclient: cannot start a thread\n");
			return 1;
		}
	}
	for (unsigned i = 0; i < opt.sessions; i++) {
		pthread_join(ss[i].thread, NULL);
		complete += ss[i].complete && ss[i].verified;
		bad += !ss[i].verified || strncmp(ss[i].status, "error", 5) == 0 ||
		       strcmp(ss[i].status, "timeout") == 0;
		sent += ss[i].sent;
		received += ss[i].received;
	}
	secs = tc_now() - t0;
	testcli_say("result: sessions=%u complete=%u bad=%u sent=%" PRIu64 " received=%" PRIu64
	            " seconds=%.3f send_MBps=%.1f recv_MBps=%.1f\n",
	            opt.sessions, complete, bad, sent, received, secs, (double)sent / secs / 1e6,
	            (double)received / secs / 1e6);
	free(ss);
	if (complete == opt.sessions)
		return 0;
	return bad ? 1 : 3;
}
