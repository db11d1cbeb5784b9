/*
 * tftp-load: a TFTP read-load client for benchmarking TFTP servers.
 *
 * Written from RFC 1350 (TFTP), RFC 2347 (option extension), RFC 2348 (blksize),
 * RFC 2349 (timeout, tsize) and RFC 7440 (windowsize).
 *
 * Runs N concurrent read transfers of one remote file, each on its own non-blocking UDP
 * socket, all driven by one epoll loop (recvmmsg per ready socket, timers scanned every
 * millisecond), so the client's own cost per datagram stays small next to the server's: with
 * poll() over 32 sockets and a recvfrom until EAGAIN, the client was the bottleneck at ~200 MB/s.
 * Every received byte is compared with a local copy of
 * the file; a mismatch fails that transfer. Each transfer has a deadline; every loop is bounded
 * in iterations and in time.
 *
 * Loss (-L PERCENT): there is no netem on the benchmark machine, so the client plays the lossy
 * path itself: it discards that share of the datagrams it receives, and of the ACKs it would
 * send, from a seeded generator per transfer (-S SEED), so runs against different servers lose
 * alike. Its own retransmission (-r) then has to recover, as does the server's.
 *
 * Output: one line of key=value pairs (MB = 10^6 bytes), e.g.
 *   bytes=... seconds=... mbps=... ok=32 failed=0 retransmits=0 ...
 *
 * Build: cc -O2 -Wall -Wextra -Werror -o tftp-load tftp-load.c
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

enum { OP_RRQ = 1, OP_DATA = 3, OP_ACK = 4, OP_ERROR = 5, OP_OACK = 6 };
enum { ST_RRQ, ST_RUN, ST_OK, ST_FAIL };

#define MAX_TRANSFERS 4096
#define MAX_BLKSIZE 65464
#define RECV_BUF (MAX_BLKSIZE + 4)
#define RECV_BURST 64 /* datagrams read from one socket per recvmmsg */
#define SCAN_INTERVAL 0.001 /* seconds between retransmission/deadline scans */

struct opts {
    const char *host, *remote, *local;
    int port, n, blksize, windowsize, tsize, timeout_opt;
    double retransmit_s, deadline_s;
    int max_retries, verbose;
    double loss; /* share of datagrams lost each way, 0 to 0.5 */
    unsigned seed;
};

struct xfer {
    int fd, state;
    struct sockaddr_in server, peer; /* server: where the RRQ goes; peer: the server's TID */
    int have_peer;
    int blksize, windowsize;
    uint64_t next;      /* next expected block, 64-bit (the wire carries the low 16 bits) */
    uint64_t bytes;     /* verified bytes */
    int in_window;      /* in-order blocks received since our last ACK */
    uint64_t gap_acked; /* `next` at which we last sent a gap ACK (one per gap) */
    int retries;
    double last_progress, deadline;
    long timeouts, gap_acks, dup_data, stray;
    int win_accepted, oack_seen;
    uint64_t rng; /* xorshift64 state, for -L */
    long lost_in, lost_out;
    double finished; /* when the last block arrived */
    char why[96];
};

static double g_loss;

/* One draw in [0, 1) from the transfer's own generator (xorshift64). */
static double draw(struct xfer *x) {
    x->rng ^= x->rng << 13;
    x->rng ^= x->rng >> 7;
    x->rng ^= x->rng << 17;
    return (double)(x->rng >> 11) / 9007199254740992.0;
}

/* SplitMix64's output function: spreads a small seed over all 64 bits, so the first draws of
   every transfer are as random as the later ones. */
