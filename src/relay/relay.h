/* Moving bytes between a pipe (VMBus rings) and a stream without
 * intermediate buffers: writev straight from ring memory, readv straight into
 * it. Both directions stop at a per-call budget so one busy session cannot
 * starve the others; the caller's level-triggered epoll brings it back.
 * Neither function rings a doorbell: the caller commits once per wake-up. */
#ifndef MD9_RELAY_H
#define MD9_RELAY_H

#include "pipe.h"
#include "stream.h"

enum relay_state {
	RELAY_IDLE,    /* source drained: wait for it */
	RELAY_BLOCKED, /* destination full: wait for it */
	RELAY_BUDGET,  /* budget used up: call again */
	RELAY_EOF,     /* source ended (stream EOF) */
	RELAY_ERROR,   /* see *err: -errno from the stream, -EBADMSG from the pipe */
};

struct relay_result {
	enum relay_state state;
	size_t moved;
	int err;
};

/* Ring -> stream. */
struct relay_result relay_pipe_to_stream(struct pipe_rx *in, struct md9_stream *out, size_t budget);
/* Stream -> ring. On RELAY_BLOCKED the caller arms pipe_tx_wait(). */
struct relay_result relay_stream_to_pipe(struct md9_stream *in, struct pipe_tx *out, size_t budget);

#endif
