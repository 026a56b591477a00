/* SPDX-License-Identifier: MIT */
/*
 * A strict HTTP/1.1 request parser for pasted: request line, headers,
 * Content-Length bodies; no transfer codings.
 */
#ifndef PASTED_HTTP_H
#define PASTED_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#define HTTP_MAX_HEADER	8192	/* request line + headers; more is 431 */
#define HTTP_MAX_BODY	16384	/* more is 413 */
#define HTTP_MAX_KEY	200

enum http_method { HTTP_GET = 1, HTTP_POST };

/**
 * struct http_req - a parsed request head
 * @method: %HTTP_GET or %HTTP_POST
 * @key: the key (the path without its leading '/'), in the parsed buffer
 * @key_len: its length
 * @header_len: bytes of request line and headers, final CRLF included,
 *	and of any empty lines before the request line
 * @body_len: Content-Length
 * @close: the client asked to close after this request (or is HTTP/1.0)
 * @expect_continue: HTTP/1.1 "Expect: 100-continue": the client waits for
 *	"100 Continue" (or a final status) before it sends the body
 */
struct http_req {
	enum http_method method;
	const char *key;
	size_t key_len;
	size_t header_len;
	size_t body_len;
	bool close;
	bool expect_continue;
};

/**
 * http_parse() - parse the head of the request at the start of @buf
 * @buf: received bytes
 * @len: how many
 * @req: filled in when the head is complete
 *
 * Empty lines (CRLF) before the request line are skipped (RFC 9112 2.2)
 * and count towards the head and its limit.
 *
 * Return: 1 when the head is complete (the body may still be arriving),
 * 0 when more bytes are needed, or a negative HTTP status: -400 malformed
 * (a bare LF line end, a control character or DEL in a field value, an
 * HTTP/1.1 request without exactly one Host field, among others), -405
 * method not GET/POST, -411 POST without Content-Length, -413 body too
 * large, -414 key longer than %HTTP_MAX_KEY, -417 an Expect other than
 * 100-continue, -431 head too large, -501 Transfer-Encoding (none is
 * implemented), -505 not HTTP/1.x. Connection is read as a list of
 * options ("close, TE").
 */
int http_parse(const char *buf, size_t len, struct http_req *req);

/**
 * http_is_blank() - whether @buf holds nothing but line ends (CR, LF), as a
 *	client may send after a body; true for no bytes at all
 */
bool http_is_blank(const char *buf, size_t len);

/**
 * http_status_fields() - header fields a response of @status must carry
 *
 * Return: CRLF-terminated lines ("Allow: GET, POST\r\n" for 405), or "".
 */
const char *http_status_fields(int status);

/** http_reason() - the reason phrase of @status */
const char *http_reason(int status);

#endif /* PASTED_HTTP_H */
