/* The emulated guest kernel's setup, teardown and commands (uiokern.h). */
#include "uiokern_state.h"

#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <unistd.h>

struct uiokern *uiokern_new(struct ev_loop *loop, const struct uiokern_opts *o)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct uiokern *k = calloc(1, sizeof(*k));

	if (!k)
		return NULL;
	k->loop = loop;
	k->o = *o;
	k->lsock = k->pages_fd = k->scan_fd = -1;
	k->pages = MAP_FAILED;
	k->page = (size_t)sysconf(_SC_PAGESIZE);
	/* Relids and monitor ids as a host hands them out; starting past 32
	 * puts the relid bits in the interrupt page's second word. */
	k->next_relid = 30;
	k->next_monitor = 1;
	if (uiotree_init(&k->tree, o->root, o->profile->osrelease) < 0)
		goto fail;
	if ((size_t)snprintf(k->sock_path, sizeof(k->sock_path), "%s/kernel.sock", o->root) >=
	    sizeof(k->sock_path)) {
		log_err("hostsim uio: %s/kernel.sock is too long for a socket path", o->root);
		goto fail;
	}
	k->pages_fd = memfd_create("md9-uio-pages", MFD_CLOEXEC);
	if (k->pages_fd < 0 || ftruncate(k->pages_fd, (off_t)(2 * k->page)) < 0 ||
	    (k->pages = mmap(NULL, 2 * k->page, PROT_READ | PROT_WRITE, MAP_SHARED, k->pages_fd,
	                     0)) == MAP_FAILED) {
		log_err("hostsim uio: interrupt/monitor pages: %s", strerror(errno));
		goto fail;
	}
	k->scan_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	strcpy(sa.sun_path, k->sock_path);
	k->lsock = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	unlink(k->sock_path);
	if (k->scan_fd < 0 || k->lsock < 0 ||
	    bind(k->lsock, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(k->lsock, 16) < 0) {
		log_err("hostsim uio: %s: %s", k->sock_path, strerror(errno));
		goto fail;
	}
	/* md9 connects after dropping its privileges. */
	chmod(k->sock_path, 0666);
	ev_set(loop, &k->lh, k->lsock, EPOLLIN, uiokern_sock_accept, k);
	ev_set(loop, &k->scan_h, k->scan_fd, EPOLLIN, uiokern_monitor_scan, k);
	log_info("hostsim uio: emulated kernel %s (%s) under %s", o->profile->name,
	         o->profile->summary, o->root);
	return k;
fail:
	uiokern_free(k);
	return NULL;
}

void uiokern_free(struct uiokern *k)
{
	if (!k)
		return;
	while (k->devs)
		uiokern_dev_unregister(k->devs);
	while (k->conns)
		uiokern_sock_conn_free(k->conns, true);
	if (k->lsock >= 0) {
		ev_del(k->loop, &k->lh);
		close(k->lsock);
		unlink(k->sock_path);
	}
	if (k->scan_fd >= 0) {
		ev_del(k->loop, &k->scan_h);
		close(k->scan_fd);
	}
	if (k->pages != MAP_FAILED)
		munmap(k->pages, 2 * k->page);
	if (k->pages_fd >= 0)
		close(k->pages_fd);
	free(k);
}

static void rescind_unread(struct hostctl *ctl, struct simdev *sd)
{
	static const uint8_t data[] = "md9 must not read this: the channel is rescinded";
	struct hostchan *hc = sd->chan;
	struct md9_guid inst = sd->instance;

	/* A packet the guest is never told about (no interrupt), then the
	 * rescind: the guest wakes only for the rescind, and must not read
	 * the ring any more (K4). */
	if (hc && pipe_tx_write(&hc->out, data, sizeof(data)) == sizeof(data))
		(void)pipe_tx_commit(&hc->out);
	hostctl_rescind_data(ctl, &inst);
}

int uiokern_command(struct uiokern *k, struct hostctl *ctl, const char *line)
{
	if (strcmp(line, "udev") == 0) {
		for (struct ukdev *d = k->devs; d; d = d->next)
			uiokern_dev_udev(d);
		return 1;
	}
	if (strncmp(line, "rescind-unread ", 15) == 0) {
		struct md9_guid g;
		struct simdev *sd;
		const char *arg = line + 15;

		if (strcmp(arg, "last") == 0) {
			sd = hostctl_data_dev(ctl, NULL);
		} else if (md9_guid_parse(arg, &g) == 0) {
			sd = hostctl_data_dev(ctl, &g);
		} else {
			log_warn("hostsim uio: rescind-unread GUID|last");
			return -1;
		}
		if (!sd) {
			log_warn("hostsim uio: rescind-unread: no such data channel");
			return -1;
		}
		rescind_unread(ctl, sd);
		return 1;
	}
	if (strcmp(line, "uio-status") == 0) {
		for (struct ukdev *d = k->devs; d; d = d->next)
			printf(
			    "uio dev %s minor=%d relid=%u bound=%d dead=%d open=%d monitored=%d\n",
			    d->name, d->minor, d->relid, d->minor >= 0, d->dead, d->refcnt,
			    d->monitored);
		printf("uio end\n");
		fflush(stdout);
		return 1;
	}
	return 0;
}
