// SPDX-License-Identifier: GPL-2.0
/*
 * Zero-copy receive: a virtio-net queue bound to a region (SIOCPASTEBIND)
 * writes frames straight into the region's pmem pages, and
 * recvmsg(MSG_PASTE) hands the payload over where it landed.
 *
 * The VM has two extra virtio-net NICs on one QEMU hub (run-tests.sh): the
 * bound one, MAC BOUND_MAC, in this namespace, and its peer in namespace
 * PEER_NS. A child in PEER_NS is the sender, so every byte crosses QEMU's
 * device model into the bound queue.
 */
#include <dirent.h>
#include <fcntl.h>
#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <netinet/ip.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>

#include "kselftest_harness.h"
#include "paste_sock.h"

#define BOUND_MAC	"52:54:00:50:00:01"
#define PEER_MAC	"52:54:00:50:00:02"
#define MQ_MAC		"52:54:00:50:00:03"	/* 2 queues, on a host tap */
#define IOMMU_MAC	"52:54:00:50:00:04"	/* VIRTIO_F_ACCESS_PLATFORM */
#define PEER_NS		"zcpeer"
#define BOUND_IP	"10.78.0.1"
#define PEER_IP		"10.78.0.2"
#define CANARY		0xa5
#define SLOT		4096

/* Name of the interface with MAC @mac, in this namespace. */
static int ifname_of(const char *mac, char *name)
{
	char path[300], addr[32];
	struct dirent *d;
	DIR *dir = opendir("/sys/class/net");
	int found = -1;

	if (!dir)
		return -1;
	while (found && (d = readdir(dir))) {
		FILE *f;

		snprintf(path, sizeof(path), "/sys/class/net/%s/address",
			 d->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (fgets(addr, sizeof(addr), f) && !strncmp(addr, mac, 17) &&
		    strlen(d->d_name) < IFNAMSIZ) {
			strcpy(name, d->d_name);
			found = 0;
		}
		fclose(f);
	}
	closedir(dir);
	return found;
}

/* Put the peer NIC in PEER_NS and address both ends; idempotent. */
static int net_setup(char *bound)
{
	char peer[IFNAMSIZ];

	if (ifname_of(BOUND_MAC, bound))
		return -1;
	if (!ifname_of(PEER_MAC, peer)) {
		if (sh("{ [ -e /run/netns/" PEER_NS " ] || /sbin/ip netns add " PEER_NS
		       "; } && /sbin/ip link set dev %s netns " PEER_NS " && "
		       "/sbin/ip -n " PEER_NS " link set lo up && "
		       "/sbin/ip -n " PEER_NS " addr add " PEER_IP "/24 dev %s && "
		       "/sbin/ip -n " PEER_NS " link set %s up", peer, peer, peer))
			return -1;
	}
	/* Also after the bound NIC's driver was unbound and bound again. */
	if (sh("/sbin/ip addr replace " BOUND_IP "/24 dev %s && "
	       "/sbin/ip link set %s up", bound, bound))
		return -1;
	/* Wait for the link, and fill the ARP caches both ways. */
	return sh("for i in $(seq 50); do /sbin/ip netns exec " PEER_NS
		  " ping -c1 -W1 " BOUND_IP " >/dev/null 2>&1 && exit 0; "
		  "sleep 0.2; done; exit 1");
}

static int set_mtu(const char *bound, int mtu)
{
	char peer[IFNAMSIZ] = "";
	FILE *p = popen("/sbin/ip -n " PEER_NS " -o link | awk -F': ' '/" PEER_MAC
			"/ { print $2 }'", "r");

	if (!p)
		return -1;
	if (!fgets(peer, sizeof(peer), p))
		peer[0] = 0;
	pclose(p);
	peer[strcspn(peer, "\n@")] = 0;
	if (!peer[0])
		return -1;
	return sh("/sbin/ip link set %s mtu %d && /sbin/ip -n " PEER_NS
		  " link set %s mtu %d", bound, mtu, peer, mtu);
}

/*
 * In a child: a TCP connection from PEER_NS to BOUND_IP:@port, or exit
 * (10: no namespace, 11: no connection).
 */
static int peer_connect(int port, bool nodelay)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_port = htons(port) };
	int ns = open("/run/netns/" PEER_NS, O_RDONLY), fd, one = 1;

	if (ns < 0 || setns(ns, CLONE_NEWNET))
		_exit(10);
	inet_pton(AF_INET, BOUND_IP, &a.sin_addr);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (nodelay)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)))
		_exit(11);
	return fd;
}

/*
 * A child in PEER_NS that connects to @port and sends @len bytes of stream
 * @seed in writes of @chunk, @gap_us apart, then closes.
 */
static pid_t sender_paced(int port, uint32_t seed, size_t len, size_t chunk,
			  bool nodelay, unsigned int gap_us)
{
	pid_t pid = fork();
	char *buf;
	size_t off;
	int fd;

	if (pid)
		return pid;
	fd = peer_connect(port, nodelay);
	buf = malloc(chunk);
	for (off = 0; off < len; off += chunk) {
		size_t n = len - off < chunk ? len - off : chunk;

		stream_fill(seed, off, buf, n);
		if (send_all(fd, buf, n))
			_exit(12);
		if (gap_us)
			usleep(gap_us);
	}
	close(fd);
	_exit(0);
}

static pid_t sender(int port, uint32_t seed, size_t len, size_t chunk,
		    bool nodelay)
{
	return sender_paced(port, seed, len, chunk, nodelay, 0);
}

static int wait_child(pid_t pid)
{
	int st;

	if (waitpid(pid, &st, 0) != pid)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static int listener_on(const char *ip, int *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t alen = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0), rcvbuf = 4 << 20;

	/*
	 * Each segment is charged a page: with the default buffer, TCP would
	 * collapse a queue of 40 KiB, copying it, before the test reads it.
	 */
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	inet_pton(AF_INET, ip, &a.sin_addr);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) ||
	    listen(fd, 16) || getsockname(fd, (struct sockaddr *)&a, &alen))
		return -1;
	*port = ntohs(a.sin_port);
	return fd;
}

static int bind_rxq(int sock, const char *ifname, unsigned int queue)
{
	struct paste_rxq_bind b = {
		.ifindex = if_nametoindex(ifname),
		.queue = queue,
	};

	return ioctl(sock, SIOCPASTEBIND, &b);
}

/* The unbind of a closed socket runs from a work item: wait for it. */
static int bind_rxq_wait(int sock, const char *ifname)
{
	int i, err;

	for (i = 0; i < 100; i++) {
		err = bind_rxq(sock, ifname, 0);
		if (!err || errno != EBUSY)
			return err;
		usleep(20000);
	}
	return err;
}

/*
 * Wait until nobody holds the region of @ino: it is gone from
 * /proc/net/paste, or listed as draining. Return: 0, or -1 after 3 s.
 */
static int wait_region_released(unsigned long ino)
{
	char line[256], pat[32];
	int i, held;

	snprintf(pat, sizeof(pat), "\t%lu\t", ino);
	for (i = 0; i < 300; i++) {
		FILE *f = fopen("/proc/net/paste", "r");

		if (!f)
			return -1;
		held = 0;
		while (fgets(line, sizeof(line), f))
			held |= strstr(line, pat) && !strstr(line, "draining");
		fclose(f);
		if (!held)
			return 0;
		usleep(10000);
	}
	return -1;
}

/* Wait until no region of @ino is listed any more. */
static int wait_region_gone(unsigned long ino)
{
	int i;

	for (i = 0; i < 300; i++) {
		if (!proc_paste_regions_of(ino))
			return 0;
		usleep(10000);
	}
	return -1;
}

/* One TCP segment the device wrote into a slot. */
struct seg {
	uint32_t seq;
	uint64_t off;	/* file offset of its payload */
	uint32_t len;
};

static int seg_cmp(const void *a, const void *b)
{
	const struct seg *x = a, *y = b;

	return (int32_t)(x->seq - y->seq);
}

/*
 * Parse every slot the device wrote (the canary is gone) as Ethernet, IPv4
 * and TCP to local port @port; collect the payloads. The virtio-net header
 * is not in the slot: the driver posts it in kernel memory.
 */
static int find_segments(const unsigned char *map, size_t len, int port,
			 struct seg *segs, int max)
{
	size_t s;
	int n = 0;

	for (s = 0; s < len; s += SLOT) {
		const unsigned char *f = map + s;
		const struct iphdr *ip = (const void *)(f + 14);
		const struct tcphdr *th;
		uint32_t ihl, doff, plen;

		if (map[s + 12] == CANARY)
			continue;
		if (f[12] != 0x08 || f[13] != 0x00 || ip->protocol != IPPROTO_TCP)
			continue;
		ihl = ip->ihl * 4;
		th = (const void *)((const char *)ip + ihl);
		if (ntohs(th->dest) != port)
			continue;
		doff = th->doff * 4;
		plen = ntohs(ip->tot_len) - ihl - doff;
		if (!plen || n == max)
			continue;
		segs[n].seq = ntohl(th->seq);
		segs[n].off = s + 14 + ihl + doff;
		segs[n].len = plen;
		n++;
	}
	qsort(segs, n, sizeof(*segs), seg_cmp);
	return n;
}

