/*
 * Reference forwarder of the bench: the TEP's single-TUN design in C, without any of its checks.
 * It shows what the design costs in the kernel alone (a read and a write per packet through one
 * TUN), so the gap between dstm-tep and the kernel can be split into "the design" and "our code".
 *
 *   tunfwd TUN_NAME plain|uring SRC6 DST6
 *
 * Creates TUN_NAME (the caller adds routes). An IPv4 packet read gets an IPv6 header (SRC6 ->
 * DST6, next header 4, hop limit 64) and is written back; an IPv6 packet with next header 4 has
 * its IPv6 header removed and the inner IPv4 packet is written back. `uring` batches the reads and
 * writes of a burst into one io_uring_enter(2) the way dstm-tep's BatchIo does (RWF_NOWAIT, the TUN
 * as registered file 0, the slots as registered buffer 0, two halves of 32 slots, the burst grows
 * while full and shrinks to what came). Both modes set the TUN queue to 4096 packets like
 * dstm-tep. Stops on SIGTERM; prints {"packets":n}.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <linux/fs.h>
#include <linux/io_uring.h>
#include <sys/socket.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#define HEAD 64
#define BUFSZ 2048
#define QD 32 /* slots per half */

static volatile sig_atomic_t stop;
static void on_term(int s) { (void)s; stop = 1; }

static uint8_t src6[16], dst6[16];

/* Turn the packet at buf+HEAD (n bytes) into the output: returns its offset and length. */
static int xform(uint8_t *buf, int n, int *off) {
  uint8_t *p = buf + HEAD;
  if (n >= 20 && (p[0] >> 4) == 4) {
    uint8_t *h = p - 40;
    memset(h, 0, 8);
    h[0] = 0x60;
    h[4] = n >> 8;
    h[5] = n & 0xff;
    h[6] = 4;
    h[7] = 64;
    memcpy(h + 8, src6, 16);
    memcpy(h + 24, dst6, 16);
    *off = HEAD - 40;
    return n + 40;
  }
  if (n > 40 && (p[0] >> 4) == 6 && p[6] == 4) {
    *off = HEAD + 40;
    return n - 40;
  }
  return -1;
}

struct ring {
  int fd;
  unsigned *sq_head, *sq_tail, *sq_mask, *sq_array;
  unsigned *cq_head, *cq_tail, *cq_mask;
  struct io_uring_sqe *sqes;
  struct io_uring_cqe *cqes;
};

static int ring_init(struct ring *r) {
  struct io_uring_params p;
  memset(&p, 0, sizeof p);
  r->fd = syscall(__NR_io_uring_setup, QD * 4, &p);
  if (r->fd < 0) return -1;
  size_t sqsz = p.sq_off.array + p.sq_entries * sizeof(unsigned);
  size_t cqsz = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
  uint8_t *sq = mmap(0, sqsz, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, r->fd,
                     IORING_OFF_SQ_RING);
  uint8_t *cq = mmap(0, cqsz, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, r->fd,
                     IORING_OFF_CQ_RING);
  r->sqes = mmap(0, p.sq_entries * sizeof(struct io_uring_sqe), PROT_READ | PROT_WRITE,
                 MAP_SHARED | MAP_POPULATE, r->fd, IORING_OFF_SQES);
  if (sq == MAP_FAILED || cq == MAP_FAILED || r->sqes == MAP_FAILED) return -1;
  r->sq_head = (unsigned *)(sq + p.sq_off.head);
  r->sq_tail = (unsigned *)(sq + p.sq_off.tail);
  r->sq_mask = (unsigned *)(sq + p.sq_off.ring_mask);
  r->sq_array = (unsigned *)(sq + p.sq_off.array);
  r->cq_head = (unsigned *)(cq + p.cq_off.head);
  r->cq_tail = (unsigned *)(cq + p.cq_off.tail);
  r->cq_mask = (unsigned *)(cq + p.cq_off.ring_mask);
  r->cqes = (struct io_uring_cqe *)(cq + p.cq_off.cqes);
  return 0;
}

static void sqe(struct ring *r, int op, int fd, void *addr, unsigned len, uint64_t data) {
  unsigned tail = *r->sq_tail;
  unsigned i = tail & *r->sq_mask;
  struct io_uring_sqe *s = &r->sqes[i];
  memset(s, 0, sizeof *s);
  s->opcode = op;
  s->flags = IOSQE_FIXED_FILE;
  s->rw_flags = RWF_NOWAIT;
  s->buf_index = 0;
  s->fd = fd;
  s->addr = (uint64_t)(uintptr_t)addr;
  s->len = len;
  s->user_data = data;
  r->sq_array[i] = i;
  __atomic_store_n(r->sq_tail, tail + 1, __ATOMIC_RELEASE);
}

