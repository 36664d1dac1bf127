/* Measuring helper for conformance/bench/bench.py (built by run.sh).
 *
 *   helper rss OUTFILE CMD [ARGS...]
 *       Runs CMD, waits for it and writes "MAXRSS_KIB EXIT_STATUS" to
 *       OUTFILE (not stdout: CMD may leave processes holding our stdio).
 *       ru_maxrss of a child counts the memory of whatever process image
 *       it had before exec, so the parent must be small: a Python parent
 *       (17 MB) would hide every runtime's figure.  This process is a few
 *       hundred KiB; `helper rss /bin/true` shows the floor.
 *
 *   helper poll FILE KEY BASE
 *       Reads FILE in a tight loop until the "KEY N" line has N > BASE,
 *       then prints CLOCK_MONOTONIC in ns and exits 0 (exit 1 after 20 s).
 *       Used on memory.oom_control / memory.events to see the moment the
 *       kernel counts an OOM kill.  Prints "ready" on stderr once the
 *       first read succeeded.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long long mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int do_rss(const char *out, char **argv)
{
	pid_t pid = fork();
	if (pid < 0) {
		perror("fork");
		return 2;
	}
	if (pid == 0) {
		execv(argv[0], argv);
		perror(argv[0]);
		_exit(127);
	}
	int status;
	struct rusage ru;
	if (wait4(pid, &status, 0, &ru) < 0) {
		perror("wait4");
		return 2;
	}
	int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	FILE *f = fopen(out, "w");
	if (!f) {
		perror(out);
		return 2;
	}
	fprintf(f, "%ld %d\n", ru.ru_maxrss, code);
	return fclose(f) == 0 ? 0 : 2;
}

static long long value_of(const char *buf, const char *key)
{
	size_t kl = strlen(key);
	const char *p = buf;
	while (p && *p) {
		if (strncmp(p, key, kl) == 0 && p[kl] == ' ')
			return atoll(p + kl + 1);
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return -1;
}

static int do_poll(const char *file, const char *key, long long base)
{
	int fd = open(file, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		perror(file);
		return 2;
	}
	char buf[4096];
	long long deadline = mono_ns() + 20LL * 1000000000LL;
	int said_ready = 0;
	for (;;) {
		ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
		long long t = mono_ns();
		if (n < 0) {
			perror("pread");
			return 2;
		}
		buf[n] = 0;
		if (!said_ready) {
			fputs("ready\n", stderr);
			said_ready = 1;
		}
		if (value_of(buf, key) > base) {
			printf("%lld\n", t);
			return 0;
		}
		if (t > deadline)
			return 1;
	}
}

int main(int argc, char **argv)
{
	if (argc >= 4 && strcmp(argv[1], "rss") == 0)
		return do_rss(argv[2], argv + 3);
	if (argc == 5 && strcmp(argv[1], "poll") == 0)
		return do_poll(argv[2], argv[3], atoll(argv[4]));
	fprintf(stderr, "usage: helper rss OUTFILE CMD [ARGS...] | helper poll FILE KEY BASE\n");
	return 2;
}
