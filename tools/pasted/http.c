// SPDX-License-Identifier: MIT
/*
 * pasted's HTTP/1.1 request parser. It never reads past @len, never
 * allocates, and treats anything it does not understand as malformed.
 */
#include <string.h>
#include <strings.h>

#include "http.h"

static bool is_tchar(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || strchr("!#$%&'*+-.^_`|~", c);
}

static bool is_keychar(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' ||
	       c == '~';
}

/*
 * Find the end of the head (CRLF CRLF) in the first @len bytes: its length,
 * 0 when it is not there yet, or -1 at a bare LF, a line end without CR
 * that this strict parser refuses rather than guess at (RFC 9112 2.2).
 */
static long head_end(const char *buf, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (buf[i] != '\n')
			continue;
		if (!i || buf[i - 1] != '\r')
			return -1;
		if (i >= 3 && buf[i - 2] == '\n' && buf[i - 3] == '\r')
			return i + 1;
	}
	return 0;
}

static int parse_request_line(const char *p, const char *eol,
			      struct http_req *req, bool *http10)
{
	const char *sp1, *sp2, *t, *v;

	for (sp1 = p; sp1 < eol && *sp1 != ' '; sp1++)
		if (!is_tchar(*sp1))
			return -400;
	if (sp1 == p || sp1 == eol)
		return -400;
	sp2 = memchr(sp1 + 1, ' ', eol - sp1 - 1);
	if (!sp2)
		return -400;
	/* HTTP/<digit>.<digit>; only 1.0 and 1.1 are spoken here. */
	v = sp2 + 1;
	if (eol - v != 8 || memcmp(v, "HTTP/", 5) || v[6] != '.' ||
	    v[5] < '0' || v[5] > '9' || v[7] < '0' || v[7] > '9')
		return -400;
	if (v[5] != '1' || v[7] > '1')
		return -505;
	*http10 = v[7] == '0';

	if (sp1 - p == 3 && !memcmp(p, "GET", 3))
		req->method = HTTP_GET;
	else if (sp1 - p == 4 && !memcmp(p, "POST", 4))
		req->method = HTTP_POST;
	else
		return -405;

	t = sp1 + 1;
	if (*t != '/' || sp2 - t < 2)
		return -400;
	if (sp2 - t - 1 > HTTP_MAX_KEY)
		return -414;
	req->key = t + 1;
	req->key_len = sp2 - t - 1;
	for (t = req->key; t < sp2; t++)
		if (!is_keychar(*t))
			return -400;
	return 0;
}

/* Header value without surrounding blanks. */
static void trim(const char **v, const char **end)
{
	while (*v < *end && (**v == ' ' || **v == '\t'))
		(*v)++;
	while (*end > *v && ((*end)[-1] == ' ' || (*end)[-1] == '\t'))
		(*end)--;
}

/* The options of a Connection field, a comma-separated list. */
static void connection_options(const char *v, const char *end,
			       struct http_req *req, bool *keep_alive)
{
	while (v < end) {
		const char *comma = memchr(v, ',', end - v);
		const char *t = v, *e = comma ? comma : end;

		trim(&t, &e);
		if (e - t == 5 && !strncasecmp(t, "close", 5))
			req->close = true;
		else if (e - t == 10 && !strncasecmp(t, "keep-alive", 10))
			*keep_alive = true;
		v = comma ? comma + 1 : end;
	}
}

/* What the header fields said, beyond @req. */
struct fields {
	bool have_len, keep_alive;
	unsigned int hosts;
};

static int parse_header(const char *p, const char *eol, struct http_req *req,
			struct fields *f)
{
	const char *colon = memchr(p, ':', eol - p), *v, *end = eol, *n;
	size_t name_len, cl = 0;

	if (!colon || colon == p)
		return -400;
	for (n = p; n < colon; n++)
		if (!is_tchar(*n))
			return -400;
	name_len = colon - p;
	v = colon + 1;
	trim(&v, &end);
	for (n = v; n < end; n++)
		if (((unsigned char)*n < 0x20 && *n != '\t') || *n == 0x7f)
			return -400;