/* Called as a stream arrives, with the bytes so far; non-zero stops it. */
typedef int (*progress_fn)(size_t got, void *arg);

/*
 * Receive @len bytes of stream @seed from @sock as references, check each
 * against the stream and release it, calling @progress (if set) after
 * each receive. The first @max_out references are stored at @out.
 * Return: the number of references, or < 0.
 */
static int recv_stream_progress(int sock, const char *map, uint32_t seed,
				size_t len, struct paste_ref *out, int max_out,
				progress_fn progress, void *arg)
{
	struct paste_ref refs[256];
	size_t got = 0;
	int nrefs = 0;

	while (got < len) {
		unsigned int n, i;
		ssize_t r = paste_recv(sock, refs, 256, &n, 0);

		if (r < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (r <= 0)
			return -1;
		for (i = 0; i < n; i++) {
			if (!ref_matches(map, &refs[i], seed, got))
				return -2;
			got += refs[i].len;
			if (nrefs < max_out)
				out[nrefs] = refs[i];
			nrefs++;
		}
		if (paste_ioc(sock, PASTE_IOC_RELEASE, refs, n) != (int)n)
			return -3;
		if (progress && progress(got, arg))
			return -4;
	}
	return nrefs;
}

static int recv_stream(int sock, const char *map, uint32_t seed, size_t len,
		       struct paste_ref *out, int max_out)
{
	return recv_stream_progress(sock, map, seed, len, out, max_out, NULL,
				    NULL);
}

FIXTURE(zc) {
	char ifname[IFNAMSIZ];
	struct region reg;
	int lsn, port;
};

FIXTURE_SETUP(zc)
{
	ASSERT_EQ(0, net_setup(self->ifname))
		TH_LOG("no NIC " BOUND_MAC " reachable from " PEER_NS);
	self->reg.fd = -1;
	ASSERT_EQ(0, region_open(&self->reg, "zc", 4 << 20, false));
	memset(self->reg.map, CANARY, self->reg.len);
	self->lsn = listener_on(BOUND_IP, &self->port);
	ASSERT_LE(0, self->lsn);
	ASSERT_EQ(0, region_attach(self->lsn, &self->reg, 0));
	ASSERT_EQ(0, set_mtu(self->ifname, 1500));
	ASSERT_EQ(0, bind_rxq_wait(self->lsn, self->ifname))
		TH_LOG("SIOCPASTEBIND %s: %s", self->ifname, strerror(errno));
}

FIXTURE_TEARDOWN(zc)
{
	if (self->lsn >= 0)
		close(self->lsn);
	region_close(&self->reg);
}

/*
 * The bytes are in the slots, after the headers the device wrote, before
 * any recvmsg; then the references point exactly there and nothing is
 * copied.
 */
TEST_F(zc, device_places_payload_in_slots)
{
	/* Within the receive window: all of it queues before recvmsg. */
	const size_t len = 40 << 10;
	struct seg *segs = calloc(1024, sizeof(*segs));
	struct paste_ref *refs = calloc(1024, sizeof(*refs));
	long long copied0, zc0;
	int srv, n, nrefs, i;
	uint64_t off = 0;
	pid_t pid;

	pid = sender(self->port, 7, len, 1000, false);
	srv = accept(self->lsn, NULL, NULL);
	ASSERT_LE(0, srv);
	ASSERT_EQ(0, wait_child(pid));
	ASSERT_EQ((int)len, wait_inq(srv, len));

	n = find_segments((unsigned char *)self->reg.map, self->reg.len,
			  self->port, segs, 1024);
	ASSERT_LT(0, n);
	for (i = 0; i < n; i++) {
		uint32_t j;

		EXPECT_EQ(segs[0].seq + off, segs[i].seq)
			TH_LOG("segment %d does not follow on", i);
		for (j = 0; j < segs[i].len; j++)
			if ((unsigned char)self->reg.map[segs[i].off + j] !=
			    stream_byte(7, off + j))
				break;
		ASSERT_EQ(segs[i].len, j)
			TH_LOG("segment %d: byte %u is not the stream's", i, j);
		off += segs[i].len;
	}
	ASSERT_EQ(len, off) TH_LOG("the device placed %llu of %zu bytes",
				   (unsigned long long)off, len);

	copied0 = proc_paste_counter("PasteBytesCopied");
	zc0 = proc_paste_counter("PasteBytesZeroCopy");
	nrefs = recv_stream(srv, self->reg.map, 7, len, refs, 1024);
	ASSERT_EQ(n, nrefs);
	for (i = 0; i < n; i++) {
		EXPECT_EQ(segs[i].off, refs[i].offset);
		EXPECT_EQ(segs[i].len, refs[i].len);
		EXPECT_EQ(segs[i].off / SLOT, refs[i].token);
	}
	EXPECT_EQ(copied0, proc_paste_counter("PasteBytesCopied"));
	EXPECT_EQ(zc0 + (long long)len, proc_paste_counter("PasteBytesZeroCopy"));
	close(srv);
	free(segs);
	free(refs);
}

/* After release, close and unbind, every slot is free again. */
TEST_F(zc, slots_come_back_after_unbind)
{
	struct paste_sock_info info;
	int keep, srv, i;
	pid_t pid;

	keep = socket(AF_INET, SOCK_STREAM, 0);
	ASSERT_EQ(0, region_attach(keep, &self->reg, 0));
	ASSERT_EQ(0, paste_info(keep, &info));
	EXPECT_LT(0, info.slots_rx) TH_LOG("nothing posted to the ring");

	pid = sender(self->port, 9, 128 << 10, 4096, false);
	srv = accept(self->lsn, NULL, NULL);
	ASSERT_LE(0, srv);
	ASSERT_LT(0, recv_stream(srv, self->reg.map, 9, 128 << 10, NULL, 0));
	ASSERT_EQ(0, wait_child(pid));
	close(srv);
	close(self->lsn);
	self->lsn = -1;

	for (i = 0; i < 500; i++) {
		ASSERT_EQ(0, paste_info(keep, &info));
		if (info.slots_free == info.nr_slots)
			break;
		usleep(10000);
	}
	EXPECT_EQ(0, info.slots_rx);
	EXPECT_EQ(info.nr_slots, info.slots_free);
	close(keep);
}

/* Bytes that arrive another way (loopback) are copied, and counted so. */
TEST_F(zc, loopback_is_copied)
{
	struct sockaddr_storage ss;
	long long copied0, zc0;
	socklen_t sslen;
	int lo, cli, srv;
	char buf[8192];

	lo = tcp_listener(AF_INET, &ss, &sslen);
	ASSERT_LE(0, lo);
	ASSERT_EQ(0, region_attach(lo, &self->reg, 0));
	ASSERT_EQ(0, tcp_pair(lo, &ss, sslen, &cli, &srv));
	stream_fill(3, 0, buf, sizeof(buf));
	copied0 = proc_paste_counter("PasteBytesCopied");
	zc0 = proc_paste_counter("PasteBytesZeroCopy");
	ASSERT_EQ(0, send_all(cli, buf, sizeof(buf)));
	ASSERT_LT(0, recv_stream(srv, self->reg.map, 3, sizeof(buf), NULL, 0));
	EXPECT_EQ(copied0 + (long long)sizeof(buf),
		  proc_paste_counter("PasteBytesCopied"));
	EXPECT_EQ(zc0, proc_paste_counter("PasteBytesZeroCopy"));
	close(cli);
	close(srv);
	close(lo);
}

/*
 * Copied fragments of a region with a device bound fill one buffer, as
 * without a device: each 1-byte fragment used to take a buffer.
 */
TEST_F(zc, loopback_small_segments_share_a_buffer)
{
	struct sockaddr_storage ss;
	struct paste_ref refs[256];
	socklen_t sslen;
	int lo, cli, srv;
	unsigned int n;

	lo = tcp_listener(AF_INET, &ss, &sslen);
	ASSERT_LE(0, lo);
	ASSERT_EQ(0, region_attach(lo, &self->reg, 0));
	ASSERT_EQ(0, tcp_pair(lo, &ss, sslen, &cli, &srv));
	ASSERT_EQ(0, send_segments(cli, 4, 200, 1));
	ASSERT_EQ(200, wait_inq_for(srv, 200, 30));
	ASSERT_EQ(200, paste_recv(srv, refs, 256, &n, 0));
	ASSERT_EQ(1, n) TH_LOG("200 one-byte segments took %u buffers", n);
	EXPECT_EQ(200, refs[0].len);
	EXPECT_TRUE(ref_matches(self->reg.map, &refs[0], 4, 0));
	close(cli);
	close(srv);
	close(lo);
}

/* Tiny segments lose nothing, whichever way each is placed. */
TEST_F(zc, small_messages_arrive_intact)
{
	const size_t len = 7 * 1500;
	int srv;
	pid_t pid;

	pid = sender(self->port, 11, len, 7, true);
	srv = accept(self->lsn, NULL, NULL);
	ASSERT_LE(0, srv);
	ASSERT_LT(0, recv_stream(srv, self->reg.map, 11, len, NULL, 0));
	ASSERT_EQ(0, wait_child(pid));
	close(srv);
}

/*
 * With references held the region runs dry: the ring gets ordinary pages,
 * recvmsg reports ENOBUFS, and after release every byte still arrives.
 */
TEST_F(zc, exhausted_region_falls_back)
{
	const size_t len = 8 << 20;
	struct paste_ref refs[256], *held;
	long long fallback0;
	size_t got = 0;
	unsigned int nheld = 0, n, i;
	bool full = false;
	int srv;
	pid_t pid;

	held = calloc(self->reg.len / SLOT, sizeof(*held));
	fallback0 = proc_paste_counter("PasteRxFallback");
	pid = sender(self->port, 13, len, 65536, false);
	srv = accept(self->lsn, NULL, NULL);
	ASSERT_LE(0, srv);
	while (got < len) {
		ssize_t r = paste_recv(srv, refs, 256, &n, 0);

		if (r < 0 && errno == ENOBUFS) {
			full = true;
			ASSERT_EQ((int)nheld, paste_ioc(srv, PASTE_IOC_RELEASE,
							held, nheld));
			nheld = 0;
			continue;
		}
		ASSERT_LT(0, r) TH_LOG("recvmsg: %s", strerror(errno));
		for (i = 0; i < n; i++) {
			ASSERT_TRUE(ref_matches(self->reg.map, &refs[i], 13, got));
			got += refs[i].len;
			held[nheld++] = refs[i];
		}
		/* Hold everything until the region is full, then release. */
		if (full && nheld) {
			ASSERT_EQ((int)nheld, paste_ioc(srv, PASTE_IOC_RELEASE,
							held, nheld));
			nheld = 0;
		}
	}
	EXPECT_TRUE(full) TH_LOG("the region never ran out");
	EXPECT_LT(fallback0, proc_paste_counter("PasteRxFallback"));
	ASSERT_EQ(0, wait_child(pid));
	close(srv);
	free(held);
}

struct unbind_at {
	int *lsn;
	size_t at;
	long long zc;
};

static int close_binding(size_t got, void *arg)
{
	struct unbind_at *u = arg;

	if (*u->lsn >= 0 && got > u->at) {
		close(*u->lsn);
		*u->lsn = -1;
		u->zc = proc_paste_counter("PasteBytesZeroCopy");
	}
	return 0;
}

/* Closing the binding socket mid-stream unbinds; the stream goes on. */
TEST_F(zc, unbind_under_load_loses_nothing)
{
	const size_t len = 4 << 20;
	struct unbind_at u = { .lsn = &self->lsn, .at = len / 4, .zc = -1 };
	long long zc0;
	int srv;
	pid_t pid;

	zc0 = proc_paste_counter("PasteBytesZeroCopy");
	pid = sender(self->port, 17, len, 65536, false);
	srv = accept(self->lsn, NULL, NULL);
	ASSERT_LE(0, srv);
	ASSERT_LT(0, recv_stream_progress(srv, self->reg.map, 17, len, NULL, 0,
					  close_binding, &u));
	EXPECT_LT(zc0, u.zc) TH_LOG("nothing was zero-copy before unbind");
	ASSERT_EQ(0, wait_child(pid));
	close(srv);
}

/* Frames larger than a page span two slots (or a slot and a page). */
TEST_F(zc, jumbo_frames_span_slots)
{
	const size_t len = 1 << 20;
	long long zc0;
	int srv;
	pid_t pid;

	ASSERT_EQ(0, set_mtu(self->ifname, 6000));
	zc0 = proc_paste_counter("PasteBytesZeroCopy");
	pid = sender(self->port, 19, len, 65536, false);
	srv = accept(self->lsn, NULL, NULL);
	EXPECT_LE(0, srv);
	if (srv >= 0)
		EXPECT_LT(0, recv_stream(srv, self->reg.map, 19, len, NULL, 0));
	EXPECT_EQ(0, wait_child(pid));
	EXPECT_LT(zc0, proc_paste_counter("PasteBytesZeroCopy"));
	ASSERT_EQ(0, set_mtu(self->ifname, 1500));
	close(srv);
}

/*
 * The MTU changes while a stream is in flight: 9000-byte frames (three
 * slots each) keep arriving after this side went down to 1500, then the
 * sender's side follows and TCP shrinks its segments. Every byte arrives,
 * once, in order.
 */
struct mtu_steps {
	const char *ifname;
	size_t len, next;
	int step;
};

/* At each quarter: this side to 1500, both to 1500, both to 9000. */
static int change_mtu(size_t got, void *arg)
{
	struct mtu_steps *m = arg;

	if (got < m->next)
		return 0;
	m->next += m->len / 4;
	if (m->step++ == 0)	/* this side only: big frames keep coming */
		return sh("/sbin/ip link set %s mtu 1500", m->ifname);
	return set_mtu(m->ifname, m->step == 2 ? 1500 : 9000);
}

TEST_F(zc, mtu_change_under_load)
{
	const size_t len = 8 << 20;
	struct mtu_steps m = { .ifname = self->ifname, .len = len,
			       .next = len / 4 };
	long long zc0;
	int srv;
	pid_t pid;

	ASSERT_EQ(0, set_mtu(self->ifname, 9000));
	zc0 = proc_paste_counter("PasteBytesZeroCopy");
	pid = sender(self->port, 47, len, 65536, false);
	srv = accept(self->lsn, NULL, NULL);
	ASSERT_LE(0, srv);
	EXPECT_LT(0, recv_stream_progress(srv, self->reg.map, 47, len, NULL, 0,
					  change_mtu, &m));
	EXPECT_EQ(4, m.step);
	EXPECT_EQ(0, wait_child(pid));
	EXPECT_LT(zc0, proc_paste_counter("PasteBytesZeroCopy"));
	ASSERT_EQ(0, set_mtu(self->ifname, 1500));
	close(srv);
}

/*
 * A receive buffer far too small for a page per segment makes TCP drop
 * and prune what it has queued: segments are retransmitted and arrive out
 * of order, each time in new slots. Every byte still arrives, once.
 */
TEST_F(zc, drops_and_retransmits_lose_nothing)
{
	const size_t len = 2 << 20;
	long long drops0, ofo0, drops, ofo;
	int srv, rcvbuf = 8192;
	pid_t pid;

	drops0 = tcpext_counter("TCPRcvQDrop") + tcpext_counter("PruneCalled") +
		 tcpext_counter("RcvPruned");
	ofo0 = tcpext_counter("TCPOFOQueue");
	pid = sender(self->port, 37, len, 65536, false);
	srv = accept(self->lsn, NULL, NULL);
	ASSERT_LE(0, srv);
	ASSERT_EQ(0, setsockopt(srv, SOL_SOCKET, SO_RCVBUF, &rcvbuf,
				sizeof(rcvbuf)));
	usleep(300000);
	ASSERT_LT(0, recv_stream(srv, self->reg.map, 37, len, NULL, 0));
	ASSERT_EQ(0, wait_child(pid));
	drops = tcpext_counter("TCPRcvQDrop") + tcpext_counter("PruneCalled") +
		tcpext_counter("RcvPruned") - drops0;
	ofo = tcpext_counter("TCPOFOQueue") - ofo0;
	TH_LOG("receive queue drops and prunes %lld, out-of-order queued %lld",
	       drops, ofo);
	EXPECT_LT(0, drops + ofo) TH_LOG("TCP dropped nothing: no retransmit");
	close(srv);
}

/* Wait until the region of @sock has every slot free; its info. */
static struct paste_sock_info wait_all_free(int sock)
{
	struct paste_sock_info info = {};
	int i;

	for (i = 0; i < 500; i++) {
		if (paste_info(sock, &info))
			break;
		if (info.slots_free == info.nr_slots)
			break;
		usleep(10000);
	}
	return info;
}

/*
 * A socket without a region on the bound NIC receives as usual (its bytes
 * were in region slots), and a connection closed with unread data in such
 * slots leaks none of them.
 */
TEST_F(zc, plain_socket_and_unread_close)
{
	const size_t len = 1 << 20;
	struct paste_sock_info info;
	char *buf = malloc(65536);
	size_t got = 0;
	int plain, port, srv, keep;
	pid_t pid;

	plain = listener_on(BOUND_IP, &port);
	ASSERT_LE(0, plain);
	pid = sender(port, 23, len, 65536, false);
	srv = accept(plain, NULL, NULL);
	ASSERT_LE(0, srv);
	while (got < len) {
		ssize_t n = recv(srv, buf, 65536, 0);
		size_t i;

		ASSERT_LT(0, n);
		for (i = 0; i < (size_t)n; i++)
			ASSERT_EQ(stream_byte(23, got + i), (unsigned char)buf[i]);
		got += n;
	}
	ASSERT_EQ(0, wait_child(pid));
	close(srv);

	/* 64 KiB queued in region slots, then closed unread. */
	pid = sender(self->port, 29, 64 << 10, 65536, false);
	srv = accept(self->lsn, NULL, NULL);
	ASSERT_LE(0, srv);
	EXPECT_LT(0, wait_inq(srv, 1));
	ASSERT_EQ(0, wait_child(pid));
	close(srv);

	keep = socket(AF_INET, SOCK_STREAM, 0);
	ASSERT_EQ(0, region_attach(keep, &self->reg, 0));
	close(self->lsn);
	self->lsn = -1;
	info = wait_all_free(keep);
	EXPECT_EQ(0, info.slots_rx);
	EXPECT_EQ(info.nr_slots, info.slots_free);
	close(keep);
	close(plain);
	free(buf);
}

static int stop_after(size_t got, void *arg)
{
	return got >= *(size_t *)arg;
}

/*
 * Hand the pages [@first, @first + @n) of @map to @pipe_w with vmsplice(),
 * a page per pipe buffer: the pipe then holds a reference on each.
 */
static int vmsplice_pages(int pipe_w, const char *map, size_t first, size_t n)
{
	size_t done = 0;

	while (done < n) {
		struct iovec iov = {
			.iov_base = (void *)(map + (first + done) * SLOT),
			.iov_len = (n - done) * SLOT,
		};
		ssize_t r = vmsplice(pipe_w, &iov, 1, 0);

		if (r <= 0 || r % SLOT)
			return -1;
		done += r / SLOT;
	}
	return 0;
}

/*
 * A child that connects to @ss and sends pages [0, @npages) of a
 * read-only mapping of @reg's file, spliced from it: the skbs point at
 * the region's pages, posted ones included, as a local user with read
 * access to the file can make them.
 */
static pid_t splice_sender(const struct region *reg,
			   const struct sockaddr_storage *ss, socklen_t sslen,
			   size_t npages)
{
	const size_t batch = 16;	/* a default pipe's buffers */
	pid_t pid = fork();
	int fd, p[2];
	size_t i;
	char *ro;

	if (pid)
		return pid;
	fd = tcp_connect(ss, sslen);
	ro = mmap(NULL, npages * SLOT, PROT_READ, MAP_SHARED, reg->fd, 0);
	if (fd < 0 || ro == MAP_FAILED || pipe(p))
		_exit(10);
	for (i = 0; i < npages; i += batch) {
		ssize_t left = batch * SLOT;

		if (vmsplice_pages(p[1], ro, i, batch))
			_exit(11);
		while (left > 0) {
			ssize_t r = splice(p[0], NULL, fd, NULL, left, 0);

			if (r <= 0)
				_exit(12);
			left -= r;
		}
	}
	close(fd);
	_exit(0);
}

/*
 * Only a slot the bound device filled is handed over in place. The pages
 * of slots posted to the ring, spliced into a loopback connection from a
 * read-only mapping, are copied: had the server been given them, the
 * device would write the next frames into bytes it holds.
 */
TEST_F(zc, posted_slots_spliced_in_are_copied)
{
	const size_t npages = 384, len = npages * SLOT;
	struct paste_ref refs[256], *held;
	struct sockaddr_storage ss;
	unsigned int nheld = 0, n, i;
	socklen_t sslen;
	long long zc0;
	size_t got = 0;
	int lo, srv, peer;
	pid_t pid;

	held = calloc(2 * npages, sizeof(*held));
	lo = tcp_listener(AF_INET, &ss, &sslen);
	ASSERT_LE(0, lo);
	ASSERT_EQ(0, region_attach(lo, &self->reg, 0));
	pid = splice_sender(&self->reg, &ss, sslen, npages);
	srv = accept(lo, NULL, NULL);
	ASSERT_LE(0, srv);
	zc0 = proc_paste_counter("PasteBytesZeroCopy");
	while (got < len) {
		ssize_t r = paste_recv(srv, refs, 256, &n, 0);

		ASSERT_LT(0, r) TH_LOG("recvmsg: %s", strerror(errno));
		for (i = 0; i < n && nheld < 2 * npages; i++) {
			got += refs[i].len;
			held[nheld++] = refs[i];
		}
	}
	ASSERT_EQ(0, wait_child(pid));
	EXPECT_EQ(zc0, proc_paste_counter("PasteBytesZeroCopy"))
		TH_LOG("spliced region pages were handed over in place");

	/* Frames from the device now fill the posted slots. */
	pid = sender(self->port, 37, 1 << 20, 65536, false);
	peer = accept(self->lsn, NULL, NULL);
	ASSERT_LE(0, peer);
	ASSERT_LT(0, recv_stream(peer, self->reg.map, 37, 1 << 20, NULL, 0));
	ASSERT_EQ(0, wait_child(pid));
	for (i = 0; i < nheld; i++) {
		const unsigned char *b = (void *)(self->reg.map + held[i].offset);
		uint32_t j;

		for (j = 0; j < held[i].len && b[j] == CANARY; j++)
			;
		ASSERT_EQ(held[i].len, j)
			TH_LOG("reference %u (slot %llu) was overwritten at %u",
			       i, (unsigned long long)held[i].token, j);
	}
	close(peer);
	close(srv);
	close(lo);
	free(held);
}

/*
 * Free slots whose pages a pipe still holds are not reused, but do not
 * make the region look exhausted either: a copying receive finds one of
 * the idle slots behind them. It used to give up after 8 busy ones.
 */
TEST_F(zc, busy_free_slots_do_not_exhaust_region)
{
	const size_t per_pipe = 252, npipes = 4, idle = 16;
	size_t nslots = self->reg.len / SLOT;
	struct sockaddr_storage ss;
	struct paste_ref ref;
	int lo, cli, srv, p[4][2];
	socklen_t sslen;
	unsigned int n;
	size_t k;

	ASSERT_EQ(nslots - idle, per_pipe * npipes);
	for (k = 0; k < npipes; k++) {
		ASSERT_EQ(0, pipe(p[k]));
		ASSERT_LE((int)(per_pipe * SLOT),
			  fcntl(p[k][1], F_SETPIPE_SZ, 256 * SLOT));
		ASSERT_EQ(0, vmsplice_pages(p[k][1], self->reg.map,
					    k * per_pipe, per_pipe));
	}
	lo = tcp_listener(AF_INET, &ss, &sslen);
	ASSERT_LE(0, lo);
	ASSERT_EQ(0, region_attach(lo, &self->reg, 0));
	ASSERT_EQ(0, tcp_pair(lo, &ss, sslen, &cli, &srv));
	ASSERT_EQ(0, send_all(cli, "request", 7));
	ASSERT_EQ(7, wait_inq(srv, 7));
	ASSERT_EQ(7, paste_recv(srv, &ref, 1, &n, 0))
		TH_LOG("recvmsg: %s with %zu idle slots", strerror(errno), idle);
	EXPECT_LE(nslots - idle, ref.token) TH_LOG("a busy slot was reused");
	for (k = 0; k < npipes; k++) {
		close(p[k][0]);
		close(p[k][1]);
	}
	close(cli);
	close(srv);
	close(lo);
}

/* ftruncate(@fd) in a child, which gets @secs to return; its errno. */
static int truncate_within(int fd, off_t len, int secs)
{
	pid_t pid = fork();
	int st;

	if (!pid) {
		alarm(secs);
		_exit(ftruncate(fd, len) ? errno : 0);
	}
	if (waitpid(pid, &st, 0) != pid)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -WTERMSIG(st);
}

/*
 * A plain (non-PASTE) socket on the bound NIC with @len bytes of stream
 * @seed queued unread, in region pages. Return: the accepted socket (its
 * listener in *@plain), or -1.
 */
static int plain_socket_unread(uint32_t seed, size_t len, int *plain)
{
	int port, srv;
	pid_t pid;

	*plain = listener_on(BOUND_IP, &port);
	if (*plain < 0)
		return -1;
	pid = sender(port, seed, len, 65536, false);
	srv = accept(*plain, NULL, NULL);
	if (srv < 0 || wait_inq_for(srv, len, 30) != (int)len ||
	    wait_child(pid))
		return -1;
	return srv;
}

/* Read @len bytes: where they first differ from stream @seed, @len if nowhere. */
static ssize_t stream_mismatch(int fd, uint32_t seed, size_t len)
{
	unsigned char *buf = malloc(len);
	size_t got = 0, i;

	if (!buf)
		return -1;
	while (got < len) {
		ssize_t n = recv(fd, buf + got, len - got, 0);

		if (n <= 0) {
			free(buf);
			return -1;
		}
		got += n;
	}
	for (i = 0; i < len && buf[i] == stream_byte(seed, i); i++)
		;
	free(buf);
	return i;
}

/*
 * A plain socket on the bound NIC leaves 64 KiB unread in region pages
 * when the region's last socket goes: the region drains, keeping its pins,
 * layout lock and file, until those pages are idle. A new region on the
 * range is refused meanwhile (it used to be created, and copy another
 * stream into pages the plain socket had still to read), a truncate fails
 * at once instead of waiting on the pages, and the plain socket reads
 * exactly what its peer sent.
 */
TEST_F(zc, region_drains_until_foreign_skbs_are_read)
{
	const size_t len = 64 << 10, lo_len = 1 << 20;
	int plain, srv, lo, cli, lsrv, again, err;
	struct sockaddr_storage ss;
	socklen_t sslen;
	struct stat st;
	pid_t pid;

	ASSERT_EQ(0, fstat(self->reg.fd, &st));
	srv = plain_socket_unread(41, len, &plain);
	ASSERT_LE(0, srv);

	close(self->lsn);
	self->lsn = -1;
	/* The unbind and the last put run from work items. */
	EXPECT_EQ(0, wait_region_released(st.st_ino));
	again = socket(AF_INET, SOCK_STREAM, 0);
	EXPECT_EQ(-1, region_attach(again, &self->reg, 0))
		TH_LOG("a region was created over pages still in skbs");
	EXPECT_EQ(EBUSY, errno);
	EXPECT_EQ(1, proc_paste_regions_of(st.st_ino));
	if (!region_attach(again, &self->reg, 0)) {
		/* What the new region would do: copy into those pages. */
		lo = tcp_listener(AF_INET, &ss, &sslen);
		ASSERT_EQ(0, region_attach(lo, &self->reg, 0));
		ASSERT_EQ(0, tcp_pair(lo, &ss, sslen, &cli, &lsrv));
		pid = fork();
		if (!pid)
			_exit(send_segments(cli, 43, lo_len, 1448) ? 1 : 0);
		EXPECT_LT(0, recv_stream(lsrv, self->reg.map, 43, lo_len,
					 NULL, 0));
		EXPECT_EQ(0, wait_child(pid));
		close(cli);
		close(lsrv);
		close(lo);
	}
	close(again);

	err = truncate_within(self->reg.fd, self->reg.len / 2, 5);
	EXPECT_EQ(ETXTBSY, err)
		TH_LOG("ftruncate of a draining region's file: %d", err);

	EXPECT_EQ((ssize_t)len, stream_mismatch(srv, 41, len))
		TH_LOG("the plain socket read a wrong byte");
	close(srv);
	close(plain);
	EXPECT_EQ(0, wait_region_gone(st.st_ino))
		TH_LOG("the region still drains with its pages idle");
	again = socket(AF_INET, SOCK_STREAM, 0);
	EXPECT_EQ(0, region_attach(again, &self->reg, 0));
	close(again);
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * A process that writes over the first @n bytes of every slot of @map for
 * @ms milliseconds: @pat if set, else pseudo-random bytes. It stands for
 * any user who may write the region's file.
 */
static pid_t slot_writer(char *map, size_t len, const unsigned char *pat,
			 size_t n, long ms)
{
	pid_t pid = fork();
	uint32_t x = 12345;
	size_t s, i;
	long end;

	if (pid)
		return pid;
	end = now_ms() + ms;
	while (now_ms() < end) {
		for (s = 0; s < len; s += SLOT) {
			if (pat) {
				memcpy(map + s, pat, n);
				continue;
			}
			for (i = 0; i < n; i++) {
				x = x * 1103515245 + 12345;
				map[s + i] = x >> 24;
			}
		}
	}
	_exit(0);
}

/* The UDP checksum of @udp (@len bytes, checksum field 0) from @src to @dst. */
static uint16_t udp4_csum(struct in_addr src, struct in_addr dst,
			  const unsigned char *udp, size_t len)
{
	uint32_t s = ntohl(src.s_addr), d = ntohl(dst.s_addr);
	uint32_t sum = (s >> 16) + (s & 0xffff) + (d >> 16) + (d & 0xffff) +
		       IPPROTO_UDP + len;
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += udp[i] << 8 | udp[i + 1];
	if (len & 1)
		sum += udp[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	sum = ~sum & 0xffff;
	return htons(sum ? sum : 0xffff);
}

/*
 * A child in PEER_NS that sends @count UDP datagrams to @port through a
 * raw socket, @gap_us apart, each "good N" with its checksum or "bad N"
 * with a wrong one.
 */
static pid_t udp_sender(int port, int count, bool good, unsigned int gap_us)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	unsigned char d[8 + 64];
	struct in_addr src, dst;
	pid_t pid = fork();
	int ns, fd, i;
	uint16_t c;

	if (pid)
		return pid;
	ns = open("/run/netns/" PEER_NS, O_RDONLY);
	if (ns < 0 || setns(ns, CLONE_NEWNET))
		_exit(10);
	fd = socket(AF_INET, SOCK_RAW, IPPROTO_UDP);
	if (fd < 0)
		_exit(11);
	inet_pton(AF_INET, PEER_IP, &src);
	inet_pton(AF_INET, BOUND_IP, &dst);
	a.sin_addr = dst;
	for (i = 0; i < count; i++) {
		memset(d, 0, sizeof(d));
		d[0] = 0x9c, d[1] = 0x40;	/* source port 40000 */
		d[2] = port >> 8, d[3] = port & 0xff;
		d[5] = sizeof(d);
		snprintf((char *)d + 8, 64, "%s %d", good ? "good" : "bad", i);
		c = udp4_csum(src, dst, d, sizeof(d));
		if (!good)
			c ^= htons(0x0101);
		memcpy(d + 6, &c, 2);
		if (sendto(fd, d, sizeof(d), 0, (struct sockaddr *)&a,
			   sizeof(a)) != sizeof(d))
			_exit(12);
		if (gap_us)
			usleep(gap_us);
	}
	_exit(0);
}

/* Datagrams waiting on @fd, in @ms at most; each one's text in @last. */
static int udp_drain(int fd, long ms, char *last, size_t size)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	long end = now_ms() + ms;
	int n = 0;
	ssize_t r;

	while (now_ms() < end && poll(&p, 1, 50) >= 0) {
		while ((r = recv(fd, last, size - 1, MSG_DONTWAIT)) > 0) {
			last[r] = 0;
			n++;
		}
	}
	return n;
}

/*
 * The virtio-net header is the device's word to the driver (how many
 * buffers a frame spans, whether its checksum was checked): it must not
 * lie where another writer of the file can forge it before NAPI reads
 * it. A process writes a header claiming a checked checksum
 * (VIRTIO_NET_HDR_F_DATA_VALID, one buffer) over the start of every slot
 * while the peer sends UDP datagrams with wrong checksums: none may reach
 * the socket. Then, the writer gone, a good datagram arrives and a bad
 * one does not.
 */
TEST_F(zc, forged_virtio_header_is_not_trusted)
{
	static const unsigned char forged[12] = { 0x02, [10] = 1 };
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t alen = sizeof(a);
	char text[80] = "";
	int udp, port, got;
	pid_t writer, pid;

	udp = socket(AF_INET, SOCK_DGRAM, 0);
	ASSERT_LE(0, udp);
	inet_pton(AF_INET, BOUND_IP, &a.sin_addr);
	ASSERT_EQ(0, bind(udp, (struct sockaddr *)&a, sizeof(a)));
	ASSERT_EQ(0, getsockname(udp, (struct sockaddr *)&a, &alen));
	port = ntohs(a.sin_port);

	writer = slot_writer(self->reg.map, self->reg.len, forged,
			     sizeof(forged), 4000);
	pid = udp_sender(port, 2000, false, 500);
	EXPECT_EQ(0, wait_child(pid));
	got = udp_drain(udp, 200, text, sizeof(text));
	EXPECT_EQ(0, wait_child(writer));
	got += udp_drain(udp, 200, text, sizeof(text));
	EXPECT_EQ(0, got)
		TH_LOG("%d datagrams with a wrong checksum were delivered, the last \"%s\"",
		       got, text);

	pid = udp_sender(port, 1, true, 0);
	EXPECT_EQ(0, wait_child(pid));
	pid = udp_sender(port, 1, false, 0);
	EXPECT_EQ(0, wait_child(pid));
	EXPECT_EQ(1, udp_drain(udp, 2000, text, sizeof(text)));
	EXPECT_STREQ("good 0", text);
	close(udp);
}

/*
 * The stack parses a frame's IP and TCP headers from a copy the driver
 * made, never in the slot: a process that keeps scribbling over the
 * headers of every slot while a stream arrives costs drops and
 * retransmissions, never a wrong byte or a kernel splat.
 */
TEST_F(zc, scribbled_headers_cost_only_retransmissions)
{
	const size_t len = 1 << 20;
	pid_t writer, pid;
	int srv;

	/* Ethernet, IPv4 and TCP with timestamps: 66 bytes; the payload after. */
	writer = slot_writer(self->reg.map, self->reg.len, NULL, 60, 2000);
	pid = sender(self->port, 53, len, 65536, false);
	srv = accept(self->lsn, NULL, NULL);
	ASSERT_LE(0, srv);
	EXPECT_LT(0, recv_stream(srv, self->reg.map, 53, len, NULL, 0));
	EXPECT_EQ(0, wait_child(pid));
	EXPECT_EQ(0, wait_child(writer));
	close(srv);
}

#define ESP_KEY	"0x0102030405060708090a0b0c0d0e0f1011121314"

/*
 * Transport-mode ESP (AES-GCM) from PEER_IP to BOUND_IP: the state in
 * both namespaces, the policy on the peer for TCP to @port only.
 */
static int esp_setup(int port)
{
	const char *state = "xfrm state add src " PEER_IP " dst " BOUND_IP
		" proto esp spi 0x5e50 mode transport"
		" aead 'rfc4106(gcm(aes))' " ESP_KEY " 128";

	return sh("/sbin/ip %s && /sbin/ip -n " PEER_NS " %s && "
		  "/sbin/ip -n " PEER_NS " xfrm policy add src " PEER_IP
		  " dst " BOUND_IP " proto 6 dport %d dir out tmpl src "
		  PEER_IP " dst " BOUND_IP " proto esp mode transport",
		  state, state, port);
}

static void esp_teardown(void)
{
	sh("/sbin/ip xfrm state flush; /sbin/ip -n " PEER_NS " xfrm state flush; "
	   "/sbin/ip -n " PEER_NS " xfrm policy flush");
}

/* A child in PEER_NS that sends @marker, @count times, to @port. */
static pid_t marker_sender(int port, const char *marker, int count)
{
	pid_t pid = fork();
	int fd, i;

	if (pid)
		return pid;
	fd = peer_connect(port, false);
	for (i = 0; i < count; i++)
		if (send_all(fd, marker, strlen(marker)))
			_exit(12);
	close(fd);
	_exit(0);
}

/*
 * ESP decrypts in place when it may. A fragment in a region page must be
 * copied first (the driver marks it SKBFL_SHARED_FRAG), or the plaintext
 * of a flow, another user's maybe, is written into the region's file. A
 * plain socket on the bound queue receives an ESP stream: every byte
 * arrives, and not one copy of its text is in the file.
 */
TEST_F(zc, esp_is_not_decrypted_into_the_region)
{
	static const char marker[] = "plaintext that only the two ends may read. ";
	const int count = 4096;
	char buf[sizeof(marker) - 1];
	int plain, port, srv, i;
	long long filled0;
	pid_t pid;

	esp_teardown();
	plain = listener_on(BOUND_IP, &port);
	ASSERT_LE(0, plain);
	ASSERT_EQ(0, esp_setup(port)) TH_LOG("ip xfrm: no ESP in this kernel?");
	filled0 = proc_paste_counter("PasteRxFilled");
	pid = marker_sender(port, marker, count);

	srv = accept(plain, NULL, NULL);
	ASSERT_LE(0, srv);
	for (i = 0; i < count; i++) {
		ASSERT_EQ(sizeof(buf), recv(srv, buf, sizeof(buf), MSG_WAITALL));
		ASSERT_EQ(0, memcmp(buf, marker, sizeof(buf)))
			TH_LOG("copy %d of the text arrived wrong", i);
	}
	EXPECT_EQ(0, wait_child(pid));
	EXPECT_EQ(0, sh("/sbin/ip -s xfrm state | grep -Eq '[1-9][0-9]*\\(packets\\)'"))
		TH_LOG("no packet went through the ESP state");
	EXPECT_LT(filled0, proc_paste_counter("PasteRxFilled"));
	EXPECT_EQ(NULL, memmem(self->reg.map, self->reg.len, marker,
			       sizeof(marker) - 1))
		TH_LOG("the plaintext is in the region at %td",
		       (char *)memmem(self->reg.map, self->reg.len, marker,
				      sizeof(marker) - 1) - self->reg.map);
	close(srv);
	close(plain);
	esp_teardown();
}

/*
 * The unlink variant: the region's file is unlinked and closed while a
 * plain socket's unread skbs still reference its pages. The draining
 * region keeps the file, so the filesystem cannot give its blocks to a
 * new file: one of the same size, created and filled at once, must not
 * change a byte of what the plain socket then reads.
 */
TEST_F(zc, unlinked_file_keeps_its_blocks_while_draining)
{
	const size_t len = 64 << 10;
	struct region other = { .fd = -1 };
	struct stat st;
	int plain, srv;

	ASSERT_EQ(0, fstat(self->reg.fd, &st));
	srv = plain_socket_unread(59, len, &plain);
	ASSERT_LE(0, srv);

	close(self->lsn);
	self->lsn = -1;
	EXPECT_EQ(0, wait_region_released(st.st_ino));
	region_close(&self->reg);
	self->reg.map = NULL;
	self->reg.fd = -1;
	ASSERT_EQ(0, region_open(&other, "zc-other", self->reg.len, false));
	memset(other.map, 0x5a, other.len);

	EXPECT_EQ((ssize_t)len, stream_mismatch(srv, 59, len))
		TH_LOG("the plain socket read a wrong byte");
	close(srv);
	close(plain);
	EXPECT_EQ(0, wait_region_gone(st.st_ino))
		TH_LOG("the region still drains with its pages idle");
	region_close(&other);
}

#define READ_PMEM_FAIL	"/sys/kernel/debug/paste/read_pmem_fail"

/* recvmsg(MSG_PASTE) of at most @len bytes; one reference at most. */
static ssize_t paste_recv_upto(int sock, size_t len, struct paste_ref *ref)
{
	char ctrl[CMSG_SPACE(sizeof(*ref))];
	struct iovec iov = { .iov_base = NULL, .iov_len = len };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = ctrl, .msg_controllen = sizeof(ctrl),
	};
	ssize_t ret = recvmsg(sock, &msg, MSG_PASTE);

	if (ret > 0)
		memcpy(ref, CMSG_DATA(CMSG_FIRSTHDR(&msg)), sizeof(*ref));
	return ret;
}

