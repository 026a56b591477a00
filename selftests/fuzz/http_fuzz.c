// SPDX-License-Identifier: MIT
/*
 * libFuzzer target: pasted's HTTP parser. Every input is parsed from a heap
 * copy of exactly its size (ASan catches a read past it), then checked:
 * a complete head lies inside the input, its key inside the head, its
 * status one the parser documents; and parsing is a function of the bytes
 * (a second parse agrees).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(size ? size : 1);
	struct http_req req, again;
	int ret;

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	ret = http_parse(buf, size, &req);
	if (ret == 1) {
		check(req.header_len <= size);
		check(req.header_len <= HTTP_MAX_HEADER);
		check(req.key >= buf && req.key + req.key_len <= buf + req.header_len);
		check(req.key_len >= 1 && req.key_len <= HTTP_MAX_KEY);
		check(req.body_len <= HTTP_MAX_BODY);
		check(req.method == HTTP_GET || req.method == HTTP_POST);
		check(http_parse(buf, size, &again) == 1);
		check(again.header_len == req.header_len &&
		      again.body_len == req.body_len && again.close == req.close);
		/* The head alone parses the same: nothing after it matters. */
		check(http_parse(buf, req.header_len, &again) == 1 &&
		      again.header_len == req.header_len);
	} else if (ret < 0) {
		check(ret == -400 || ret == -405 || ret == -411 || ret == -413 ||
		      ret == -414 || ret == -417 || ret == -431 || ret == -501 ||
		      ret == -505);
		check(strcmp(http_reason(-ret), "Unknown"));
	} else {
		check(ret == 0);
	}
	free(buf);
	return 0;
}
