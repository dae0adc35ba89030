#include "textdiff.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

/* Where diffutils installs diff (Debian: /usr/bin, /bin before the /usr merge). */
static const char *const diff_paths[] = {"/usr/bin/diff", "/bin/diff"};

/* An anonymous file holding text, inherited by the child (no CLOEXEC) and
 * opened by diff as /proc/self/fd/N: no temporary file anyone could touch. */
static int text_fd(const char *name, const char *text)
{
	int fd = memfd_create(name, 0);
	size_t len = strlen(text), off = 0;

	if (fd < 0)
		return -errno;
	while (off < len) {
		ssize_t w = write(fd, text + off, len - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			int err = -errno;

			close(fd);
			return err;
		}
		off += (size_t)w;
	}
	return fd;
}

int md9_textdiff(FILE *out, const char *label_a, const char *label_b, const char *a, const char *b)
{
	const char *diff = NULL;
	char path_a[32], path_b[32], buf[4096];
	int fa, fb, pipefd[2], st, err = 0;
	pid_t pid;
	ssize_t n;

	for (size_t i = 0; i < sizeof(diff_paths) / sizeof(diff_paths[0]) && !diff; i++)
		if (access(diff_paths[i], X_OK) == 0)
			diff = diff_paths[i];
	if (!diff)
		return -ENOENT;
	fa = text_fd("md9-diff-a", a);
	if (fa < 0)
		return fa;
	fb = text_fd("md9-diff-b", b);
	if (fb < 0) {
		close(fa);
		return fb;
	}
	snprintf(path_a, sizeof(path_a), "/proc/self/fd/%d", fa);
	snprintf(path_b, sizeof(path_b), "/proc/self/fd/%d", fb);
	if (pipe2(pipefd, O_CLOEXEC) < 0) {
		err = -errno;
		goto out;
	}
	pid = fork();
	if (pid < 0) {
		err = -errno;
		close(pipefd[0]);
		close(pipefd[1]);
		goto out;
	}
	if (pid == 0) {
		dup2(pipefd[1], STDOUT_FILENO);
		execl(diff, "diff", "-u", "--label", label_a, "--label", label_b, path_a, path_b,
		      (char *)NULL);
		_exit(127);
	}
	close(pipefd[1]);
	/* Through a pipe, so that out may be any FILE (a test's memstream). */
	while ((n = read(pipefd[0], buf, sizeof(buf))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			err = -errno;
			break;
		}
		fwrite(buf, 1, (size_t)n, out);
	}
	close(pipefd[0]);
	while (waitpid(pid, &st, 0) < 0) {
		if (errno != EINTR) {
			err = err ? err : -errno;
			goto out;
		}
	}
	/* diff: 0 equal, 1 different, 2 trouble; 127 from the child: no exec. */
	if (!err && !(WIFEXITED(st) && (WEXITSTATUS(st) == 0 || WEXITSTATUS(st) == 1)))
		err = WIFEXITED(st) && WEXITSTATUS(st) == 127 ? -ENOENT : -EIO;
out:
	close(fa);
	close(fb);
	fflush(out);
	return err;
}