/*
 * A receive that copies out of a slot the device filled (it takes fewer
 * bytes than the slot holds) reads pmem machine-check safe: a poisoned
 * line fails it with EIO, and the bytes stay queued. TCG raises no
 * machine check, so the debugfs knob read_pmem_fail (CONFIG_PASTE_DEBUG)
 * stands in for the poison; it is what a plain memcpy() could not do.
 */
TEST_F(zc, poisoned_pmem_read_fails_with_eio)
{
	const size_t len = 64 << 10;
	struct paste_ref ref;
	FILE *knob;
	int srv;
	pid_t pid;

	pid = sender(self->port, 47, len, 65536, false);
	srv = accept(self->lsn, NULL, NULL);
	ASSERT_LE(0, srv);
	ASSERT_EQ((int)len, wait_inq_for(srv, len, 30));
	ASSERT_EQ(0, wait_child(pid));

	knob = fopen(READ_PMEM_FAIL, "w");
	ASSERT_NE(NULL, knob) TH_LOG("no " READ_PMEM_FAIL);
	ASSERT_LT(0, fprintf(knob, "1\n"));
	ASSERT_EQ(0, fclose(knob));
	EXPECT_EQ(-1, paste_recv_upto(srv, 100, &ref));
	EXPECT_EQ(EIO, errno) TH_LOG("a poisoned read: %s", strerror(errno));

	EXPECT_EQ(100, paste_recv_upto(srv, 100, &ref));
	EXPECT_TRUE(ref_matches(self->reg.map, &ref, 47, 0));
	EXPECT_EQ(1, paste_ioc(srv, PASTE_IOC_RELEASE, &ref, 1));
	close(srv);
}