int main(int argc, char **argv) {
  if (argc < 5) return fprintf(stderr, "usage: tunfwd TUN plain|uring SRC6 DST6\n"), 2;
  int uring = strcmp(argv[2], "uring") == 0;
  if (inet_pton(AF_INET6, argv[3], src6) != 1 || inet_pton(AF_INET6, argv[4], dst6) != 1)
    return fprintf(stderr, "bad ipv6\n"), 2;
  int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return perror("open"), 1;
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  strncpy(ifr.ifr_name, argv[1], IFNAMSIZ - 1);
  ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
  if (ioctl(fd, TUNSETIFF, &ifr) < 0) return perror("TUNSETIFF"), 1;
  signal(SIGTERM, on_term);
  signal(SIGINT, on_term);
  printf("{\"event\":\"ready\"}\n");
  fflush(stdout);
  /* txqueuelen 4096, as dstm-tep sets it. */
  {
    int sk = socket(AF_INET, SOCK_DGRAM, 0);
    struct ifreq q;
    memset(&q, 0, sizeof q);
    memcpy(q.ifr_name, ifr.ifr_name, IFNAMSIZ);
    q.ifr_qlen = 4096;
    if (ioctl(sk, SIOCSIFTXQLEN, &q) < 0) perror("SIOCSIFTXQLEN");
    close(sk);
  }
  static uint8_t bufs[2 * QD][BUFSZ] __attribute__((aligned(4096)));
  unsigned long long packets = 0;
  struct pollfd pfd = {fd, POLLIN, 0};
  if (!uring) {
    while (!stop) {
      int n = read(fd, bufs[0] + HEAD, BUFSZ - HEAD);
      if (n < 0) {
        if (errno == EAGAIN) poll(&pfd, 1, 200);
        continue;
      }
      int off, len = xform(bufs[0], n, &off);
      if (len > 0 && write(fd, bufs[0] + off, len) == len) packets++;
    }
  } else {
    struct ring r;
    if (ring_init(&r) < 0) return perror("io_uring"), 1;
    struct iovec iov = {bufs, sizeof bufs};
    if (syscall(__NR_io_uring_register, r.fd, IORING_REGISTER_BUFFERS, &iov, 1) < 0)
      return perror("register buffers"), 1;
    if (syscall(__NR_io_uring_register, r.fd, IORING_REGISTER_FILES, &fd, 1) < 0)
      return perror("register files"), 1;
    int want = 8, half = 1, nw = 0;
    while (!stop) {
      int budget = 256;
      for (;;) {
        half ^= 1;
        int first = half * QD;
        int ask = want < budget ? want : budget;
        for (int i = 0; i < ask; i++)
          sqe(&r, IORING_OP_READ_FIXED, 0, bufs[first + i] + HEAD, BUFSZ - HEAD, first + i);
        int total = nw + ask;
        int rc = syscall(__NR_io_uring_enter, r.fd, total, total, IORING_ENTER_GETEVENTS, NULL, 0);
        if (rc < 0 && errno != EINTR) return perror("io_uring_enter"), 1;
        nw = 0;
        int got = 0;
        unsigned head = *r.cq_head;
        unsigned tail = __atomic_load_n(r.cq_tail, __ATOMIC_ACQUIRE);
        int slots[QD], lens[QD];
        for (; head != tail; head++) {
          struct io_uring_cqe *c = &r.cqes[head & *r.cq_mask];
          if (c->user_data >= 1000) {
            if (c->res > 0) packets++;
          } else if (c->res > 0) {
            slots[got] = c->user_data;
            lens[got] = c->res;
            got++;
          }
        }
        __atomic_store_n(r.cq_head, head, __ATOMIC_RELEASE);
        for (int i = 0; i < got; i++) {
          int off, len = xform(bufs[slots[i]], lens[i], &off);
          if (len > 0) sqe(&r, IORING_OP_WRITE_FIXED, 0, bufs[slots[i]] + off, len, 1000 + i), nw++;
        }
        budget -= got;
        if (got < ask) {
          want = got * 2 < 8 ? 8 : got * 2 > QD ? QD : got * 2;
          break;
        }
        want = want * 2 > QD ? QD : want * 2;
        if (budget <= 0) break;
      }
      if (nw) {
        syscall(__NR_io_uring_enter, r.fd, nw, nw, IORING_ENTER_GETEVENTS, NULL, 0);
        unsigned head = *r.cq_head;
        unsigned tail = __atomic_load_n(r.cq_tail, __ATOMIC_ACQUIRE);
        for (; head != tail; head++)
          if (r.cqes[head & *r.cq_mask].res > 0) packets++;
        __atomic_store_n(r.cq_head, head, __ATOMIC_RELEASE);
        nw = 0;
      }
      poll(&pfd, 1, 200);
    }
  }
  printf("{\"packets\":%llu}\n", packets);
  return 0;
}
