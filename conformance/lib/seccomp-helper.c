/* Helper of conformance/tests/dropin-seccomp.bats, built with `cc -static`
 * by the test file (like lib/attack-helper.c).
 *
 *   seccomp-helper agent SOCKET LOG
 *       A seccomp notify agent (the listenerPath side of SCMP_ACT_NOTIFY),
 *       answering as runc's example agent does: mkdir(PATH) creates
 *       PATH-<metadata> in the container instead (and succeeds); chmod,
 *       fchmod and fchmodat fail with ENOMEDIUM; anything else continues.
 *       Each message received on SOCKET (the container process state
 *       JSON with one SCM_RIGHTS fd) is appended to LOG as
 *         state <json>          (or "bad <what>" when it is not that)
 *       and each notification as
 *         notif <nr> <pid> <answer>
 *       Runs until killed; serves every container at once (poll).
 *   seccomp-helper sys NR...
 *       Calls syscall(NR) for each NR (all arguments 0) and prints one
 *       line per call: "NR ok" or "NR <errno name>".
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#define MAX_FDS 64

static const char *errname(int e)
{
	switch (e) {
	case EPERM: return "EPERM";
	case ENOSYS: return "ENOSYS";
	case EACCES: return "EACCES";
	case EINVAL: return "EINVAL";
	case EFAULT: return "EFAULT";
	case EBADF: return "EBADF";
	case ENOMEDIUM: return "ENOMEDIUM";
	case ENXIO: return "ENXIO";
	default: return "OTHER";
	}
}

static int sys_main(int argc, char **argv)
{
	for (int i = 0; i < argc; i++) {
		long nr = strtol(argv[i], NULL, 0);
		errno = 0;
		long r = syscall(nr, 0, 0, 0, 0, 0, 0);
		if (r == -1)
			printf("%ld %s\n", nr, errname(errno));
		else
			printf("%ld ok\n", nr);
	}
	return 0;
}

/* The metadata of each notify fd (from its state JSON). */
struct listener {
	int fd;
	char metadata[256];
};

static FILE *logf;

/* The string value of "key" in json (first occurrence), unescaped only for
 * plain strings: enough for the metadata the tests send. */
static void json_string(const char *json, const char *key, char *out, size_t n)
{
	char pat[64];
	snprintf(pat, sizeof(pat), "\"%s\":\"", key);
	const char *p = strstr(json, pat);
	out[0] = 0;
	if (!p)
		return;
	p += strlen(pat);
	size_t i = 0;
	while (*p && *p != '"' && i + 1 < n)
		out[i++] = *p++;
	out[i] = 0;
}

/* Receives one state message and its fd on a new connection. */
static int receive(int conn, struct listener *l)
{
	char buf[65536];
	char cbuf[CMSG_SPACE(sizeof(int) * 4)];
	struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) - 1 };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
			      .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
	ssize_t n = recvmsg(conn, &msg, MSG_CMSG_CLOEXEC);
	if (n <= 0) {
		fprintf(logf, "bad recvmsg %s\n", n == 0 ? "EOF" : strerror(errno));
		return -1;
	}
	buf[n] = 0;
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	if (!c || c->cmsg_type != SCM_RIGHTS) {
		fprintf(logf, "bad no-fd %s\n", buf);
		return -1;
	}
	memcpy(&l->fd, CMSG_DATA(c), sizeof(int));
	json_string(buf, "metadata", l->metadata, sizeof(l->metadata));
	fprintf(logf, "state %s\n", buf);
	return 0;
}

/* The string at addr in pid's memory (NUL-terminated, at most n-1). */
static int read_string(pid_t pid, unsigned long long addr, char *out, size_t n)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/mem", pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t r = pread(fd, out, n - 1, (off_t)addr);
	close(fd);
	if (r <= 0)
		return -1;
	out[r] = 0;
	return 0;
}