/* The number of distinct buffers among @n references. */
static unsigned int distinct_slots(const struct paste_ref *refs, unsigned int n)
{
	unsigned int i, j, d = 0;

	for (i = 0; i < n; i++) {
		for (j = 0; j < i && refs[j].token != refs[i].token; j++)
			;
		d += j == i;
	}
	return d;
}

/*
 * A peer that sends a byte at a time to a receiver that reads as bytes
 * arrive and keeps every reference until its request is complete (what a
 * naive adopter does) used to take a 4 KiB slot per byte: 1,024 slots,
 * the whole 4 MiB region, after 1,193 bytes, and a second connection
 * starved. With PASTE_REGION_PACK the reads share a slot, small frames
 * the device placed are copied into it, and a socket holds at most a
 * quarter of the region. A slot shared by several references is pinned
 * when one of them is pinned and the others are released.
 */
TEST_F(zc, pack_region_shares_slots_across_reads)
{
	const size_t bytes = 1500, bulk = 1 << 20;
	struct paste_ref *held = calloc(4096, sizeof(*held));
	struct region pk = { .fd = -1 };
	struct paste_sock_info info, info0;
	unsigned int n, i, nheld = 0, slots;
	struct paste_ref refs[256];
	int lsn, port, srv, srv2;
	size_t got = 0;
	ssize_t r;
	pid_t pid;

	close(self->lsn);
	self->lsn = -1;
	ASSERT_EQ(0, region_open(&pk, "zc-pack", 4 << 20, false));
	lsn = listener_on(BOUND_IP, &port);
	ASSERT_LE(0, lsn);
	ASSERT_EQ(0, region_attach(lsn, &pk, PASTE_REGION_PACK))
		TH_LOG("PASTE_REGION_PACK: %s", strerror(errno));
	ASSERT_EQ(0, bind_rxq_wait(lsn, self->ifname));

	pid = sender_paced(port, 53, bytes, 1, true, 1500);
	srv = accept(lsn, NULL, NULL);
	ASSERT_LE(0, srv);
	while (got < bytes) {
		r = paste_recv(srv, refs, 256, &n, 0);
		ASSERT_LT(0, r) TH_LOG("recvmsg: %s after %zu bytes",
				       strerror(errno), got);
		for (i = 0; i < n; i++) {
			ASSERT_TRUE(ref_matches(pk.map, &refs[i], 53, got));
			got += refs[i].len;
			held[nheld++] = refs[i];
		}
	}
	ASSERT_EQ(0, wait_child(pid));
	slots = distinct_slots(held, nheld);
	TH_LOG("%zu bytes: %u references in %u slots", bytes, nheld, slots);
	EXPECT_GE(2U, slots);
	EXPECT_LT(0, proc_paste_counter("PasteCopySmall"));

	/* Another connection is served meanwhile. */
	pid = sender(port, 59, bulk, 65536, false);
	srv2 = accept(lsn, NULL, NULL);
	ASSERT_LE(0, srv2);
	ASSERT_LT(0, recv_stream(srv2, pk.map, 59, bulk, NULL, 0));
	ASSERT_EQ(0, wait_child(pid));
	close(srv2);

	/* Pin one reference of the first slot, release the rest: pinned. */
	ASSERT_EQ(0, paste_info(srv, &info0));
	EXPECT_EQ(slots, info0.refs_outstanding);
	ASSERT_EQ(1, paste_ioc(srv, PASTE_IOC_PIN, &held[0], 1));
	for (i = 1; i < nheld; i++)
		ASSERT_EQ(1, paste_ioc(srv, PASTE_IOC_RELEASE, &held[i], 1));
	ASSERT_EQ(0, paste_info(srv, &info));
	EXPECT_EQ(0, info.refs_outstanding);
	EXPECT_EQ(info0.slots_pinned + 1, info.slots_pinned);
	ASSERT_EQ(1, paste_ioc(srv, PASTE_IOC_RELEASE, &held[0], 1));
	ASSERT_EQ(0, paste_info(srv, &info));
	EXPECT_EQ(info0.slots_pinned, info.slots_pinned);

	/* A reader that holds everything stops at a quarter: EDQUOT. */
	pid = sender(port, 61, bulk, 65536, false);
	srv2 = accept(lsn, NULL, NULL);
	ASSERT_LE(0, srv2);
	nheld = 0;
	got = 0;
	for (;;) {
		r = paste_recv(srv2, refs, 256, &n, 0);
		if (r < 0)
			break;
		ASSERT_LT(0, r);
		for (i = 0; i < n && nheld < 4096; i++) {
			ASSERT_TRUE(ref_matches(pk.map, &refs[i], 61, got));
			got += refs[i].len;
			held[nheld++] = refs[i];
		}
	}
	EXPECT_EQ(EDQUOT, errno) TH_LOG("holding all: %s", strerror(errno));
	ASSERT_EQ(0, paste_info(srv2, &info));
	EXPECT_EQ(info.nr_slots / 4, info.refs_outstanding);
	for (i = 0; i < nheld; i++)
		ASSERT_EQ(1, paste_ioc(srv2, PASTE_IOC_RELEASE, &held[i], 1));
	while (got < bulk) {
		r = paste_recv(srv2, refs, 256, &n, 0);
		ASSERT_LT(0, r);
		for (i = 0; i < n; i++) {
			ASSERT_TRUE(ref_matches(pk.map, &refs[i], 61, got));
			got += refs[i].len;
		}
		ASSERT_EQ((int)n, paste_ioc(srv2, PASTE_IOC_RELEASE, refs, n));
	}
	ASSERT_EQ(0, wait_child(pid));
	close(srv2);
	close(srv);
	close(lsn);
	region_close(&pk);
	free(held);
}

