/* The emulated device node over kernel.sock (uioproto.h): uioemu.c's
 * requests (hello, new_id, open) and each open file's life. */
#include "uiokern_state.h"

#include "fdpass.h"
#include "log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

/* md9's side of an open file went away (close and munmap, or exit). */
static void file_hup(struct ev_handler *h, uint32_t events)
{
	struct ukfile *f = h->arg;
	struct ukdev *d = f->dev;

	for (struct ukfile **p = &d->files; *p; p = &(*p)->next) {
		if (*p == f) {
			*p = f->next;
			break;
		}
	}
	uiokern_dev_file_free(f);
	if (--d->refcnt == 0)
		uiokern_dev_release_last(d);
}

/* uio_open + hv_uio_open. */
static int dev_open(struct uiokern *k, uint32_t minor, struct uioemu_open_reply *r,
                    int fds[UIOEMU_NFDS])
{
	struct ukdev *d = minor < MAX_MINORS ? uiokern_dev_by_minor(k, (int)minor) : NULL;
	const struct uio_profile *p = k->o.profile;
	struct hostchan *hc;
	int err;

	if (!d)
		return -ENODEV; /* uio_open: no device with this minor */
	if (d->dead)
		return -ENODEV; /* K3: reopening a rescinded channel */
	if (!d->sd)
		return -ENODEV;
	if (d->refcnt == 0) {
		/* First open: the channel is opened, the host sees it. */
		err = simbus_guest_open(d->sd);
		if (err)
			return err;
		hc = d->sd->chan;
		ev_set(k->loop, &d->irq, hc->to_guest, EPOLLIN, uiokern_dev_irq, d);
		d->rescind_cb = true;
		/* hv_uio_open before the CVE-2025-40048 fix (K5). */
		if (p->kernel_masks)
			__atomic_store_n(uiokern_dev_rx_mask(d), 1, __ATOMIC_SEQ_CST);
		if (d->monitored)
			uiokern_monitor_arm(k, true);
	}
	hc = d->sd->chan;
	d->refcnt++;
	r->flags = (p->kernel_masks ? UIOEMU_F_MASK_ON_WRITE : 0) |
	           (p->irqcontrol_signals && !d->monitored ? UIOEMU_F_SIGNAL_ON_WRITE : 0);
	r->map_size[0] = 2 * (uint64_t)simbus_ring_size(k->bus);
	r->map_size[1] = r->map_size[2] = HV_HYP_PAGE;
	r->pages_off[0] = 0;
	r->pages_off[1] = 0;
	r->pages_off[2] = k->page;
	r->rx_mask_off = (uint64_t)((uint8_t *)&hc->rx.ctl->interrupt_mask - (uint8_t *)hc->map);
	fds[UIOEMU_FD_RING] = hc->memfd;
	fds[UIOEMU_FD_PAGES] = k->pages_fd;
	fds[UIOEMU_FD_DOORBELL] = hc->from_guest;
	fds[UIOEMU_FD_STATE] = d->state_fd;
	return 0;
}

void uiokern_sock_conn_free(struct ukconn *c, bool close_sock)
{
	struct uiokern *k = c->k;

	ev_del(k->loop, &c->h);
	if (close_sock)
		close(c->sock);
	for (struct ukconn **p = &k->conns; *p; p = &(*p)->next) {
		if (*p == c) {
			*p = c->next;
			break;
		}
	}
	free(c);
}

/* guid_parse: exactly "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx", any case;
 * what follows the 36 characters is not looked at. */
