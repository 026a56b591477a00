// SPDX-License-Identifier: MIT
/*
 * Host unit tests of pasted's HTTP parser: valid requests, every error
 * status, adversarial input, and a bounded random fuzzer (built with ASan
 * and UBSan, so an out-of-bounds read fails the run).
 */
#include <stdlib.h>
#include <string.h>

#include "kselftest_harness.h"
#include "http.h"

static int parse(const char *s, struct http_req *req)
{
	/* A heap copy of exactly strlen(s) bytes: ASan sees any overread. */
	size_t len = strlen(s);
	char *buf = malloc(len ? len : 1);
	int ret;

	memcpy(buf, s, len);
	ret = http_parse(buf, len, req);
	free(buf);
	return ret;
}

TEST(get_is_parsed)
{
	struct http_req req;

	ASSERT_EQ(1, parse("GET /key1 HTTP/1.1\r\nHost: x\r\n\r\n", &req));
	EXPECT_EQ(HTTP_GET, req.method);
	EXPECT_EQ(4, req.key_len);
	EXPECT_EQ(31, req.header_len);
	EXPECT_EQ(0, req.body_len);
	EXPECT_FALSE(req.close);
}

TEST(post_with_length)
{
	struct http_req req;
	const char *r = "POST /a.b-c_d~e HTTP/1.1\r\nHost: t\r\nContent-Length: 11\r\n"
			"Connection: close\r\n\r\nhello world";

	ASSERT_EQ(1, http_parse(r, strlen(r), &req));
	EXPECT_EQ(HTTP_POST, req.method);
	EXPECT_EQ(9, req.key_len);
	EXPECT_EQ(0, memcmp(req.key, "a.b-c_d~e", 9));
	EXPECT_EQ(11, req.body_len);
	EXPECT_TRUE(req.close);
	EXPECT_EQ(strlen(r) - 11, req.header_len);
}

TEST(http10_closes_unless_keep_alive)
{
	struct http_req req;

	ASSERT_EQ(1, parse("GET /k HTTP/1.0\r\n\r\n", &req));
	EXPECT_TRUE(req.close);
	ASSERT_EQ(1, parse("GET /k HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", &req));
	EXPECT_FALSE(req.close);
}

/* RFC 9112 3.2: exactly one Host in HTTP/1.1; none needed in 1.0. */
TEST(http11_needs_exactly_one_host)
{
	struct http_req req;

	EXPECT_EQ(-400, parse("GET /k HTTP/1.1\r\n\r\n", &req));
	EXPECT_EQ(-400, parse("POST /k HTTP/1.1\r\nContent-Length: 1\r\n\r\nx", &req));
	EXPECT_EQ(-400, parse("GET /k HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n", &req));
	EXPECT_EQ(1, parse("GET /k HTTP/1.1\r\nhOsT: a\r\n\r\n", &req));
	EXPECT_EQ(1, parse("GET /k HTTP/1.0\r\n\r\n", &req));
	EXPECT_EQ(-400, parse("GET /k HTTP/1.0\r\nHost: a\r\nHost: a\r\n\r\n", &req));
}

/* RFC 9110 10.1.1: 100-continue is the one expectation; 1.0 ignores it. */
TEST(expect_100_continue)
{
	struct http_req req;

	ASSERT_EQ(1, parse("POST /k HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n"
			   "Expect: 100-Continue\r\n\r\n", &req));
	EXPECT_TRUE(req.expect_continue);
	ASSERT_EQ(1, parse("POST /k HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\n", &req));
	EXPECT_FALSE(req.expect_continue);
	EXPECT_EQ(-417, parse("POST /k HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n"
			      "Expect: 200-ok\r\n\r\n", &req));
	EXPECT_STREQ("Expectation Failed", http_reason(417));
	ASSERT_EQ(1, parse("POST /k HTTP/1.0\r\nContent-Length: 2\r\n"
			   "Expect: 100-continue\r\n\r\n", &req));
	EXPECT_FALSE(req.expect_continue);
}