/*
 * Removing the bound NIC (the driver lets go of the device, as at a
 * hot-unplug: virtnet_remove(), NETDEV_UNREGISTER) unbinds it: the ring's
 * slots come back, and the bytes received before are intact. Binding the
 * driver again brings the NIC back for the next test. This is done at the
 * virtio bus rather than by a PCI remove and rescan, whose re-enable
 * evaluates ACPI _PRT: an AML loop that times out in a slow TCG guest.
 */
TEST_F_TIMEOUT(zc, device_removal_unbinds, 180)
{
	struct paste_sock_info info;
	size_t mib = 1 << 20;
	int srv, keep;
	pid_t pid;

	keep = socket(AF_INET, SOCK_STREAM, 0);
	ASSERT_EQ(0, region_attach(keep, &self->reg, 0));
	pid = sender(self->port, 31, 64 << 20, 65536, false);
	srv = accept(self->lsn, NULL, NULL);
	ASSERT_LE(0, srv);
	/* The first MiB of a 64 MiB stream, intact; then the NIC goes. */
	ASSERT_EQ(-4, recv_stream_progress(srv, self->reg.map, 31, 64 << 20,
					   NULL, 0, stop_after, &mib));
	ASSERT_EQ(0, sh("d=$(basename $(readlink /sys/class/net/%s/device)) && "
			"echo $d > /sys/bus/virtio/drivers/virtio_net/unbind && "
			"echo $d > /tmp/zc-removed", self->ifname));
	kill(pid, SIGKILL);
	wait_child(pid);
	close(srv);
	info = wait_all_free(keep);
	EXPECT_EQ(0, info.slots_rx);
	EXPECT_EQ(info.nr_slots, info.slots_free);
	EXPECT_EQ(0, sh("cat /tmp/zc-removed > /sys/bus/virtio/drivers/virtio_net/bind"));
	EXPECT_EQ(0, net_setup(self->ifname));
	close(keep);
}

