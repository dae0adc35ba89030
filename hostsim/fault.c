/* md9-hostsim fault injection (see fault.h for the commands). Everything
 * here runs in hostsim's single event-loop thread, between pump calls, so a
 * fault lands at a well-defined point of the byte stream: the rings are
 * manipulated with the same ring.c writer state the pump uses. */
#include "fault.h"

#include "control.h"
#include "log.h"
#include "number.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_LISTED  64
#define BURST_MAX   64   /* largest data bytes of a burst packet */
#define BURST_PLAN  4096 /* packets planned per fill round */
#define BURST_BUDGET (1u << 20) /* data bytes per fault_burst_fill call */

static struct {
	struct hostctl *ctl;
	bool stall_all, burst_all, eof_all;
	struct md9_guid stall[MAX_LISTED], burst[MAX_LISTED], eof[MAX_LISTED];
	int nstall, nburst, neof;
	uint64_t stall_after; /* stall after N; 0: none */
	/* Channels a corruption was injected into (or is waiting to be: the
	 * ring was full), by the memfd's inode (unique while the ring exists,
	 * never reused by a later channel's memfd). */
	struct frozen {
		ino_t ino;
		char pending[32]; /* kind still to inject, "" once done */
		char name[80];
	} frozen[MAX_LISTED];
	int nfrozen;
	uint64_t burst_rng;
	uint8_t burst_buf[BURST_PLAN * BURST_MAX];
	uint8_t burst_plan[BURST_PLAN];
} F;

void fault_init(struct hostctl *ctl)
{
	F.ctl = ctl;
	F.burst_rng = 0x6d64392d6661756cull; /* fixed: bursts are reproducible */
}