TEST(incomplete_head_needs_more)
{
	struct http_req req;

	EXPECT_EQ(0, parse("", &req));
	EXPECT_EQ(0, parse("GET /k HTTP/1.1\r\nHost: t\r\n", &req));
	EXPECT_EQ(0, parse("GET /k HTTP/1.1\r\nHost: x\r\n\r", &req));
}

TEST(statuses_for_bad_requests)
{
	static const struct { const char *req; int status; } cases[] = {
		{ "get /k HTTP/1.1\r\nHost: t\r\n\r\n", -405 },
		{ "PUT /k HTTP/1.1\r\nHost: t\r\n\r\n", -405 },
		{ "DELETE /k HTTP/1.1\r\nHost: t\r\n\r\n", -405 },
		{ "GET /k HTTP/2.0\r\n\r\n", -505 },
		{ "GET /k HTTP/1.2\r\n\r\n", -505 },
		{ "GET /k FTP/1.1\r\n\r\n", -400 },
		{ "GET k HTTP/1.1\r\nHost: t\r\n\r\n", -400 },
		{ "GET / HTTP/1.1\r\nHost: t\r\n\r\n", -400 },
		{ "GET /a/b HTTP/1.1\r\nHost: t\r\n\r\n", -400 },
		{ "GET /a%20 HTTP/1.1\r\nHost: t\r\n\r\n", -400 },
		{ "GET  /k HTTP/1.1\r\nHost: t\r\n\r\n", -400 },
		{ "GET /k HTTP/1.1\nHost: x\r\n\r\n", -400 },
		{ "GET /k HTTP/1.1\r\nHost: t\r\nNoColon\r\n\r\n", -400 },
		{ "GET /k HTTP/1.1\r\nHost: t\r\n: empty\r\n\r\n", -400 },
		{ "GET /k HTTP/1.1\r\nHost: t\r\nBad Name: x\r\n\r\n", -400 },
		{ "GET /k HTTP/1.1\r\nHost: t\r\nX: a\x01" "b\r\n\r\n", -400 },
		{ "POST /k HTTP/1.1\r\nHost: t\r\n\r\n", -411 },
		{ "POST /k HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n", -501 },
		{ "POST /k HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", -501 },
		{ "GET /k HTTP/1.1\r\nHost: t\r\ntransfer-encoding: gzip\r\n\r\n", -501 },
		{ "POST /k HTTP/1.1\r\nHost: t\r\nContent-Length: -1\r\n\r\n", -400 },
		{ "POST /k HTTP/1.1\r\nHost: t\r\nContent-Length: 1x\r\n\r\n", -400 },
		{ "POST /k HTTP/1.1\r\nHost: t\r\nContent-Length:\r\n\r\n", -400 },
		{ "POST /k HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", -400 },
		{ "POST /k HTTP/1.1\r\nHost: t\r\nContent-Length: 16385\r\n\r\n", -413 },
		{ "POST /k HTTP/1.1\r\nHost: t\r\nContent-Length: 99999999999999999999999\r\n\r\n", -413 },
		{ "\r\n\nGET /k HTTP/1.1\r\nHost: t\r\n\r\n", -400 },
		{ "\nGET /k HTTP/1.1\r\nHost: t\r\n\r\n", -400 },
	};
	struct http_req req;
	unsigned int i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		EXPECT_EQ(cases[i].status, parse(cases[i].req, &req))
			TH_LOG("case %u", i);
}

TEST(empty_lines_before_the_request_line_are_skipped)
{
	const char *r = "POST /a HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc"
			"\r\nGET /a HTTP/1.1\r\nHost: t\r\n\r\n";
	struct http_req req;
	size_t used;

	ASSERT_EQ(1, parse("\r\nGET /k HTTP/1.1\r\nHost: t\r\n\r\n", &req));
	EXPECT_EQ(HTTP_GET, req.method);
	EXPECT_EQ(1, req.key_len);
	EXPECT_EQ(2 + 28, req.header_len);
	ASSERT_EQ(1, parse("\r\n\r\n\r\nPOST /k HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\nhi",
			   &req));
	EXPECT_EQ(HTTP_POST, req.method);
	EXPECT_EQ(6 + 48, req.header_len);
	EXPECT_EQ(2, req.body_len);
	/* Nothing but empty lines yet: more is needed. */
	EXPECT_EQ(0, parse("\r\n", &req));
	EXPECT_EQ(0, parse("\r\n\r", &req));
	EXPECT_EQ(0, parse("\r\n\r\n", &req));
	/* A CRLF after a body, then the next request. */
	ASSERT_EQ(1, parse(r, &req));
	used = req.header_len + req.body_len;
	ASSERT_EQ(1, parse(r + used, &req));
	EXPECT_EQ(HTTP_GET, req.method);
	EXPECT_EQ(strlen(r), used + req.header_len);
}

