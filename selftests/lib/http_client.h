/* SPDX-License-Identifier: MIT */
/*
 * The HTTP client of pasted's tests (host, VM, and the power-cut load):
 * one response parser, one reader of responses that keeps the bytes of
 * pipelined ones, and starting and stopping pasted.
 */
#ifndef HTTP_CLIENT_H
#define HTTP_CLIENT_H

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

/*
 * One response at the start of @buf (@len bytes, at most @cap ever): its
 * whole length, 0 when more bytes are needed, or -EPROTO when it is not
 * an HTTP/1.1 response or cannot fit in @cap. Its status, and where its
 * body starts and how long it is, in @status, @body_off and @blen.
 */
static inline int http_response_parse(const char *buf, size_t len, size_t cap,
				      int *status, size_t *body_off,
				      size_t *blen)
{
	const char *end, *cl;
	size_t head, n = 0;

	end = memmem(buf, len, "\r\n\r\n", 4);
	if (!end)
		return len >= cap ? -EPROTO : 0;
	head = end + 4 - buf;
	if (len < 12 || memcmp(buf, "HTTP/1.1 ", 9) ||
	    sscanf(buf + 9, "%3d", status) != 1)
		return -EPROTO;
	cl = memmem(buf, head, "Content-Length:", 15);
	if (!cl)
		cl = memmem(buf, head, "content-length:", 15);
	if (cl)
		n = strtoul(cl + 15, NULL, 10);
	if (n > cap - head)
		return -EPROTO;
	if (len < head + n)
		return 0;
	*body_off = head;
	*blen = n;
	return head + n;
}

/*
 * Responses read from one connection: bytes of the ones after the current
 * one stay in @buf (pipelining).
 */
struct http_reader {
	char *buf;
	size_t cap;
	size_t len;
};

/* Why a read got no response: it says what it waited for. */
static inline void http_read_failed(ssize_t n, size_t len)
{
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		fprintf(stderr, "# no answer: the receive timeout passed with %zu bytes of a response in\n",
			len);
	else
		fprintf(stderr, "# no answer: %s after %zu bytes of a response\n",
			n ? strerror(errno) : "EOF", len);
}

/*
 * Read one response from @fd: its status, or -1 (said why on stderr). Its
 * body goes to @body (up to @bmax bytes; *@blen its length) when @body is
 * not NULL.
 */
static inline int http_read_response(int fd, struct http_reader *r,
				     char *body, size_t bmax, size_t *blen)
{
	size_t off = 0, n = 0;
	int status = 0, len;
	ssize_t got;

	while (!(len = http_response_parse(r->buf, r->len, r->cap, &status,
					   &off, &n))) {
		got = recv(fd, r->buf + r->len, r->cap - r->len, 0);
		if (got <= 0) {
			http_read_failed(got, r->len);
			return -1;
		}
		r->len += got;
	}
	if (len < 0) {
		fprintf(stderr, "# not a response, or too large: %.40s\n", r->buf);
		return -1;
	}
	if (body) {
		*blen = n < bmax ? n : bmax;
		memcpy(body, r->buf + off, *blen);
	}
	memmove(r->buf, r->buf + len, r->len - len);
	r->len -= len;
	return status;
}

/* How many lines of the file @path contain @what. */
static inline int log_count(const char *path, const char *what)
{
	char line[1024];
	FILE *f = fopen(path, "r");
	int n = 0;

	while (f && fgets(line, sizeof(line), f))
		n += !!strstr(line, what);
	if (f)
		fclose(f);
	return n;
}

/*
 * How pasted is started: @bin with -m @mode -l @loop -p @port -d @dir and
 * @args (NULL-terminated, or NULL), its output appended to @log. A
 * non-zero @nofile_max sets its RLIMIT_NOFILE (soft @nofile_cur). @next_port: while the port is
 * taken, try the next one (on a host other programs may hold it); else the
 * same one again (an io_uring server's listener outlives its process for
 * a moment).
 */
struct pasted_run {
	const char *bin, *mode, *loop, *dir, *log;
	const char *const *args;
	int port;
	rlim_t nofile_cur, nofile_max;
	bool next_port;
	int wait_s;		/* for the start-up line; 0: 60 s */
};

/*
 * Start pasted: its pid once it printed its start-up line (which follows
 * listen()), or -1 (said why on stderr). @run->port is the port it serves.
 */
static inline pid_t pasted_start(struct pasted_run *run)
{
	int wait_ms = (run->wait_s ? run->wait_s : 60) * 1000;
	int tries, i, fd, started, in_use, argc;
	const char *argv[40];
	char port[16];
	pid_t pid;

	for (tries = 0; tries < 100; tries++) {
		started = log_count(run->log, "pasted: mode ");
		in_use = log_count(run->log, "Address already in use");
		snprintf(port, sizeof(port), "%d", run->port);
		argc = 0;
		argv[argc++] = run->bin;
		argv[argc++] = "-m";
		argv[argc++] = run->mode;
		argv[argc++] = "-l";
		argv[argc++] = run->loop;
		argv[argc++] = "-p";
		argv[argc++] = port;
		argv[argc++] = "-d";
		argv[argc++] = run->dir;
		for (i = 0; run->args && run->args[i] && argc < 39; i++)
			argv[argc++] = run->args[i];
		argv[argc] = NULL;
		pid = fork();
		if (pid < 0)
			return -1;
		if (!pid) {
			struct rlimit rl = { run->nofile_cur, run->nofile_max };

			fd = open(run->log, O_WRONLY | O_CREAT | O_APPEND, 0644);
			dup2(fd, 1);
			dup2(fd, 2);
			if (run->nofile_max && setrlimit(RLIMIT_NOFILE, &rl))
				_exit(126);
			execv(run->bin, (char *const *)argv);
			_exit(127);
		}
		for (i = 0; i < wait_ms / 20; i++) {
			if (log_count(run->log, "pasted: mode ") > started)
				return pid;
			if (waitpid(pid, NULL, WNOHANG) == pid)
				break;
			usleep(20000);
		}
		if (i == wait_ms / 20) {
			/* Never leave a server behind. */
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			fprintf(stderr, "# pasted -m %s -l %s printed no start-up line within %d s\n",
				run->mode, run->loop, wait_ms / 1000);
			return -1;
		}
		if (log_count(run->log, "Address already in use") == in_use) {
			fprintf(stderr, "# pasted -m %s -l %s exited at start: see %s\n",
				run->mode, run->loop, run->log);
			return -1;
		}
		if (run->next_port)
			run->port++;
		else
			usleep(100000);
	}
	return -1;
}

/* SIGTERM, then its exit status (128 + signal if killed), or -1. */
static inline int pasted_stop(pid_t pid)
{
	int status;

	kill(pid, SIGTERM);
	if (waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

#endif /* HTTP_CLIENT_H */