/*
 * Receive @len bytes of stream @seed on a connection accepted from @lsn,
 * bracketed by two insncount marks; print the window for
 * selftests/vm/run-oracle.sh with the copy counter's growth in it.
 */
static int oracle_window(int lsn, const char *map, int port, uint32_t seed,
			 size_t len, const char *name)
{
	static const char * const why[] = { "PasteRxFallback", "PasteCopyForeign",
					    "PasteCopySplit" };
	long long copied, zc, before[3];
	pid_t pid;
	int srv, ret, i;

	sync();
	for (i = 0; i < 3; i++)
		before[i] = proc_paste_counter(why[i]);
	pid = sender(port, seed, len, 65536, false);
	srv = accept(lsn, NULL, NULL);
	if (srv < 0)
		return -1;
	copied = proc_paste_counter("PasteBytesCopied");
	zc = proc_paste_counter("PasteBytesZeroCopy");
	insn_mark();
	ret = recv_stream(srv, map, seed, len, NULL, 0);
	insn_mark();
	copied = proc_paste_counter("PasteBytesCopied") - copied;
	zc = proc_paste_counter("PasteBytesZeroCopy") - zc;
	printf("ORACLE %s bytes %zu copied %lld zerocopy %lld\n", name, len,
	       copied, zc);
	for (i = 0; i < 3; i++)
		printf("# %s: %s +%lld\n", name, why[i],
		       proc_paste_counter(why[i]) - before[i]);
	fflush(stdout);
	close(srv);
	if (wait_child(pid) || ret < 0)
		return -1;
	return name[0] == 'z' ? zc == (long long)len && !copied :
				copied == (long long)len && !zc;
}