TEST(empty_lines_count_towards_the_head_limit)
{
	char *buf = malloc(HTTP_MAX_HEADER + 64);
	struct http_req req;
	size_t i;

	for (i = 0; i < HTTP_MAX_HEADER; i += 2)
		memcpy(buf + i, "\r\n", 2);
	strcpy(buf + HTTP_MAX_HEADER, "GET /k HTTP/1.1\r\nHost: t\r\n\r\n");
	EXPECT_EQ(-431, parse(buf, &req));
	/* Just within the limit. */
	strcpy(buf + HTTP_MAX_HEADER - 40, "GET /k HTTP/1.1\r\nHost: t\r\n\r\n");
	EXPECT_EQ(1, parse(buf, &req));
	EXPECT_EQ(HTTP_MAX_HEADER - 40 + 28, req.header_len);
	free(buf);
}

TEST(status_fields_and_reasons)
{
	EXPECT_STREQ("Allow: GET, POST\r\n", http_status_fields(405));
	EXPECT_STREQ("", http_status_fields(400));
	EXPECT_STREQ("", http_status_fields(501));
	EXPECT_STREQ("Not Implemented", http_reason(501));
	EXPECT_STREQ("Method Not Allowed", http_reason(405));
}

TEST(key_too_long_is_414)
{
	char buf[512];
	struct http_req req;

	memset(buf, 'a', sizeof(buf));
	memcpy(buf, "GET /", 5);
	strcpy(buf + 5 + HTTP_MAX_KEY, " HTTP/1.1\r\nHost: t\r\n\r\n");
	EXPECT_EQ(1, parse(buf, &req));
	strcpy(buf + 5 + HTTP_MAX_KEY + 1 - 1, "a HTTP/1.1\r\nHost: t\r\n\r\n");
	EXPECT_EQ(-414, parse(buf, &req));
	EXPECT_STREQ("URI Too Long", http_reason(414));
}

/* A line that ends in LF alone is refused at once, not waited on. */
TEST(bare_lf_is_400)
{
	struct http_req req;

	EXPECT_EQ(-400, parse("GET /k HTTP/1.1\n\n", &req));
	EXPECT_EQ(-400, parse("GET /k HTTP/1.1\r\nHost: x\n\r\n", &req));
	EXPECT_EQ(-400, parse("\nGET /k HTTP/1.1\r\nHost: t\r\n\r\n", &req));
	/* Even before the head is complete. */
	EXPECT_EQ(-400, parse("GET /k HTTP/1.1\n", &req));
	/* A body may hold anything. */
	EXPECT_EQ(1, parse("POST /k HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\n\n\n", &req));
}

TEST(del_in_a_field_value_is_400)
{
	struct http_req req;

	EXPECT_EQ(-400, parse("GET /k HTTP/1.1\r\nHost: t\r\nX-A: a\x7f" "b\r\n\r\n", &req));
	EXPECT_EQ(1, parse("GET /k HTTP/1.1\r\nHost: t\r\nX-A: a~b\r\n\r\n", &req));
}

/* Connection carries a list of options (RFC 9110 7.6.1). */
TEST(connection_is_a_list)
{
	struct http_req req;

	ASSERT_EQ(1, parse("GET /k HTTP/1.1\r\nHost: t\r\nConnection: close, TE\r\n\r\n", &req));
	EXPECT_TRUE(req.close);
	ASSERT_EQ(1, parse("GET /k HTTP/1.1\r\nHost: t\r\nConnection: TE,Close\r\n\r\n", &req));
	EXPECT_TRUE(req.close);
	ASSERT_EQ(1, parse("GET /k HTTP/1.0\r\nConnection: Upgrade , keep-alive\r\n\r\n", &req));
	EXPECT_FALSE(req.close);
	ASSERT_EQ(1, parse("GET /k HTTP/1.1\r\nHost: t\r\nConnection: closed\r\n\r\n", &req));
	EXPECT_FALSE(req.close);
}

