/* CLOCK_MONOTONIC points in time as struct timespec: now, later, which is
 * first, how far apart. The one copy every layer uses (deadlines, ages). */
#ifndef MD9_TIMESPEC_H
#define MD9_TIMESPEC_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

/* CLOCK_MONOTONIC now. */
struct timespec timespec_now(void);
/* CLOCK_MONOTONIC now in nanoseconds (fits in 64 bits for 584 years). */
uint64_t timespec_now_ns(void);
/* *t += ms milliseconds (tv_nsec stays below one second). */
void timespec_add_ms(struct timespec *t, unsigned ms);
/* now + ms. */
struct timespec timespec_in_ms(unsigned ms);
/* a is strictly earlier than b. */
bool timespec_before(const struct timespec *a, const struct timespec *b);
/* b - a in seconds (negative when b is earlier). */
double timespec_diff_s(const struct timespec *a, const struct timespec *b);
/* b - a in milliseconds, truncated (negative when b is earlier). */
long long timespec_diff_ms(const struct timespec *a, const struct timespec *b);

#endif
