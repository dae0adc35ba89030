/* A session's side of its negotiation (session_negotiate.c), which
 * session.c drives while the session is in SS_NEGOTIATE. */
#ifndef MD9_SESSION_NEGOTIATE_H
#define MD9_SESSION_NEGOTIATE_H

#include "session_core.h"

/* Connect to the server (again). 0, or <0: the session ends. */
int session_negotiate_connect(struct session *s);
/* Write what the negotiation owes the server. 1: all written, 0: blocked,
 * <0: the session ends. */
int session_negotiate_flush(struct session *s);
/* SS_NEGOTIATE: write what is owed, notice the connect, carry out the
 * negotiation's actions, then feed it what it waits for. >0 progress, 0
 * waiting, <0 the session ends. */
int session_negotiate_step(struct session *s);

#endif
