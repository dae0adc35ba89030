/* One line per event on stderr. When stderr is the systemd journal
 * (JOURNAL_STREAM matches stderr's dev:ino) each line carries the
 * sd-daemon "<N>" priority prefix instead of a timestamp. */
#ifndef MD9_LOG_H
#define MD9_LOG_H

enum md9_log_level { MD9_LOG_ERR = 3, MD9_LOG_WARN = 4, MD9_LOG_INFO = 6, MD9_LOG_DEBUG = 7 };

void md9_log_init(const char *prog, enum md9_log_level max_level);
void md9_log_set_level(enum md9_log_level max_level);
enum md9_log_level md9_log_get_level(void);
/* "error", "warning", "info", "debug"; "?" for another value. */
const char *md9_log_level_name(enum md9_log_level level);
void md9_log(enum md9_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_err(...)   md9_log(MD9_LOG_ERR, __VA_ARGS__)
#define log_warn(...)  md9_log(MD9_LOG_WARN, __VA_ARGS__)
#define log_info(...)  md9_log(MD9_LOG_INFO, __VA_ARGS__)
#define log_debug(...) md9_log(MD9_LOG_DEBUG, __VA_ARGS__)

#endif