static uint64_t mix(uint64_t z) {
    z += 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void usage(const char *argv0) {
    fprintf(stderr,
            "usage: %s -f REMOTE -l LOCAL [-H host] [-p port] [-n transfers] [-b blksize]\n"
            "          [-w windowsize] [-s (request tsize)] [-T timeout-option-seconds]\n"
            "          [-r retransmit-seconds] [-d deadline-seconds] [-R max-retries]\n"
            "          [-L loss-percent (each way, 0-50)] [-S seed] [-v]\n"
            "  -b/-w/-T 0 (default): option not requested; lockstep 512 when none is given.\n",
            argv0);
    exit(2);
}

static size_t put_str(char *buf, size_t off, size_t cap, const char *s) {
    size_t l = strlen(s) + 1;
    if (off + l > cap) return off;
    memcpy(buf + off, s, l);
    return off + l;
}

static void send_rrq(const struct opts *o, struct xfer *x) {
    char buf[512], num[32];
    size_t off = 2;
    buf[0] = 0;
    buf[1] = OP_RRQ;
    off = put_str(buf, off, sizeof buf, o->remote);
    off = put_str(buf, off, sizeof buf, "octet");
    if (o->blksize > 0) {
        off = put_str(buf, off, sizeof buf, "blksize");
        snprintf(num, sizeof num, "%d", o->blksize);
        off = put_str(buf, off, sizeof buf, num);
    }
    if (o->windowsize > 0) {
        off = put_str(buf, off, sizeof buf, "windowsize");
        snprintf(num, sizeof num, "%d", o->windowsize);
        off = put_str(buf, off, sizeof buf, num);
    }
    if (o->tsize) {
        off = put_str(buf, off, sizeof buf, "tsize");
        off = put_str(buf, off, sizeof buf, "0");
    }
    if (o->timeout_opt > 0) {
        off = put_str(buf, off, sizeof buf, "timeout");
        snprintf(num, sizeof num, "%d", o->timeout_opt);
        off = put_str(buf, off, sizeof buf, num);
    }
    sendto(x->fd, buf, off, 0, (const struct sockaddr *)&x->server, sizeof x->server);
}

static void send_ack(struct xfer *x, uint64_t block) {
    unsigned char b[4] = {0, OP_ACK, (unsigned char)((block >> 8) & 0xff), (unsigned char)(block & 0xff)};
    x->in_window = 0;
    /* The final ACK is never lost: this client does not wait to repeat it, so the server would
       only time out on a transfer the client counts as done. */
    if (g_loss > 0 && x->state != ST_OK && draw(x) < g_loss) {
        x->lost_out++;
        return;
    }
    send(x->fd, b, 4, 0); /* connected to the server's TID: no route lookup per ACK */
}

static void send_error_to(int fd, const struct sockaddr_in *to, int code, const char *msg) {
    char b[128];
    size_t l = strlen(msg);
    if (l > sizeof b - 5) l = sizeof b - 5;
    b[0] = 0;
    b[1] = OP_ERROR;
    b[2] = (char)(code >> 8);
    b[3] = (char)code;
    memcpy(b + 4, msg, l);
    b[4 + l] = 0;
    sendto(fd, b, 5 + l, 0, (const struct sockaddr *)to, sizeof *to);
}

static void fail(struct xfer *x, const char *why) {
    if (x->state == ST_OK || x->state == ST_FAIL) return;
    if (x->have_peer) send_error_to(x->fd, &x->peer, 0, why);
    x->state = ST_FAIL;
    snprintf(x->why, sizeof x->why, "%s", why);
}

/* Parse an OACK; returns 0 on success. */
static int parse_oack(const struct opts *o, struct xfer *x, const unsigned char *p, size_t len, off_t fsize) {
    size_t i = 2;
    int fields = 0;
    while (i < len && fields < 64) {
        const char *name = (const char *)p + i;
        size_t nl = strnlen(name, len - i);
        if (i + nl >= len) return -1;
        i += nl + 1;
        const char *val = (const char *)p + i;
        size_t vl = strnlen(val, len - i);
        if (i + vl >= len) return -1;
        i += vl + 1;
        fields++;
        long v = strtol(val, NULL, 10);
        if (strcasecmp(name, "blksize") == 0) {
            if (o->blksize <= 0 || v < 8 || v > o->blksize) return -1;
            x->blksize = (int)v;
        } else if (strcasecmp(name, "windowsize") == 0) {
            if (o->windowsize <= 0 || v < 1 || v > o->windowsize) return -1;
            x->windowsize = (int)v;
            x->win_accepted = 1;
        } else if (strcasecmp(name, "tsize") == 0) {
            if (!o->tsize || v != (long)fsize) return -1;
        } else if (strcasecmp(name, "timeout") == 0) {
            if (o->timeout_opt <= 0 || v != o->timeout_opt) return -1;
        } else {
            return -1; /* an option we did not ask for */
        }
    }
    return 0;
}

static void on_datagram(const struct opts *o, struct xfer *x, const unsigned char *p, ssize_t len,
                        const struct sockaddr_in *from, const unsigned char *file, off_t fsize, double t) {
    if (x->state != ST_RRQ && x->state != ST_RUN) return;
    if (len < 4) {
        x->stray++;
        return;
    }
    if (from->sin_addr.s_addr != x->server.sin_addr.s_addr) {
        x->stray++;
        return;
    }
    if (!x->have_peer) {
        x->peer = *from;
        x->have_peer = 1;
        /* From now on the socket only hears the server's TID (the kernel drops other sources, so
         * `stray` counts only what arrived before this) and its ACKs skip the route lookup. */
        if (connect(x->fd, (const struct sockaddr *)from, sizeof *from) != 0) {
            fail(x, "connect to the server's TID");
            return;
        }
    } else if (from->sin_port != x->peer.sin_port) { /* RFC 1350 §4: wrong TID */
        send_error_to(x->fd, from, 5, "unknown transfer ID");
        x->stray++;
        return;
    }
    int op = (p[0] << 8) | p[1];
    if (op == OP_ERROR) {
        char m[80];
        snprintf(m, sizeof m, "server error %d: %.60s", (p[2] << 8) | p[3], len > 4 ? (const char *)p + 4 : "");
        x->state = ST_FAIL;
        snprintf(x->why, sizeof x->why, "%s", m);
        return;
    }
    if (op == OP_OACK) {
        if (x->state != ST_RRQ) { /* repeated OACK: our ACK 0 was lost */
            if (x->next == 1) send_ack(x, 0);
            return;
        }
        x->oack_seen = 1;
        if (parse_oack(o, x, p, (size_t)len, fsize) != 0) {
            fail(x, "bad OACK");
            return;
        }
        x->state = ST_RUN;
        x->retries = 0;
        x->last_progress = t;
        send_ack(x, 0);
        return;
    }
    if (op != OP_DATA) {
        fail(x, "unexpected opcode");
        return;
    }
    if (x->state == ST_RRQ) { /* DATA without OACK: the server ignored every option */
        x->state = ST_RUN;
        x->blksize = 512;
        x->windowsize = 1;
    }
    unsigned wire = (unsigned)((p[2] << 8) | p[3]);
    size_t plen = (size_t)len - 4;
    if (wire != (unsigned)(x->next & 0xffff)) {
        /* Duplicate or a gap. RFC 7440 §4: ACK the last block received in order, once per gap. */
        x->dup_data++;
        if (x->gap_acked != x->next) {
            x->gap_acked = x->next;
            x->gap_acks++;
            send_ack(x, x->next - 1);
        }
        return;
    }
    uint64_t offset = (x->next - 1) * (uint64_t)x->blksize;
    uint64_t remaining = (uint64_t)fsize > offset ? (uint64_t)fsize - offset : 0;
    uint64_t want = remaining < (uint64_t)x->blksize ? remaining : (uint64_t)x->blksize;
    if (plen != want) {
        fail(x, "block length mismatch");
        return;
    }
    if (plen && memcmp(p + 4, file + offset, plen) != 0) {
        fail(x, "content mismatch");
        return;
    }
    x->bytes += plen;
    x->retries = 0;
    x->last_progress = t;
    x->next++;
    if (plen < (size_t)x->blksize) { /* last block */
        x->state = ST_OK;
        send_ack(x, x->next - 1);
        x->finished = t;
        return;
    }
    if (++x->in_window >= x->windowsize) send_ack(x, x->next - 1);
}

int main(int argc, char **argv) {
    struct opts o = {.host = "127.0.0.1", .port = 69, .n = 1, .retransmit_s = 1.0, .deadline_s = 120, .max_retries = 8};
    int c;
    while ((c = getopt(argc, argv, "H:p:f:l:n:b:w:sT:r:d:R:L:S:v")) != -1) {
        switch (c) {
        case 'H': o.host = optarg; break;
        case 'p': o.port = atoi(optarg); break;
        case 'f': o.remote = optarg; break;
        case 'l': o.local = optarg; break;
        case 'n': o.n = atoi(optarg); break;
        case 'b': o.blksize = atoi(optarg); break;
        case 'w': o.windowsize = atoi(optarg); break;
        case 's': o.tsize = 1; break;
        case 'T': o.timeout_opt = atoi(optarg); break;
        case 'r': o.retransmit_s = atof(optarg); break;
        case 'd': o.deadline_s = atof(optarg); break;
        case 'R': o.max_retries = atoi(optarg); break;
        case 'L': o.loss = atof(optarg) / 100.0; break;
        case 'S': o.seed = (unsigned)strtoul(optarg, NULL, 10); break;
        case 'v': o.verbose = 1; break;
        default: usage(argv[0]);
        }
    }
    if (!o.remote || !o.local || o.n < 1 || o.n > MAX_TRANSFERS || o.blksize < 0 || o.blksize > MAX_BLKSIZE ||
        (o.blksize > 0 && o.blksize < 8) || o.windowsize < 0 || o.windowsize > 65535 || o.port < 1 ||
        o.port > 65535 || o.retransmit_s <= 0 || o.deadline_s <= 0 || o.max_retries < 0 || o.loss < 0 ||
        o.loss > 0.5)
        usage(argv[0]);
    g_loss = o.loss;

    int lfd = open(o.local, O_RDONLY);
    struct stat st;
    if (lfd < 0 || fstat(lfd, &st) != 0) {
        perror(o.local);
        return 2;
    }
    off_t fsize = st.st_size;
    const unsigned char *file = NULL;
    if (fsize > 0) {
        void *m = mmap(NULL, (size_t)fsize, PROT_READ, MAP_PRIVATE | MAP_POPULATE, lfd, 0);
        if (m == MAP_FAILED) {
            perror("mmap");
            return 2;
        }
        file = m;
    }

    struct sockaddr_in srv = {.sin_family = AF_INET, .sin_port = htons((uint16_t)o.port)};
    if (inet_pton(AF_INET, o.host, &srv.sin_addr) != 1) {
        fprintf(stderr, "bad host %s\n", o.host);
        return 2;
    }

    struct xfer *xs = calloc((size_t)o.n, sizeof *xs);
    struct epoll_event *events = calloc((size_t)o.n, sizeof *events);
    /* One receive buffer per message of a recvmmsg burst, the largest a datagram can be. */
    unsigned char *bufs = malloc((size_t)RECV_BURST * RECV_BUF);
    struct mmsghdr *msgs = calloc(RECV_BURST, sizeof *msgs);
    struct iovec *iovs = calloc(RECV_BURST, sizeof *iovs);
    struct sockaddr_in *froms = calloc(RECV_BURST, sizeof *froms);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (!xs || !events || !bufs || !msgs || !iovs || !froms || ep < 0) return 2;

    struct rusage ru0, ru1;
    getrusage(RUSAGE_SELF, &ru0);
    double t0 = now_s();
    for (int i = 0; i < o.n; i++) {
        struct xfer *x = &xs[i];
        x->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (x->fd < 0) {
            perror("socket");
            return 2;
        }
        int rb = 4 << 20;
        setsockopt(x->fd, SOL_SOCKET, SO_RCVBUF, &rb, sizeof rb);
        x->server = srv;
        x->rng = mix(mix(o.seed) ^ (uint64_t)i);
        if (x->rng == 0) x->rng = 1; /* xorshift's one fixed point */
        x->state = ST_RRQ;
        x->blksize = 512;
        x->windowsize = 1;
        x->next = 1;
        x->gap_acked = 0;
        x->last_progress = t0;
        x->deadline = t0 + o.deadline_s;
        struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
        if (epoll_ctl(ep, EPOLL_CTL_ADD, x->fd, &ev) < 0) {
            perror("epoll_ctl");
            return 2;
        }
        send_rrq(&o, x);
    }

    /* Bounded: ends by the global deadline at the latest; the iteration cap is a backstop. */
    double global_deadline = t0 + o.deadline_s + 1;
    long iterations = 0, max_iterations = 200000000L;
    int active = o.n;
    double next_scan = 0, next_timer = global_deadline;
    while (active > 0 && iterations++ < max_iterations) {
        double t = now_s();
        if (t > global_deadline) break;
        if (t >= next_scan) {
            /* Retransmissions and deadlines: every transfer, once a millisecond at most. */
            int np = 0;
            next_timer = global_deadline;
            for (int i = 0; i < o.n; i++) {
                struct xfer *x = &xs[i];
                if (x->state != ST_RRQ && x->state != ST_RUN) continue;
                if (t >= x->deadline) {
                    fail(x, "deadline");
                    continue;
                }
                double due = x->last_progress + o.retransmit_s * (1 << (x->retries < 4 ? x->retries : 4));
                if (t >= due) {
                    if (x->retries >= o.max_retries) {
                        fail(x, "too many retries");
                        continue;
                    }
                    x->retries++;
                    x->timeouts++;
                    x->last_progress = t; /* the timer restarts from the retransmission */
                    if (x->state == ST_RRQ)
                        send_rrq(&o, x);
                    else
                        send_ack(x, x->next - 1);
                    due = t + o.retransmit_s * (1 << (x->retries < 4 ? x->retries : 4));
                }
                if (due < next_timer) next_timer = due;
                if (x->deadline < next_timer) next_timer = x->deadline;
                np++;
            }
            active = np;
            if (np == 0) break;
            next_scan = t + SCAN_INTERVAL;
        }
        int wait_ms = (int)((next_timer - t) * 1000.0) + 1;
        if (wait_ms < 0) wait_ms = 0;
        int r = epoll_wait(ep, events, o.n, wait_ms);
        if (r < 0) {
            if (errno == EINTR) continue;
            perror("epoll_wait");
            break;
        }
        if (r == 0) {
            next_scan = 0; /* a timer is due */
            continue;
        }
        t = now_s();
        for (int k = 0; k < r; k++) {
            struct xfer *x = &xs[events[k].data.u32];
            if (x->state != ST_RRQ && x->state != ST_RUN) {
                epoll_ctl(ep, EPOLL_CTL_DEL, x->fd, NULL);
                continue;
            }
            for (int m = 0; m < RECV_BURST; m++) {
                iovs[m].iov_base = bufs + (size_t)m * RECV_BUF;
                iovs[m].iov_len = RECV_BUF;
                memset(&msgs[m].msg_hdr, 0, sizeof msgs[m].msg_hdr);
                msgs[m].msg_hdr.msg_iov = &iovs[m];
                msgs[m].msg_hdr.msg_iovlen = 1;
                msgs[m].msg_hdr.msg_name = &froms[m];
                msgs[m].msg_hdr.msg_namelen = sizeof froms[m];
            }
            /* A window's worth, or fewer: one syscall, no second call to learn there is no more. */
            int got = recvmmsg(x->fd, msgs, RECV_BURST, MSG_DONTWAIT, NULL);
            if (got < 0) {
                if (errno == ECONNREFUSED) fail(x, "connection refused"); /* ICMP from an earlier send */
                continue;
            }
            for (int m = 0; m < got; m++) {
                if (o.loss > 0 && draw(x) < o.loss) {
                    x->lost_in++;
                    continue;
                }
                on_datagram(&o, x, bufs + (size_t)m * RECV_BUF, msgs[m].msg_len, &froms[m], file, fsize, t);
                if (x->state != ST_RRQ && x->state != ST_RUN) break;
            }
            if (x->state != ST_RRQ && x->state != ST_RUN) {
                epoll_ctl(ep, EPOLL_CTL_DEL, x->fd, NULL);
                active--;
                if (active == 0) next_scan = 0;
            }
        }
    }
    double t1 = now_s();
    getrusage(RUSAGE_SELF, &ru1);

    uint64_t bytes = 0;
    long ok = 0, failed = 0, timeouts = 0, gap_acks = 0, dup = 0, stray = 0, win = 0, oack = 0;
    long lost_in = 0, lost_out = 0;
    double *took = calloc((size_t)o.n, sizeof *took); /* seconds per finished transfer */
    if (!took) {
        perror("calloc");
        return 2;
    }
    int finished = 0;
    const char *first_why = "";
    for (int i = 0; i < o.n; i++) {
        struct xfer *x = &xs[i];
        lost_in += x->lost_in;
        lost_out += x->lost_out;
        if (x->state == ST_OK) took[finished++] = x->finished - t0;
        if (x->state == ST_RRQ || x->state == ST_RUN) fail(x, "unfinished");
        bytes += x->bytes;
        if (x->state == ST_OK && x->bytes == (uint64_t)fsize)
            ok++;
        else {
            failed++;
            if (!*first_why) first_why = x->why[0] ? x->why : "short";
        }
        timeouts += x->timeouts;
        gap_acks += x->gap_acks;
        dup += x->dup_data;
        stray += x->stray;
        win += x->win_accepted;
        oack += x->oack_seen;
        if (o.verbose && x->state != ST_OK) fprintf(stderr, "transfer %d: %s after %llu bytes\n", i, x->why,
                                                     (unsigned long long)x->bytes);
        close(x->fd);
    }
    double secs = t1 - t0;
    double cpu = (double)(ru1.ru_utime.tv_sec - ru0.ru_utime.tv_sec) +
                 (double)(ru1.ru_utime.tv_usec - ru0.ru_utime.tv_usec) / 1e6 +
                 (double)(ru1.ru_stime.tv_sec - ru0.ru_stime.tv_sec) +
                 (double)(ru1.ru_stime.tv_usec - ru0.ru_stime.tv_usec) / 1e6;
    /* Each finished transfer's time, sorted: the median and the slowest. */
    for (int i = 1; i < finished; i++)
        for (int j = i; j > 0 && took[j - 1] > took[j]; j--) {
            double swap = took[j];
            took[j] = took[j - 1];
            took[j - 1] = swap;
        }
    double p50 = finished ? took[(finished - 1) / 2] : 0, slowest = finished ? took[finished - 1] : 0;
    free(took);
    printf("bytes=%llu seconds=%.3f mbps=%.2f ok=%ld failed=%ld retransmits=%ld gap_acks=%ld dup_data=%ld "
           "stray=%ld oack=%ld window_accepted=%ld lost_in=%ld lost_out=%ld xfer_p50_s=%.3f xfer_max_s=%.3f "
           "client_cpu=%.3f first_error=\"%s\"\n",
           (unsigned long long)bytes, secs, secs > 0 ? (double)bytes / secs / 1e6 : 0.0, ok, failed, timeouts,
           gap_acks, dup, stray, oack, win, lost_in, lost_out, p50, slowest, cpu, first_why);
    return failed ? 1 : 0;
}