static int parse_new_id(const char *buf, size_t len, struct md9_guid *out)
{
	char s[37];

	if (len < 36)
		return -EINVAL;
	for (int i = 0; i < 36; i++) {
		char ch = buf[i];
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;
		bool hex = (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') ||
		           (ch >= 'A' && ch <= 'F');

		if (dash ? ch != '-' : !hex)
			return -EINVAL;
		s[i] = ch;
	}
	s[36] = '\0';
	return md9_guid_parse(s, out) == 0 ? 0 : -EINVAL;
}

/* new_id_store: parse, -EEXIST if present, add, driver_attach (probe every
 * device of the class now, synchronously). A failed probe is not the
 * writer's error. */
static int32_t new_id(struct uiokern *k, const struct uioemu_req *q)
{
	struct md9_guid g;
	size_t len = q->len < sizeof(q->data) ? q->len : sizeof(q->data);
	char text[MD9_GUID_STRLEN];

	if (parse_new_id(q->data, len, &g) < 0)
		return -EINVAL;
	md9_guid_format(&g, text);
	if (uiokern_dev_class_bound(k, &g)) {
		log_info("hostsim uio: new_id %s: already there (EEXIST)", text);
		return -EEXIST;
	}
	if (k->nclasses == (int)(sizeof(k->classes) / sizeof(k->classes[0])))
		return -ENOMEM;
	k->classes[k->nclasses++] = g;
	log_info("hostsim uio: new_id %s: class added to uio_hv_generic", text);
	for (struct ukdev *d = k->devs; d; d = d->next)
		if (md9_guid_eq(&d->class_id, &g))
			uiokern_dev_probe(d);
	return (int32_t)q->len;
}

static void conn_readable(struct ev_handler *h, uint32_t events)
{
	struct ukconn *c = h->arg;
	struct uiokern *k = c->k;
	struct uioemu_req q;
	ssize_t n = recv(c->sock, &q, sizeof(q), MSG_DONTWAIT);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n != (ssize_t)sizeof(q)) {
		if (n > 0)
			log_warn("hostsim uio: malformed request (%zd bytes)", n);
		uiokern_sock_conn_free(c, true);
		return;
	}
	switch (q.type) {
	case UIOEMU_HELLO: {
		struct uioemu_hello_reply r = {.version = UIOEMU_PROTO_VERSION};

		if (q.version != UIOEMU_PROTO_VERSION)
			r.status = -EPROTO;
		else if (strlen(k->tree.sys) >= sizeof(r.sys) ||
		         strlen(k->tree.dev) >= sizeof(r.dev))
			r.status = -ENAMETOOLONG;
		else {
			strcpy(r.sys, k->tree.sys);
			strcpy(r.dev, k->tree.dev);
		}
		if (send(c->sock, &r, sizeof(r), MSG_NOSIGNAL) < 0)
			uiokern_sock_conn_free(c, true);
		return;
	}
	case UIOEMU_NEW_ID: {
		struct uioemu_status r = {.status = new_id(k, &q)};

		if (send(c->sock, &r, sizeof(r), MSG_NOSIGNAL) < 0)
			uiokern_sock_conn_free(c, true);
		return;
	}
	case UIOEMU_OPEN: {
		struct uioemu_open_reply r = {0};
		int fds[UIOEMU_NFDS];
		struct ukfile *f;
		struct ukdev *d;

		r.status = dev_open(k, q.minor, &r, fds);
		if (r.status < 0) {
			if (fdpass_send(c->sock, &r, sizeof(r), NULL, 0) < 0)
				uiokern_sock_conn_free(c, true);
			return;
		}
		d = uiokern_dev_by_minor(k, (int)q.minor);
		f = calloc(1, sizeof(*f));
		if (!f || fdpass_send(c->sock, &r, sizeof(r), fds, UIOEMU_NFDS) < 0) {
			free(f);
			uiokern_sock_conn_free(c, true);
			if (--d->refcnt == 0)
				uiokern_dev_release_last(d);
			return;
		}
		/* The connection is the open file now: the kernel only writes
		 * to it and notices when md9's side goes (uioproto.h). */
		f->dev = d;
		f->sock = c->sock;
		f->next = d->files;
		d->files = f;
		uiokern_sock_conn_free(c, false);
		ev_set(k->loop, &f->h, f->sock, EPOLLRDHUP, file_hup, f);
		return;
	}
	default:
		log_warn("hostsim uio: unknown request %u", q.type);
		uiokern_sock_conn_free(c, true);
	}
}

void uiokern_sock_accept(struct ev_handler *h, uint32_t events)
{
	struct uiokern *k = h->arg;
	struct ukconn *c;
	int s = accept4(k->lsock, NULL, NULL, SOCK_CLOEXEC);

	if (s < 0)
		return;
	c = calloc(1, sizeof(*c));
	if (!c) {
		close(s);
		return;
	}
	c->k = k;
	c->sock = s;
	c->next = k->conns;
	k->conns = c;
	ev_set(k->loop, &c->h, s, EPOLLIN, conn_readable, c);
}