static uint64_t rng(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* ---- per-instance switches ---- */

static bool listed(const struct md9_guid *list, int n, const struct md9_guid *g)
{
	for (int i = 0; i < n; i++)
		if (md9_guid_eq(&list[i], g))
			return true;
	return false;
}

static void list_set(struct md9_guid *list, int *n, const struct md9_guid *g, bool on)
{
	for (int i = 0; i < *n; i++) {
		if (md9_guid_eq(&list[i], g)) {
			if (!on)
				list[i--] = list[--*n];
			else
				return;
		}
	}
	if (on && *n < MAX_LISTED)
		list[(*n)++] = *g;
}

static bool chan_listed(struct hostchan *hc, bool all, const struct md9_guid *list, int n)
{
	const struct md9_guid *g;

	if (!F.ctl || (!all && n == 0))
		return false;
	g = hostctl_instance_of(F.ctl, hc);
	return g && (all || listed(list, n, g));
}

bool fault_stalled(struct hostchan *hc)
{
	return chan_listed(hc, F.stall_all, F.stall, F.nstall);
}

size_t fault_stall_room(uint64_t passed)
{
	if (!F.stall_after)
		return SIZE_MAX;
	return passed >= F.stall_after ? 0 : (size_t)(F.stall_after - passed);
}

bool fault_burst(struct hostchan *hc)
{
	return chan_listed(hc, F.burst_all, F.burst, F.nburst);
}

bool fault_eof(struct hostchan *hc)
{
	return chan_listed(hc, F.eof_all, F.eof, F.neof);
}

static ino_t chan_ino(const struct hostchan *hc)
{
	struct stat st;

	return fstat(hc->memfd, &st) == 0 ? st.st_ino : 0;
}

static int inject(const char *kind, struct hostchan *hc, const char *target);

bool fault_frozen(struct hostchan *hc)
{
	ino_t ino;

	if (F.nfrozen == 0)
		return false;
	ino = chan_ino(hc);
	for (int i = 0; i < F.nfrozen; i++) {
		struct frozen *f = &F.frozen[i];
		if (f->ino != ino)
			continue;
		/* Armed while the ring was full: the guest freed room (it
		 * signalled us), inject now. */
		if (f->pending[0] && inject(f->pending, hc, f->name) == 0)
			f->pending[0] = '\0';
		return true;
	}
	return false;
}

static struct frozen *freeze(struct hostchan *hc, const char *name)
{
	struct frozen *f;

	if (F.nfrozen == MAX_LISTED) /* oldest first: those channels are long gone */
		memmove(F.frozen, F.frozen + 1, sizeof(F.frozen[0]) * --F.nfrozen);
	f = &F.frozen[F.nfrozen++];
	memset(f, 0, sizeof(*f));
	f->ino = chan_ino(hc);
	snprintf(f->name, sizeof(f->name), "%s", name);
	return f;
}

/* Wake a data channel's owner as if the guest had rung: it pumps again
 * (after stall off / burst on|off). */
static void kick(struct simdev *dev, void *arg)
{
	if (dev->chan && dev->ops->signalled)
		dev->ops->signalled(dev);
}

/* ---- burst ---- */

struct relay_result fault_burst_fill(struct hostchan *hc, struct md9_stream *client)
{
	struct relay_result res = {.state = RELAY_IDLE};

	for (;;) {
		uint32_t free = vmbus_ring_writable(&hc->rx), used = 0;
		size_t want = 0, nplan = 0, off = 0;
		struct iovec iov;
		ssize_t n;

		/* Plan packet sizes that certainly fit (a writer needs strictly
		 * more free bytes than it writes), then read that much. A drawn
		 * size that does not fit is cut to the largest that does, so the
		 * plan is empty only when not even a 1-byte packet fits: then the
		 * pump's pipe_tx_wait(1) agrees that the ring is full. (An
		 * earlier plan that could be empty while pipe_tx_wait(1) saw room
		 * made the pump spin until the guest read, starving the bus: a
		 * guest's channel open timed out, fault_burst failed.)
		 * No packet is empty: a zero-length pipe data packet means end of
		 * stream (docs/protocol.md §5), which a burst is not. */
		while (nplan < BURST_PLAN) {
			uint8_t k = (uint8_t)(1 + rng(&F.burst_rng) % BURST_MAX);
			while (k > 0 && used + vmbus_pkt_total(PIPE_HDR_LEN + k) >= free)
				k--;
			if (k == 0)
				break;
			used += vmbus_pkt_total(PIPE_HDR_LEN + k);
			F.burst_plan[nplan++] = k;
			want += k;
		}
		if (want == 0) {
			res.state = RELAY_BLOCKED;
			return res;
		}
		iov = (struct iovec){F.burst_buf, want};
		n = client->ops->readv(client, &iov, 1);
		if (n <= 0) {
			res.state = n == 0 ? RELAY_EOF : n == -EAGAIN ? RELAY_IDLE : RELAY_ERROR;
			res.err = n < 0 && n != -EAGAIN ? (int)n : 0;
			return res;
		}
		for (size_t i = 0; i < nplan && off < (size_t)n; i++) {
			uint32_t k = F.burst_plan[i];
			uint32_t hdr[2];
			struct iovec pkt[2];
			if (k > (size_t)n - off)
				k = (uint32_t)((size_t)n - off);
			hdr[0] = PIPE_TYPE_DATA;
			hdr[1] = k;
			pkt[0] = (struct iovec){hdr, sizeof(hdr)};
			pkt[1] = (struct iovec){F.burst_buf + off, k};
			if (vmbus_ring_write(&hc->rx, pkt, 2, 0) < 0) {
				/* Cannot happen: the plan fits. Never lose a byte silently. */
				log_err("hostsim fault: burst packet did not fit; stream broken");
				res.state = RELAY_ERROR;
				res.err = -ENOSPC;
				return res;
			}
			off += k;
		}
		res.moved += (size_t)n;
		if ((size_t)n < want)
			return res; /* the client is drained for now */
		if (res.moved >= BURST_BUDGET) {
			res.state = RELAY_BUDGET; /* the pump comes back */
			return res;
		}
	}
}

/* ---- corruption ---- */

static void poke(struct vmbus_ring *r, uint32_t off, const void *src, size_t n)
{
	const uint8_t *p = src;

	for (size_t i = 0; i < n; i++)
		r->data[(off + i) % r->size] = p[i];
}

static const char *const corrupt_kinds[] = {
    "offset8",    "len8",        "type",
    "type-comp",  "pipe-len",    "pipe-type",
    "truncated",  "write-index", "write-index-unaligned",
    "read-index",
};

/* Write the malformed thing into hc's rings. -EAGAIN: no room for it now
 * (the caller waits for the guest to free some). */
static int inject(const char *kind, struct hostchan *hc, const char *target)
{
	struct vmbus_ring *rx = &hc->rx;
	uint32_t at = rx->wr;
	uint16_t v16;
	uint32_t v32;

	if (strcmp(kind, "write-index") == 0) {
		__atomic_store_n(&rx->ctl->write_index, rx->size + 8, __ATOMIC_RELEASE);
	} else if (strcmp(kind, "write-index-unaligned") == 0) {
		__atomic_store_n(&rx->ctl->write_index, (rx->wr_pub + 12) % rx->size,
		                 __ATOMIC_RELEASE);
	} else if (strcmp(kind, "read-index") == 0) {
		__atomic_store_n(&hc->tx.ctl->read_index, hc->tx.size + 8, __ATOMIC_RELEASE);
	} else if (strcmp(kind, "truncated") == 0) {
		/* 8 bytes where a packet should start: less than a descriptor. */
		if (vmbus_ring_writable(rx) <= 16)
			return -EAGAIN;
		v32 = 0x4d443946u;
		poke(rx, at, &v32, 4);
		poke(rx, at + 4, &v32, 4);
		__atomic_store_n(&rx->ctl->write_index, (at + 8) % rx->size, __ATOMIC_RELEASE);
	} else {
		/* A well-formed pipe packet with 16 data bytes, then one field broken. */
		uint8_t payload[PIPE_HDR_LEN + 16];
		uint32_t hdr[2] = {PIPE_TYPE_DATA, 16};
		struct iovec iov = {payload, sizeof(payload)};
		memcpy(payload, hdr, sizeof(hdr));
		memcpy(payload + PIPE_HDR_LEN, "md9-hostsim-flt!", 16);
		if (vmbus_ring_write(rx, &iov, 1, 0) < 0)
			return -EAGAIN;
		if (strcmp(kind, "offset8") == 0) {
			v16 = 1;
			poke(rx, at + 2, &v16, 2);
		} else if (strcmp(kind, "len8") == 0) {
			v16 = 0xffff;
			poke(rx, at + 4, &v16, 2);
		} else if (strcmp(kind, "type") == 0) {
			v16 = 9;
			poke(rx, at, &v16, 2);
		} else if (strcmp(kind, "type-comp") == 0) {
			v16 = VMBUS_PKT_COMP;
			poke(rx, at, &v16, 2);
		} else if (strcmp(kind, "pipe-len") == 0) {
			v32 = 16 + 100;
			poke(rx, at + VMBUS_PKT_DESC_LEN + 4, &v32, 4);
		} else if (strcmp(kind, "pipe-type") == 0) {
			v32 = PIPE_TYPE_PARTIAL;
			poke(rx, at + VMBUS_PKT_DESC_LEN, &v32, 4);
		}
		vmbus_ring_write_commit(rx);
	}
	vmbus_ring_write_unwait(rx);
	hostchan_signal(hc);
	log_info("hostsim fault: corrupt %s injected into %s", kind, target);
	return 0;
}

static int corrupt(const char *kind, struct simdev *dev, const char *target)
{
	struct hostchan *hc = dev->chan;
	struct frozen *f;

	if (!hc) {
		log_warn("hostsim fault: corrupt: %s is not open", target);
		return -1;
	}
	/* From now on the host moves nothing on this channel: the broken
	 * state stays exactly as injected until the guest closes it. */
	f = freeze(hc, target);
	if (inject(kind, hc, target) == 0)
		return 0;
	/* The ring is full: inject as soon as the guest has read enough
	 * (it signals once more than a packet's worth is free). */
	snprintf(f->pending, sizeof(f->pending), "%s", kind);
	if (vmbus_ring_write_wait(&hc->rx, vmbus_pkt_total(PIPE_HDR_LEN + 16)) &&
	    inject(kind, hc, target) == 0) {
		f->pending[0] = '\0';
		return 0;
	}
	log_info("hostsim fault: corrupt %s armed for %s (its ring is full)", kind, target);
	return 0;
}

/* "last" / "" (most recent data channel), "control", or a GUID. */
static struct simdev *target_dev(const char *arg, char *name, size_t cap)
{
	struct md9_guid g;
	struct simdev *d;

	if (!arg || !*arg || strcmp(arg, "last") == 0) {
		d = hostctl_data_dev(F.ctl, NULL);
	} else if (strcmp(arg, "control") == 0) {
		snprintf(name, cap, "the control channel");
		return hostctl_control_dev(F.ctl);
	} else if (md9_guid_parse(arg, &g) == 0) {
		d = hostctl_data_dev(F.ctl, &g);
	} else {
		return NULL;
	}
	if (d) {
		char s[MD9_GUID_STRLEN];
		snprintf(name, cap, "data channel %s", md9_guid_format(&d->instance, s));
	}
	return d;
}

/* ---- status ---- */

static uint32_t used_bytes(const struct vmbus_ring *r)
{
	uint32_t w = __atomic_load_n(&r->ctl->write_index, __ATOMIC_ACQUIRE);
	uint32_t rd = __atomic_load_n(&r->ctl->read_index, __ATOMIC_ACQUIRE);

	if (w >= r->size || rd >= r->size)
		return UINT32_MAX;
	return w >= rd ? w - rd : r->size - rd + w;
}

static void print_status(const char *name, struct hostchan *hc)
{
	printf("status %s open=%d", name, hc != NULL);
	if (hc) {
		printf(
		    " tx_size=%u tx_used=%u tx_pending=%u tx_mask=%u tx_feat=%u"
		    " rx_size=%u rx_used=%u rx_pending=%u rx_mask=%u stalled=%d burst=%d frozen=%d",
		    hc->tx.size, used_bytes(&hc->tx),
		    __atomic_load_n(&hc->tx.ctl->pending_send_sz, __ATOMIC_RELAXED),
		    __atomic_load_n(&hc->tx.ctl->interrupt_mask, __ATOMIC_RELAXED),
		    __atomic_load_n(&hc->tx.ctl->feature_bits, __ATOMIC_RELAXED), hc->rx.size,
		    used_bytes(&hc->rx),
		    __atomic_load_n(&hc->rx.ctl->pending_send_sz, __ATOMIC_RELAXED),
		    __atomic_load_n(&hc->rx.ctl->interrupt_mask, __ATOMIC_RELAXED),
		    fault_stalled(hc), fault_burst(hc), fault_frozen(hc));
	}
	printf("\n");
}

static void status_one(struct simdev *dev, void *arg)
{
	char g[MD9_GUID_STRLEN];

	print_status(md9_guid_format(&dev->instance, g), dev->chan);
}

static void status(void)
{
	struct simdev *c = hostctl_control_dev(F.ctl);

	if (c)
		print_status("control", c->chan);
	hostctl_for_each_data(F.ctl, status_one, NULL);
	printf("status end\n");
	fflush(stdout);
}

/* ---- control messages at any time ---- */

static int ctrl_send(const char *what)
{
	uint8_t msg[8192];
	size_t len;
	struct md9_guid g;

	memset(msg, 0, sizeof(msg));
	if (strcmp(what, "error") == 0) {
		msg[4] = CTRL_VERSION_RESPONSE_LEN;
		len = CTRL_VERSION_RESPONSE_LEN;
	} else if (strcmp(what, "unknown") == 0) {
		len = ctrl_encode_version_response(msg, CTRL_VERSION_1_0, 2);
		msg[0] = 7;
	} else if (strcmp(what, "short") == 0) {
		len = 4;
		msg[0] = CTRL_CREATE_SESSION;
	} else if (strcmp(what, "version-response") == 0) {
		len = ctrl_encode_version_response(msg, CTRL_VERSION_1_0, 2);
	} else if (strcmp(what, "huge") == 0) {
		/* A valid CreateSession for an instance never offered, in one
		 * 8 KiB pipe packet: the bytes after its 24 must be ignored. */
		md9_guid_data_instance(4, &g);
		g.b[0] = 0xfe;
		ctrl_encode_create_session(msg, &g);
		len = sizeof(msg);
	} else {
		return -1;
	}
	hostctl_send_raw(F.ctl, msg, len);
	return 0;
}

/* ---- commands ---- */

static int on_off(const char *arg, bool *on, const char **rest)
{
	if (strncmp(arg, "on", 2) == 0 && (arg[2] == '\0' || arg[2] == ' ')) {
		*on = true;
		*rest = arg[2] ? arg + 3 : "";
		return 0;
	}
	if (strncmp(arg, "off", 3) == 0 && (arg[3] == '\0' || arg[3] == ' ')) {
		*on = false;
		*rest = arg[3] ? arg + 4 : "";
		return 0;
	}
	return -1;
}

static int switch_cmd(const char *arg, bool *all, struct md9_guid *list, int *n)
{
	const char *rest;
	struct md9_guid g;
	bool on;

	if (on_off(arg, &on, &rest) < 0)
		return -1;
	if (!*rest || strcmp(rest, "all") == 0) {
		*all = on;
		if (!on)
			*n = 0;
	} else if (md9_guid_parse(rest, &g) == 0) {
		list_set(list, n, &g, on);
	} else {
		return -1;
	}
	/* Whatever changed, every channel looks at its rings again. */
	hostctl_for_each_data(F.ctl, kick, NULL);
	return 0;
}

int fault_command(const char *line)
{
	char kind[32], arg[64];
	struct md9_guid g;
	enum version_reply vr;

	if (!F.ctl)
		return 0;
	if (strncmp(line, "rescind-data", 12) == 0 && (line[12] == ' ' || !line[12])) {
		const char *a = line[12] ? line + 13 : "all";
		int n;
		if (strcmp(a, "all") == 0) {
			n = hostctl_rescind_data(F.ctl, NULL);
		} else if (strcmp(a, "last") == 0) {
			struct simdev *d = hostctl_data_dev(F.ctl, NULL);
			n = d ? hostctl_rescind_data(F.ctl, &d->instance) : 0;
		} else if (md9_guid_parse(a, &g) == 0) {
			n = hostctl_rescind_data(F.ctl, &g);
		} else {
			log_warn("hostsim fault: rescind-data all|last|GUID");
			return -1;
		}
		log_info("hostsim fault: rescinded %d data channel(s)", n);
		return 1;
	}
	if (strncmp(line, "corrupt ", 8) == 0) {
		char name[80] = "";
		struct simdev *d;
		bool known = false;
		arg[0] = '\0';
		if (sscanf(line + 8, "%31s %63s", kind, arg) < 1)
			goto bad_corrupt;
		for (size_t i = 0; i < sizeof(corrupt_kinds) / sizeof(corrupt_kinds[0]); i++)
			known |= strcmp(kind, corrupt_kinds[i]) == 0;
		if (!known)
			goto bad_corrupt;
		d = target_dev(arg, name, sizeof(name));
		if (!d) {
			log_warn("hostsim fault: corrupt: no such channel '%s'",
			         arg[0] ? arg : "last");
			return -1;
		}
		return corrupt(kind, d, name) < 0 ? -1 : 1;
	bad_corrupt:
		log_warn(
		    "hostsim fault: corrupt offset8|len8|type|type-comp|pipe-len|pipe-type|"
		    "truncated|write-index|write-index-unaligned|read-index [last|GUID|control]");
		return -1;
	}
	if (strncmp(line, "stall after ", 12) == 0) {
		uint64_t n;

		if (md9_number_parse(line + 12, 0, UINT64_MAX, &n) < 0) {
			log_warn("hostsim fault: stall after N (bytes, 0: no limit)");
			return -1;
		}
		F.stall_after = n;
		hostctl_for_each_data(F.ctl, kick, NULL);
		return 1;
	}
	if (strncmp(line, "stall ", 6) == 0) {
		if (switch_cmd(line + 6, &F.stall_all, F.stall, &F.nstall) < 0) {
			log_warn("hostsim fault: stall on|off [all|GUID], stall after N");
			return -1;
		}
		if (strncmp(line + 6, "off", 3) == 0)
			F.stall_after = 0;
		return 1;
	}
	if (strncmp(line, "burst ", 6) == 0) {
		if (switch_cmd(line + 6, &F.burst_all, F.burst, &F.nburst) < 0) {
			log_warn("hostsim fault: burst on|off [all|GUID]");
			return -1;
		}
		return 1;
	}
	if (strncmp(line, "eof ", 4) == 0) {
		if (switch_cmd(line + 4, &F.eof_all, F.eof, &F.neof) < 0) {
			log_warn("hostsim fault: eof on|off [all|GUID]");
			return -1;
		}
		return 1;
	}
	if (strncmp(line, "ctrl-send ", 10) == 0) {
		if (ctrl_send(line + 10) < 0) {
			log_warn(
			    "hostsim fault: ctrl-send error|unknown|short|version-response|huge");
			return -1;
		}
		return 1;
	}
	if (strncmp(line, "version-reply ", 14) == 0) {
		if (version_reply_parse(line + 14, &vr) < 0) {
			log_warn(
			    "hostsim fault: version-reply accept|reject|malformed|silent|error|"
			    "unknown|short|twice|create-first");
			return -1;
		}
		hostctl_set_version_reply(F.ctl, vr);
		return 1;
	}
	if (strcmp(line, "status") == 0) {
		status();
		return 1;
	}
	return 0;
}