	if (name_len == 14 && !strncasecmp(p, "Content-Length", 14)) {
		if (v == end)
			return -400;
		for (n = v; n < end; n++) {
			if (*n < '0' || *n > '9')
				return -400;
			if (cl > HTTP_MAX_BODY)
				return -413;
			cl = cl * 10 + (*n - '0');
		}
		if (cl > HTTP_MAX_BODY)
			return -413;
		if (f->have_len && cl != req->body_len)
			return -400;
		req->body_len = cl;
		f->have_len = true;
	} else if (name_len == 17 && !strncasecmp(p, "Transfer-Encoding", 17)) {
		/* No transfer coding is implemented (RFC 9112 6.1). */
		return -501;
	} else if (name_len == 10 && !strncasecmp(p, "Connection", 10)) {
		connection_options(v, end, req, &f->keep_alive);
	} else if (name_len == 4 && !strncasecmp(p, "Host", 4)) {
		f->hosts++;
	} else if (name_len == 6 && !strncasecmp(p, "Expect", 6)) {
		/* The only expectation there is (RFC 9110 10.1.1). */
		if (end - v != 12 || strncasecmp(v, "100-continue", 12))
			return -417;
		req->expect_continue = true;
	}
	return 0;
}

int http_parse(const char *buf, size_t len, struct http_req *req)
{
	struct fields f = { 0 };
	bool http10 = false;
	const char *p, *end, *eol;
	size_t lead = 0;
	long hlen;
	int err;

	/*
	 * Empty lines before the request line are ignored (RFC 9112 2.2),
	 * e.g. a CRLF a client sent after a body; they count as head.
	 */
	while (lead + 1 < len && lead < HTTP_MAX_HEADER && buf[lead] == '\r' &&
	       buf[lead + 1] == '\n')
		lead += 2;
	p = buf + lead;
	hlen = head_end(p, len - lead < HTTP_MAX_HEADER - lead ?
			   len - lead : HTTP_MAX_HEADER - lead);
	if (hlen < 0)
		return -400;
	if (!hlen)
		return len >= HTTP_MAX_HEADER ? -431 : 0;
	memset(req, 0, sizeof(*req));
	req->header_len = lead + hlen;
	end = p + hlen - 2;	/* the final empty line */

	eol = memchr(p, '\r', end - p);
	if (!eol || eol[1] != '\n')
		return -400;
	err = parse_request_line(p, eol, req, &http10);
	if (err)
		return err;
	for (p = eol + 2; p < end; p = eol + 2) {
		eol = memchr(p, '\r', end - p);
		if (!eol || eol[1] != '\n')
			return -400;
		err = parse_header(p, eol, req, &f);
		if (err)
			return err;
	}
	/* HTTP/1.1 needs exactly one Host; 1.0 may have none (RFC 9112 3.2). */
	if (f.hosts > 1 || (!http10 && !f.hosts))
		return -400;
	if (req->method == HTTP_POST && !f.have_len)
		return -411;
	if (http10) {
		req->close |= !f.keep_alive;
		/* A 1.0 client knows no 100 Continue: ignore it (10.1.1). */
		req->expect_continue = false;
	}
	return 1;
}

const char *http_status_fields(int status)
{
	/* A 405 lists the methods there are (RFC 9110 15.5.6). */
	if (status == 405)
		return "Allow: GET, POST\r\n";
	return status == 503 ? "Retry-After: 1\r\n" : "";
}

const char *http_reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 201: return "Created";
	case 400: return "Bad Request";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 411: return "Length Required";
	case 413: return "Content Too Large";
	case 414: return "URI Too Long";
	case 417: return "Expectation Failed";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 503: return "Service Unavailable";
	case 501: return "Not Implemented";
	case 505: return "HTTP Version Not Supported";
	default: return "Unknown";
	}
}

bool http_is_blank(const char *buf, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (buf[i] != '\r' && buf[i] != '\n')
			return false;
	return true;
}