/*
 * The same 512 KiB (few enough segments to stay clear of the copy
 * fallback's reserve) received bound, then unbound. The counters say the first
 * was placed by the device and the second copied; under the insncount
 * plugin (run-oracle.sh), the guest's own stores into the NVDIMM in each
 * window must agree: 0 bytes, then at least the payload.
 */
TEST_F(zc, store_oracle_windows)
{
	struct paste_sock_info info;
	int port;

	ASSERT_EQ(1, oracle_window(self->lsn, self->reg.map, self->port, 41,
				   512 << 10, "zerocopy"));
	close(self->lsn);
	self->lsn = listener_on(BOUND_IP, &port);
	ASSERT_LE(0, self->lsn);
	ASSERT_EQ(0, region_attach(self->lsn, &self->reg, 0));
	info = wait_all_free(self->lsn);
	ASSERT_EQ(0, info.slots_rx);
	ASSERT_EQ(1, oracle_window(self->lsn, self->reg.map, port, 43, 512 << 10,
				   "copy"));
}

static int channels_get(int fd, const char *ifname, struct ethtool_channels *ch)
{
	struct ifreq ifr = {};

	strcpy(ifr.ifr_name, ifname);
	ch->cmd = ETHTOOL_GCHANNELS;
	ifr.ifr_data = (void *)ch;
	return ioctl(fd, SIOCETHTOOL, &ifr);
}

