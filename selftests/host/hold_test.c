// SPDX-License-Identifier: GPL-2.0
/*
 * libpaste's accounting of the buffers a server keeps for its log
 * (tools/lib/paste/hold.c), on the host kernel, which has no SIOCPASTE:
 * what must hold without a system call, and what a failed pin or release
 * must leave behind (nothing forgotten, so that nothing is lost).
 */
#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "libpaste.h"

FIXTURE(hold) {
	struct paste_holder h;
	struct paste_pins p;
	int sock;		/* a TCP socket without a region */
};

FIXTURE_SETUP(hold)
{
	memset(&self->h, 0, sizeof(self->h));
	memset(&self->p, 0, sizeof(self->p));
	self->sock = socket(AF_INET, SOCK_STREAM, 0);
	ASSERT_LE(0, self->sock);
}

FIXTURE_TEARDOWN(hold)
{
	paste_holder_free(&self->h);
	paste_pins_free(&self->p);
	close(self->sock);
}

static struct paste_ref ref(uint32_t token)
{
	return (struct paste_ref){ .token = token, .len = 100 };
}

/* Logged buffers stay with the socket: no SIOCPASTE (descriptor -1). */
TEST_F(hold, logged_buffers_are_held_without_a_call)
{
	uint32_t t;

	for (t = 0; t < 100; t++) {
		struct paste_ref r = ref(t);

		ASSERT_EQ(0, paste_hold_settle(&self->h, &self->p, -1, &r, true));
	}
	EXPECT_EQ(100, self->h.nheld);
	EXPECT_EQ(100, self->p.held);
	EXPECT_EQ(0, self->p.n);
}

/* Unlogged buffers wait for a full batch, then go back in one call. */
TEST_F(hold, unlogged_buffers_go_back_a_batch_at_a_time)
{
	struct paste_ref r = ref(1);
	uint32_t t;

	for (t = 0; t + 1 < PASTE_HOLD_BATCH; t++)
		ASSERT_EQ(0, paste_hold_settle(&self->h, &self->p, -1, &r, false));
	EXPECT_EQ(PASTE_HOLD_BATCH - 1, self->h.nrel);
	/* The batch's call fails here (no PASTE), and says so. */
	EXPECT_GT(0, paste_hold_settle(&self->h, &self->p, self->sock, &r,
				       false));
	EXPECT_EQ(0, self->h.nrel);
	EXPECT_EQ(0, self->p.held);
}

/*
 * A pin that fails (no PASTE on the socket) keeps every held buffer with
 * the holder and lists none as pinned: the caller keeps the socket open
 * until a checkpoint, and nothing is forgotten.
 */
TEST_F(hold, failed_pin_forgets_nothing)
{
	uint32_t t;

	for (t = 0; t < 10; t++) {
		struct paste_ref r = ref(t);

		ASSERT_EQ(0, paste_hold_settle(&self->h, &self->p, -1, &r, true));
	}
	EXPECT_GT(0, paste_hold_pin(&self->h, &self->p, self->sock));
	EXPECT_EQ(10, self->h.nheld);
	EXPECT_EQ(10, self->p.held);
	EXPECT_EQ(0, self->p.n);
}

/* A release that fails keeps the holder's buffers and counts. */
TEST_F(hold, failed_release_keeps_the_held_buffers)
{
	struct paste_ref r = ref(7);

	ASSERT_EQ(0, paste_hold_settle(&self->h, &self->p, -1, &r, true));
	EXPECT_GT(0, paste_hold_release(&self->h, &self->p, self->sock));
	EXPECT_EQ(1, self->h.nheld);
	EXPECT_EQ(1, self->p.held);
}

/*
 * Pinned tokens are released sorted and once each; a release that fails
 * leaves them listed for the next checkpoint.
 */
TEST_F(hold, failed_pins_release_keeps_them_listed_once)
{
	static const uint32_t tokens[] = { 9, 3, 9, 5, 3, 1 };
	unsigned int i;

	for (i = 0; i < sizeof(tokens) / sizeof(tokens[0]); i++)
		ASSERT_EQ(0, paste_pins_add(&self->p, tokens[i]));
	EXPECT_GT(0, paste_pins_release(&self->p, self->sock));
	ASSERT_EQ(4, self->p.n);
	EXPECT_EQ(1, self->p.tokens[0].token);
	EXPECT_EQ(3, self->p.tokens[1].token);
	EXPECT_EQ(5, self->p.tokens[2].token);
	EXPECT_EQ(9, self->p.tokens[3].token);
}

/*
 * Generations: a release before generation 1 keeps what was settled in
 * generation 1, and the descriptor -1 proves no call was made for it.
 */
TEST_F(hold, release_before_keeps_the_newer_generation)
{
	struct paste_ref r = ref(4);

	ASSERT_EQ(0, paste_hold_settle(&self->h, &self->p, -1, &r, true));
	ASSERT_EQ(0, paste_pins_add(&self->p, 8));
	EXPECT_EQ(1, paste_pins_new_gen(&self->p));
	r = ref(5);
	ASSERT_EQ(0, paste_hold_settle(&self->h, &self->p, -1, &r, true));
	ASSERT_EQ(0, paste_pins_add(&self->p, 9));

	/* Nothing older than generation 0: no call, nothing released. */
	EXPECT_EQ(0, paste_hold_release_before(&self->h, &self->p, -1, 0));
	EXPECT_EQ(0, paste_pins_release_before(&self->p, -1, 0));
	/* Generation 0's buffers go (the call fails here), 1's stay. */
	EXPECT_GT(0, paste_hold_release_before(&self->h, &self->p, -1, 1));
	ASSERT_EQ(2, self->h.nheld);
	EXPECT_EQ(0, self->h.held[0].gen);
	EXPECT_EQ(1, self->h.held[1].gen);
	EXPECT_EQ(2, self->p.held);
}

/* A token listed in two generations belongs to the newer one. */
TEST_F(hold, token_pinned_twice_keeps_its_newest_generation)
{
	ASSERT_EQ(0, paste_pins_add(&self->p, 3));
	paste_pins_new_gen(&self->p);
	ASSERT_EQ(0, paste_pins_add(&self->p, 3));
	EXPECT_EQ(0, paste_pins_release_before(&self->p, -1, 1));
	ASSERT_EQ(1, self->p.n);
	EXPECT_EQ(3, self->p.tokens[0].token);
	EXPECT_EQ(1, self->p.tokens[0].gen);
}

TEST_HARNESS_MAIN
