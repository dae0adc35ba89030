/* The primitives a session's files share (session_core.h): recording why
 * it ends and arming its one deadline. */
#include "session_core.h"

#include <stdarg.h>
#include <stdio.h>

int session_core_end(struct session *s, const char *fmt, ...)
{
	va_list ap;

	if (s->close_reason)
		return -1;
	va_start(ap, fmt);
	vsnprintf(s->reason_buf, sizeof(s->reason_buf), fmt, ap);
	va_end(ap);
	s->close_reason = s->reason_buf;
	return -1;
}

void session_core_arm_timer(struct session *s, unsigned ms)
{
	ev_timer_arm(s->env.loop, &s->timer, ms, s->on_deadline, s);
}