/* ethtool -L IFNAME combined N, through the ioctl. */
static int channels_set(int fd, const char *ifname, unsigned int combined)
{
	struct ethtool_channels ch = {};
	struct ifreq ifr = {};

	if (channels_get(fd, ifname, &ch))
		return -1;
	strcpy(ifr.ifr_name, ifname);
	ch.cmd = ETHTOOL_SCHANNELS;
	ch.combined_count = combined;
	ifr.ifr_data = (void *)&ch;
	return ioctl(fd, SIOCETHTOOL, &ifr);
}

/*
 * ethtool cannot take a bound queue away: the driver could no longer
 * unbind it, and the binding, its region and its pins would leak (the
 * unbind failed with ERANGE). Moving the device to another namespace
 * unbinds it; the socket's close then frees everything, and the device
 * works there.
 */
TEST(channel_change_keeps_bound_queue)
{
	struct region reg = { .fd = -1 };
	struct ethtool_channels ch = {};
	char ifname[IFNAMSIZ];
	struct stat st;
	int sock;

	ASSERT_EQ(0, ifname_of(MQ_MAC, ifname))
		TH_LOG("no 2-queue NIC " MQ_MAC " (run-tests.sh adds it)");
	ASSERT_EQ(0, region_open(&reg, "zc-mq", 1 << 20, false));
	ASSERT_EQ(0, fstat(reg.fd, &st));
	sock = socket(AF_INET, SOCK_STREAM, 0);
	ASSERT_EQ(0, region_attach(sock, &reg, 0));
	ASSERT_EQ(0, channels_get(sock, ifname, &ch));
	ASSERT_LE(2, ch.max_combined);
	ASSERT_EQ(0, channels_set(sock, ifname, 2));
	ASSERT_EQ(0, sh("/sbin/ip link set %s up", ifname));
	ASSERT_EQ(0, bind_rxq(sock, ifname, 1))
		TH_LOG("SIOCPASTEBIND %s queue 1: %s", ifname, strerror(errno));

	EXPECT_EQ(-1, channels_set(sock, ifname, 1));
	EXPECT_EQ(EBUSY, errno) TH_LOG("ethtool -L combined 1: %s",
				       strerror(errno));
	EXPECT_EQ(0, channels_set(sock, ifname, 2)) TH_LOG("same count");

	ASSERT_EQ(0, sh("/sbin/ip netns add zcmq && "
			"/sbin/ip link set %s netns zcmq", ifname));
	close(sock);
	EXPECT_EQ(0, wait_region_gone(st.st_ino))
		TH_LOG("the region outlived its socket and binding");
	EXPECT_EQ(0, sh("/sbin/ip -n zcmq link set %s up && "
			"/sbin/ip -n zcmq link set %s netns 1 && "
			"/sbin/ip netns del zcmq", ifname, ifname));
	region_close(&reg);
}

/* Every way to get SIOCPASTEBIND wrong has its own errno. */
TEST(bind_errors)
{
	struct paste_rxq_bind b = {};
	char ifname[IFNAMSIZ];
	struct region reg = { .fd = -1 }, small = { .fd = -1 };
	struct paste_region_req req;
	int a, c, st;
	pid_t pid;

	ASSERT_EQ(0, net_setup(ifname));
	ASSERT_EQ(0, region_open(&reg, "zc-err", 1 << 20, false));
	a = socket(AF_INET, SOCK_STREAM, 0);
	c = socket(AF_INET, SOCK_STREAM, 0);

	EXPECT_EQ(-1, bind_rxq(a, ifname, 0));
	EXPECT_EQ(EINVAL, errno) TH_LOG("no region");
	ASSERT_EQ(0, region_attach(a, &reg, 0));

	b.ifindex = if_nametoindex(ifname);
	b.flags = 1;
	EXPECT_EQ(-1, ioctl(a, SIOCPASTEBIND, &b));
	EXPECT_EQ(EINVAL, errno) TH_LOG("flags");
	EXPECT_EQ(-1, bind_rxq(a, "lo", 0));
	EXPECT_EQ(EOPNOTSUPP, errno) TH_LOG("loopback");
	b.flags = 0;
	b.ifindex = 9999;
	EXPECT_EQ(-1, ioctl(a, SIOCPASTEBIND, &b));
	EXPECT_EQ(ENODEV, errno);
	EXPECT_EQ(-1, bind_rxq(a, ifname, 64));
	EXPECT_EQ(ERANGE, errno);

	pid = fork();
	if (!pid)
		_exit(setuid(65534) || bind_rxq(a, ifname, 0) != -1 ||
		      errno != EPERM);
	ASSERT_EQ(pid, waitpid(pid, &st, 0));
	EXPECT_EQ(0, WEXITSTATUS(st)) TH_LOG("unprivileged bind not EPERM");

	ASSERT_EQ(0, bind_rxq_wait(a, ifname));
	EXPECT_EQ(-1, bind_rxq(a, ifname, 0));
	EXPECT_EQ(EBUSY, errno) TH_LOG("same socket twice");
	ASSERT_EQ(0, region_attach(c, &reg, 0));
	EXPECT_EQ(-1, bind_rxq(c, ifname, 0));
	EXPECT_EQ(EBUSY, errno) TH_LOG("queue bound already");
	close(c);

	ASSERT_EQ(0, region_open(&small, "zc-small", 1 << 20, false));
	req = region_req(&small, 0);
	req.slot_size = 2048;
	c = socket(AF_INET, SOCK_STREAM, 0);
	ASSERT_EQ(0, region_attach_req(c, &req));
	close(a);	/* unbinds, from a work item */
	usleep(200000);
	EXPECT_EQ(-1, bind_rxq(c, ifname, 0));
	EXPECT_EQ(EINVAL, errno) TH_LOG("slots smaller than a page");
	close(c);
	region_close(&small);

	ASSERT_EQ(0, region_open(&small, "zc-shm", 1 << 20, true));
	c = socket(AF_INET, SOCK_STREAM, 0);
	ASSERT_EQ(0, region_attach(c, &small, PASTE_REGION_VOLATILE));
	EXPECT_EQ(-1, bind_rxq(c, ifname, 0));
	EXPECT_EQ(EOPNOTSUPP, errno) TH_LOG("volatile region");
	close(c);
	region_close(&small);

	/* Every frame of the queue lands in the file: the binder's alone. */
	c = socket(AF_INET, SOCK_STREAM, 0);
	ASSERT_EQ(0, region_attach(c, &reg, 0));
	ASSERT_EQ(0, fchmod(reg.fd, 0640));
	EXPECT_EQ(-1, bind_rxq(c, ifname, 0));
	EXPECT_EQ(EACCES, errno) TH_LOG("file readable by its group");
	ASSERT_EQ(0, fchmod(reg.fd, 0600));
	ASSERT_EQ(0, fchown(reg.fd, 65534, -1));
	EXPECT_EQ(-1, bind_rxq(c, ifname, 0));
	EXPECT_EQ(EACCES, errno) TH_LOG("file of another user");
	ASSERT_EQ(0, fchown(reg.fd, 0, -1));
	close(c);

	/*
	 * Through the DMA API the device would write into bounce buffers;
	 * the check on the driver's own DMA mapping never fired.
	 */
	ASSERT_EQ(0, ifname_of(IOMMU_MAC, ifname))
		TH_LOG("no NIC " IOMMU_MAC " (run-tests.sh adds it)");
	c = socket(AF_INET, SOCK_STREAM, 0);
	ASSERT_EQ(0, region_attach(c, &reg, 0));
	EXPECT_EQ(-1, bind_rxq(c, ifname, 0));
	EXPECT_EQ(EOPNOTSUPP, errno) TH_LOG("VIRTIO_F_ACCESS_PLATFORM");
	close(c);
	region_close(&reg);
}

TEST_HARNESS_MAIN