TEST(head_too_large_is_431)
{
	char *buf = malloc(HTTP_MAX_HEADER + 100);
	struct http_req req;

	strcpy(buf, "GET /k HTTP/1.1\r\nHost: t\r\nX: ");
	memset(buf + 20, 'x', HTTP_MAX_HEADER + 50);
	buf[HTTP_MAX_HEADER + 70] = '\0';
	EXPECT_EQ(-431, parse(buf, &req));
	free(buf);
}

TEST(pipelined_requests_parse_one_at_a_time)
{
	const char *r = "POST /a HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc"
			"GET /a HTTP/1.1\r\nHost: t\r\n\r\n";
	struct http_req req;
	size_t used;

	ASSERT_EQ(1, parse(r, &req));
	used = req.header_len + req.body_len;
	ASSERT_EQ(1, parse(r + used, &req));
	EXPECT_EQ(HTTP_GET, req.method);
	EXPECT_EQ(strlen(r), used + req.header_len);
}

static uint64_t xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* Mutate valid requests: flips, cuts, inserts, splices; check invariants. */
TEST(random_fuzz_bounded)
{
	static const char *const seeds[] = {
		"GET /key HTTP/1.1\r\nHost: a\r\n\r\n",
		"POST /k HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello",
		"GET /k HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
		"POST /x HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n",
	};
	static const char alphabet[] = "\r\n :/GETPOSTHtp1.0Content-Length0123456789\x00\xff";
	uint64_t rnd = 0x9e3779b97f4a7c15ULL;
	char buf[256];
	long iters = getenv("FUZZ_ITERS") ? atol(getenv("FUZZ_ITERS")) : 300000;
	long i, complete = 0, errors = 0;

	for (i = 0; i < iters; i++) {
		const char *seed = seeds[xorshift(&rnd) % 4];
		size_t len = strlen(seed), k, nmut = 1 + xorshift(&rnd) % 4;
		struct http_req req;
		char *heap;
		int ret;

		memcpy(buf, seed, len);
		for (k = 0; k < nmut; k++) {
			size_t at = len ? xorshift(&rnd) % len : 0;

			switch (xorshift(&rnd) % 4) {
			case 0:
				buf[at] ^= 1 << (xorshift(&rnd) % 8);
				break;
			case 1:
				len = at;
				break;
			case 2:
				if (len < sizeof(buf) - 1) {
					memmove(buf + at + 1, buf + at, len - at);
					buf[at] = alphabet[xorshift(&rnd) % (sizeof(alphabet) - 1)];
					len++;
				}
				break;
			default:
				buf[at] = alphabet[xorshift(&rnd) % (sizeof(alphabet) - 1)];
				break;
			}
		}
		heap = malloc(len ? len : 1);
		memcpy(heap, buf, len);
		ret = http_parse(heap, len, &req);
		if (ret == 1) {
			complete++;
			ASSERT_LE(req.header_len, len);
			ASSERT_TRUE(req.key >= heap && req.key + req.key_len <= heap + len);
			ASSERT_LE(req.body_len, HTTP_MAX_BODY);
			ASSERT_TRUE(req.method == HTTP_GET || req.method == HTTP_POST);
		} else if (ret < 0) {
			errors++;
			ASSERT_TRUE(ret == -400 || ret == -405 || ret == -411 ||
				    ret == -413 || ret == -414 || ret == -417 ||
				    ret == -431 || ret == -501 || ret == -505)
				TH_LOG("unexpected %d", ret);
		} else {
			ASSERT_EQ(0, ret);
		}
		free(heap);
	}
	TH_LOG("%ld inputs: %ld complete, %ld rejected", iters, complete, errors);
	EXPECT_LT(0, complete);
	EXPECT_LT(0, errors);
}

TEST_HARNESS_MAIN
