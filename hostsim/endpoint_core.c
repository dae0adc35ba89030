/* What every part of md9-hostsim's host endpoint uses (endpoint_state.h):
 * the endpoint's timer, ending a session, publishing a turn.
 * endpoint.c (sessions, opening, start and stop) and the traffic files
 * call down to it; it calls none of them. */
#include "endpoint_state.h"

#include "log.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

const char *const endpoint_mode_names[EP_NMODES] = {"source", "sink", "echo", "ping", "idle", "hs"};

void endpoint_arm(struct endpoint *ep, double s, enum ep_timer what)
{
	struct itimerspec its = {0};
	uint64_t ns = (uint64_t)(s * 1e9);

	if (ns == 0)
		ns = 1;
	its.it_value.tv_sec = (time_t)(ns / 1000000000u);
	its.it_value.tv_nsec = (long)(ns % 1000000000u);
	ep->tstate = what;
	timerfd_settime(ep->tfd, 0, &its, NULL);
}

void endpoint_sess_end(struct ep_sess *s, const char *why)
{
	struct hostctl_session *hs = s->hs;

	if (s->state != ES_GONE)
		log_info("hostsim endpoint %u (%s): closed (%s): %" PRIu64 " data bytes", s->idx,
		         endpoint_mode_names[s->mode], why, s->bytes);
	s->state = ES_GONE;
	s->hs = NULL;
	s->hc = NULL;
	if (hs)
		hostctl_end_session(hs); /* rescinds; our closed() sees s->hs == NULL */
}

void endpoint_self_doorbell(struct hostchan *hc)
{
	uint64_t one = 1;

	/* Come back after the other sessions and the bus (level-triggered). */
	if (write(hc->from_guest, &one, sizeof(one)) < 0)
		log_warn("hostsim endpoint: self doorbell: %s", strerror(errno));
}

void endpoint_commit(struct hostchan *hc)
{
	bool kick = pipe_tx_commit(&hc->out);

	kick |= pipe_rx_commit(&hc->in); /* both must run: no || */
	if (kick)
		hostchan_signal(hc);
}