static void answer(struct listener *l, struct seccomp_notif *req, struct seccomp_notif_resp *resp)
{
	const char *what = "continue";
	char path[4096], target[8192];
	memset(resp, 0, sizeof(*resp));
	resp->id = req->id;
	resp->flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
	int nr = req->data.nr;
	if (nr == SYS_mkdir || nr == SYS_mkdirat) {
		unsigned long long arg = nr == SYS_mkdir ? req->data.args[0] : req->data.args[1];
		resp->flags = 0;
		if (read_string(req->pid, arg, path, sizeof(path)) < 0 ||
		    ioctl(l->fd, SECCOMP_IOCTL_NOTIF_ID_VALID, &req->id) < 0) {
			resp->error = -EFAULT;
			what = "efault";
		} else {
			snprintf(target, sizeof(target), "/proc/%d/%s/%s-%s", req->pid,
				 path[0] == '/' ? "root" : "cwd", path, l->metadata);
			if (mkdir(target, 0755) < 0) {
				resp->error = -errno;
				what = "mkdir-failed";
			} else {
				what = "created";
			}
		}
	} else if (nr == SYS_chmod || nr == SYS_fchmod || nr == SYS_fchmodat) {
		resp->flags = 0;
		resp->error = -ENOMEDIUM;
		what = "enomedium";
	}
	fprintf(logf, "notif %d %d %s\n", nr, req->pid, what);
}

static int agent_main(const char *sock, const char *log)
{
	logf = fopen(log, "a");
	if (!logf)
		return perror("log"), 1;
	setvbuf(logf, NULL, _IOLBF, 0);
	int ls = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	strncpy(a.sun_path, sock, sizeof(a.sun_path) - 1);
	unlink(sock);
	if (ls < 0 || bind(ls, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(ls, 16) < 0)
		return perror("listen"), 1;
	struct seccomp_notif_sizes sizes;
	if (syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sizes) < 0)
		return perror("sizes"), 1;
	struct seccomp_notif *req = calloc(1, sizes.seccomp_notif + 64);
	struct seccomp_notif_resp *resp = calloc(1, sizes.seccomp_notif_resp + 64);
	struct listener ls_[MAX_FDS];
	int count = 0;
	for (;;) {
		struct pollfd p[MAX_FDS + 1];
		p[0] = (struct pollfd){ .fd = ls, .events = POLLIN };
		for (int i = 0; i < count; i++)
			p[i + 1] = (struct pollfd){ .fd = ls_[i].fd, .events = POLLIN };
		if (poll(p, count + 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			return perror("poll"), 1;
		}
		for (int i = count - 1; i >= 0; i--) {
			if (p[i + 1].revents & POLLIN) {
				memset(req, 0, sizes.seccomp_notif);
				if (ioctl(ls_[i].fd, SECCOMP_IOCTL_NOTIF_RECV, req) == 0) {
					answer(&ls_[i], req, resp);
					ioctl(ls_[i].fd, SECCOMP_IOCTL_NOTIF_SEND, resp);
				}
			} else if (p[i + 1].revents & (POLLHUP | POLLERR | POLLNVAL)) {
				close(ls_[i].fd);
				ls_[i] = ls_[--count];
			}
		}
		if (p[0].revents & POLLIN) {
			int conn = accept4(ls, NULL, NULL, SOCK_CLOEXEC);
			if (conn >= 0) {
				if (count < MAX_FDS && receive(conn, &ls_[count]) == 0)
					count++;
				close(conn);
			}
		}
	}
}

int main(int argc, char **argv)
{
	if (argc >= 4 && strcmp(argv[1], "agent") == 0)
		return agent_main(argv[2], argv[3]);
	if (argc >= 2 && strcmp(argv[1], "sys") == 0)
		return sys_main(argc - 2, argv + 2);
	fprintf(stderr, "usage: %s agent SOCKET LOG | sys NR...\n", argv[0]);
	return 2;
}
