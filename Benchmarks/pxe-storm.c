/*
 * pxe-storm: a PXE "boot storm" generator for benchmarking proxyDHCP servers.
 *
 * Written from RFC 2131/2132 (DHCP), RFC 4578 (options 93, 94, 97), PXE 2.1 (option 43, the
 * boot server on port 4011) and the golden request packets in Tests/DHCPv4Tests/Fixtures/.
 *
 * Keeps C requests outstanding (1..256) from N distinct MACs, for a fixed time and/or a fixed
 * number of requests, and checks every reply: xid and chaddr of the request it answers,
 * op BOOTREPLY, message type OFFER (ACK for port 4011), option 60 "PXEClient" and a non-empty
 * boot file (file field or option 67; for iPXE clients a URL, for UEFI PXE a file name).
 * Each request has a unique xid, which also says which slot it belongs to.
 *
 * Request kinds (-k); each packet has the options, option order and size of the captured one:
 *   uefi         DHCPDISCOVER to port 67 from EDK2's PXE client (x86-64 UEFI), as in
 *                ovmf-x64-discover.bin but announcing UNDI 3.16 (option 94 01 03 10, option 60
 *                "PXEClient:Arch:00007:UNDI:003016") like current EDK2 builds
 *   request4011  DHCPREQUEST to port 4011, as PXE firmware sends it in the boot-server
 *                strategy: ciaddr set, option 43 boot item (sub-option 71) type 0x8000 layer 0
 *   ipxe         DHCPDISCOVER from iPXE (EFI build): user class "iPXE", option 175
 *   mix          the three in turn
 *
 * Where replies go (-m):
 *   relay      (default) the DISCOVERs carry giaddr = our own address (-B), as a relay agent
 *              would send them, and go unicast to the server's port 67. Servers answer relayed
 *              requests unicast to giaddr:67 (RFC 2131 §4.1), so we listen on -B port 67.
 *   broadcast  the DISCOVERs go to 255.255.255.255:67 from port 68 with giaddr 0 (a real client
 *              without an address), out of interface -I; servers broadcast the replies to
 *              255.255.255.255:68, which we receive on 0.0.0.0:68 bound to -I. Run it in a
 *              network namespace of its own: every socket on port 68 there sees every reply.
 *   Port 4011 REQUESTs go from -B port 68 (the client's DHCP port) to the server, with
 *   ciaddr = -B; servers answer to the source address and port (dnsmasq: ciaddr and source port).
 *
 * Every loop is bounded in time (-d, at most an hour, plus -W and one -t) and in iterations.
 *
 * Output: one line of key=value pairs, e.g.
 *   sent=... answered=... errors=... timeouts=... stray=... dup=... seconds=... rate=...
 *   p50_us=... p90_us=... p99_us=... max_us=... kind=... outstanding=... macs=...
 *   answered_uefi=... answered_4011=... answered_ipxe=... client_cpu=... first_error="..."
 * answered, rate and the latencies cover the measured window (after -W); sent, errors (wrong
 * replies), timeouts (no reply within -t), stray (unknown or late xid) and dup the whole run.
 *
 * Build: cc -O2 -Wall -Wextra -Werror -o pxe-storm pxe-storm.c
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_OUTSTANDING 256
#define MAX_MACS 1000000
#define MAX_DURATION_S 3600.0
#define MAX_TIMEOUT_MS 10000
#define PKT_MAX 576
#define BATCH 64                  /* datagrams per recvmmsg/sendmmsg */
#define SEQ_LIMIT (1u << 24)      /* xid = (seq << 8 | slot) ^ mask: seq must stay below 2^24 */

enum kind { K_UEFI, K_REQ4011, K_IPXE, K_MIX };
static const char *const kind_names[] = {"uefi", "request4011", "ipxe", "mix"};
enum { MODE_RELAY, MODE_BROADCAST };
enum { DHCPDISCOVER = 1, DHCPOFFER = 2, DHCPREQUEST = 3, DHCPACK = 5 };

/* EDK2's parameter request list (OVMF 2022.11, ovmf-x64-discover.bin): 35 codes. */
static const unsigned char edk2_prl[] = {1,  2,  3,  4,  5,  6,  12, 13, 15, 17, 18, 22,
                                         23, 28, 40, 41, 42, 43, 50, 51, 54, 58, 59, 60,
                                         66, 67, 97, 128, 129, 130, 131, 132, 133, 134, 135};
/* iPXE's parameter request list (ipxe-efi-discover.bin): 23 codes. */
static const unsigned char ipxe_prl[] = {1,  3,  6,   7,   12,  15,  17,  26,  43,  60,  66, 67,
                                         119, 128, 129, 130, 131, 132, 133, 134, 135, 175, 203};
/* iPXE's option 175 from the EFI virtio-net ROM (ipxe-efi-discover.bin): bus id, version 1.0.0,
 * feature flags. */
static const unsigned char ipxe_175[] = {0xb1, 0x05, 0x01, 0x1a, 0xf4, 0x10, 0x00, 0xeb, 0x03, 0x01, 0x00, 0x00,
                                         0x17, 0x01, 0x01, 0x24, 0x01, 0x01, 0x13, 0x01, 0x01, 0x11, 0x01, 0x01,
                                         0x27, 0x01, 0x01, 0x29, 0x01, 0x01, 0x15, 0x01, 0x01, 0x12, 0x01, 0x01};

/* A request template: the packet, and where the per-request fields go. */
struct tmpl {
    unsigned char pkt[PKT_MAX];
    size_t len;
    size_t guid_off; /* 16-byte GUID in option 97 */
    size_t cid_off;  /* MAC in option 61 (iPXE), 0 = none */
    int to4011;      /* sent to the PXE port, answered with ACK */
    int want_url;    /* iPXE: the boot file must be a URL */
};

struct slot {
    int busy;
    uint32_t xid;
    uint32_t mac;
    int kind;
    int64_t sent_ns;
};

struct opts {
    const char *host, *bind, *ifname;
    int kind, mode, port67, port4011, outstanding, timeout_ms, verbose;
    long macs, count;
    double duration, warmup, ramp;
    uint32_t seed;
};

struct stats {
    long sent, answered, errors, timeouts, stray, dup, by_kind[3];
    char first_error[120];
};

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void usage(const char *argv0) {
    fprintf(stderr,
            "usage: %s -H server -B own-address [-k uefi|request4011|ipxe|mix] [-m relay|broadcast]\n"
            "          [-I interface] [-n macs] [-c outstanding 1..256] [-d seconds] [-N requests]\n"
            "          [-t timeout-ms] [-W warmup-seconds] [-R ramp-seconds] [-p dhcp-port] [-P pxe-port]\n"
            "          [-s xid-seed] [-v]\n"
            "  -R: open the -c slots evenly over this many seconds (default 0: all at once, a burst).\n"
            "  Sends for -W seconds (default 0) unmeasured, then for -d seconds (default 5, at most\n"
            "  3600) or until -N requests were sent in all, whichever comes first; then waits for the\n"
            "  outstanding ones (at most -t ms, default 1000). Rate and latency count the answers that\n"
            "  arrive in the measured window; errors and timeouts count the whole run.\n",
            argv0);
    exit(2);
}

/* --- requests ------------------------------------------------------------------------------- */

static size_t opt_put(unsigned char *p, size_t off, unsigned code, const void *data, size_t len) {
    if (off + 2 + len > PKT_MAX - 1) {
        fprintf(stderr, "template too long\n");
        exit(2);
    }
    p[off] = (unsigned char)code;
    p[off + 1] = (unsigned char)len;
    memcpy(p + off + 2, data, len);
    return off + 2 + len;
}

static void build_templates(struct tmpl t[3], struct in_addr own, int mode) {
    static const unsigned char cookie[] = {0x63, 0x82, 0x53, 0x63};
    static const unsigned char maxsize[] = {0x05, 0xc0}; /* 1472 */
    static const unsigned char arch[] = {0x00, 0x07};     /* x86-64 UEFI */
    static const unsigned char zero_guid[17] = {0};
    memset(t, 0, 3 * sizeof *t);
    for (int k = 0; k < 3; k++) {
        unsigned char *p = t[k].pkt;
        p[0] = 1; /* BOOTREQUEST */
        p[1] = 1; /* Ethernet */
        p[2] = 6;
        memcpy(p + 236, cookie, 4);
    }
    unsigned char *p;
    size_t o;
    unsigned char b;

    /* uefi: EDK2 DISCOVER, options in EDK2's order (53, 57, 55, 97, 94, 93, 60). */
    p = t[K_UEFI].pkt;
    p[10] = 0x80; /* flags: broadcast, as EDK2 sets it */
    if (mode == MODE_RELAY) {
        p[3] = 1; /* hops: one relay */
        memcpy(p + 24, &own, 4); /* giaddr */
    }
    o = 240;
    b = DHCPDISCOVER;
    o = opt_put(p, o, 53, &b, 1);
    o = opt_put(p, o, 57, maxsize, 2);
    o = opt_put(p, o, 55, edk2_prl, sizeof edk2_prl);
    t[K_UEFI].guid_off = o + 3;
    o = opt_put(p, o, 97, zero_guid, 17);
    o = opt_put(p, o, 94, (const unsigned char[]){0x01, 0x03, 0x10}, 3); /* UNDI 3.16 */
    o = opt_put(p, o, 93, arch, 2);
    o = opt_put(p, o, 60, "PXEClient:Arch:00007:UNDI:003016", 32);
    p[o++] = 255;
    t[K_UEFI].len = o;

    /* request4011: EDK2's boot-server REQUEST (ovmf-x64-request-4011.bin): ciaddr set, option 43
     * with boot item 71 = type 0x8000 layer 0, then 53, 55, 57, 60, 93, 94, 97. */
    p = t[K_REQ4011].pkt;
    memcpy(p + 12, &own, 4); /* ciaddr */
    o = 240;
    o = opt_put(p, o, 43, (const unsigned char[]){71, 4, 0x80, 0x00, 0x00, 0x00, 255}, 7);
    b = DHCPREQUEST;
    o = opt_put(p, o, 53, &b, 1);
    o = opt_put(p, o, 55, edk2_prl, sizeof edk2_prl);
    o = opt_put(p, o, 57, maxsize, 2);
    o = opt_put(p, o, 60, "PXEClient:Arch:00007:UNDI:003016", 32);
    o = opt_put(p, o, 93, arch, 2);
    o = opt_put(p, o, 94, (const unsigned char[]){0x01, 0x03, 0x10}, 3);
    t[K_REQ4011].guid_off = o + 3;
    o = opt_put(p, o, 97, zero_guid, 17);
    p[o++] = 255;
    t[K_REQ4011].len = o;
    t[K_REQ4011].to4011 = 1;

    /* ipxe: iPXE EFI DISCOVER (ipxe-efi-discover.bin): 53, 57, 93, 94, 60, 77, 55, 175, 61, 97. */
    p = t[K_IPXE].pkt;
    p[9] = 4; /* secs, as captured */
    if (mode == MODE_RELAY) {
        p[3] = 1;
        memcpy(p + 24, &own, 4);
    }
    o = 240;
    b = DHCPDISCOVER;
    o = opt_put(p, o, 53, &b, 1);
    o = opt_put(p, o, 57, maxsize, 2);
    o = opt_put(p, o, 93, arch, 2);
    o = opt_put(p, o, 94, (const unsigned char[]){0x01, 0x03, 0x0a}, 3); /* UNDI 3.10 */
    o = opt_put(p, o, 60, "PXEClient:Arch:00007:UNDI:003010", 32);
    o = opt_put(p, o, 77, "iPXE", 4);
    o = opt_put(p, o, 55, ipxe_prl, sizeof ipxe_prl);
    o = opt_put(p, o, 175, ipxe_175, sizeof ipxe_175);
    t[K_IPXE].cid_off = o + 3;
    o = opt_put(p, o, 61, (const unsigned char[]){1, 0, 0, 0, 0, 0, 0}, 7);
    t[K_IPXE].guid_off = o + 3;
    o = opt_put(p, o, 97, zero_guid, 17);
    p[o++] = 255;
    t[K_IPXE].len = o;
    t[K_IPXE].want_url = 1;
}

/* Locally administered, unicast: 02:50:58 ("PX"), then the index: the same machines every run. */
static void mac_of(uint32_t index, unsigned char mac[6]) {
    mac[0] = 0x02;
    mac[1] = 0x50;
    mac[2] = 0x58;
    mac[3] = (unsigned char)(index >> 16);
    mac[4] = (unsigned char)(index >> 8);
    mac[5] = (unsigned char)index;
}

static size_t fill_request(const struct tmpl *t, unsigned char *out, uint32_t xid, uint32_t mac_index) {
    unsigned char mac[6];
    mac_of(mac_index, mac);
    memcpy(out, t->pkt, t->len);
    out[4] = (unsigned char)(xid >> 24);
    out[5] = (unsigned char)(xid >> 16);
    out[6] = (unsigned char)(xid >> 8);
    out[7] = (unsigned char)xid;
    memcpy(out + 28, mac, 6);
    /* A per-machine SMBIOS UUID: the MAC index in the last octets. */
    unsigned char *g = out + t->guid_off;
    memset(g, 0, 16);
    g[0] = 0x56; g[1] = 0x42; g[2] = 0x4f; g[3] = 0x4f; /* "VBOO" */
    memcpy(g + 10, mac, 6);
    if (t->cid_off) memcpy(out + t->cid_off, mac, 6);
    return t->len;
}

/* --- replies -------------------------------------------------------------------------------- */

struct parsed {
    int msgtype, overload;
    const unsigned char *vendor, *bootfile;
    size_t vendor_len, bootfile_len;
};

/* Walks one options area; returns 0, or -1 on a malformed area. */
static int parse_options(const unsigned char *p, size_t len, struct parsed *r) {
    size_t i = 0;
    for (int n = 0; i < len && n < 512; n++) {
        unsigned code = p[i];
        if (code == 0) { i++; continue; }
        if (code == 255) return 0;
        if (i + 1 >= len) return -1;
        size_t l = p[i + 1];
        if (i + 2 + l > len) return -1;
        const unsigned char *v = p + i + 2;
        switch (code) {
        case 53: if (l == 1) r->msgtype = v[0]; break;
        case 52: if (l == 1) r->overload = v[0]; break;
        case 60: r->vendor = v; r->vendor_len = l; break;
        case 67: r->bootfile = v; r->bootfile_len = l; break;
        default: break;
        }
        i += 2 + l;
    }
    return 0; /* options may end at the end of the packet without 255 */
}

static int contains(const unsigned char *s, size_t n, const char *needle) {
    size_t k = strlen(needle);
    for (size_t i = 0; i + k <= n; i++)
        if (memcmp(s + i, needle, k) == 0) return 1;
    return 0;
}

/* Checks a reply against the request in slot s; returns NULL when it is right, else why not. */
static const char *check_reply(const unsigned char *p, size_t len, const struct slot *s, const struct tmpl *t) {
    static const unsigned char cookie[] = {0x63, 0x82, 0x53, 0x63};
    if (len < 240) return "short reply";
    if (p[0] != 2) return "op is not BOOTREPLY";
    unsigned char mac[6];
    mac_of(s->mac, mac);
    if (p[2] != 6 || memcmp(p + 28, mac, 6) != 0) return "chaddr differs";
    if (memcmp(p + 236, cookie, 4) != 0) return "no magic cookie";
    struct parsed r = {0};
    if (parse_options(p + 240, len - 240, &r) != 0) return "malformed options";
    if (r.overload & 1 && parse_options(p + 108, 128, &r) != 0) return "malformed options in file";
    if (r.overload & 2 && parse_options(p + 44, 64, &r) != 0) return "malformed options in sname";
    if (r.msgtype != (t->to4011 ? DHCPACK : DHCPOFFER)) return t->to4011 ? "not an ACK" : "not an OFFER";
    if (r.vendor_len != 9 || memcmp(r.vendor, "PXEClient", 9) != 0) return "option 60 is not PXEClient";
    const unsigned char *file = NULL;
    size_t flen = 0;
    if (!(r.overload & 1)) {
        file = p + 108;
        flen = strnlen((const char *)file, 128);
    }
    if (flen == 0 && r.bootfile) {
        file = r.bootfile;
        flen = strnlen((const char *)file, r.bootfile_len);
    }
    if (flen == 0) return "no boot file";
    if (t->want_url && !contains(file, flen, "://")) return "iPXE client got a file name, not a URL";
    if (!t->want_url && contains(file, flen, "://")) return "PXE client got a URL";
    return NULL;
}

/* --- sockets -------------------------------------------------------------------------------- */

static int udp_socket(struct in_addr addr, int port, const char *ifname, int broadcast) {
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        perror("socket");
        exit(2);
    }
    int one = 1, buf = 4 << 20;
    /* SO_REUSEADDR: the server's wildcard socket on port 67 may share the host. */
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof buf);
    if (broadcast) setsockopt(fd, SOL_SOCKET, SO_BROADCAST, &one, sizeof one);
    if (ifname && setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, ifname, (socklen_t)strlen(ifname)) != 0) {
        perror("SO_BINDTODEVICE");
        exit(2);
    }
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port), .sin_addr = addr};
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        fprintf(stderr, "bind %s:%d: %s\n", inet_ntoa(addr), port, strerror(errno));
        exit(2);
    }
    return fd;
}

/* --- main loop ------------------------------------------------------------------------------ */

struct outq {
    struct mmsghdr msg[MAX_OUTSTANDING];
    struct iovec iov[MAX_OUTSTANDING];
    int n;
};

static void flush_out(int fd, struct outq *q, struct stats *st, const char **err) {
    int done = 0;
    for (int tries = 0; done < q->n && tries < 1000; tries++) {
        int r = sendmmsg(fd, q->msg + done, (unsigned)(q->n - done), 0);
        if (r < 0) {
            if (errno == EINTR || errno == EAGAIN || errno == ENOBUFS) continue;
            if (!*err) *err = strerror(errno);
            break;
        }
        done += r;
    }
    st->sent += done;
    q->n = 0;
}

/* What issue() needs: the requests in flight and the send queues. */
struct run {
    const struct opts *o;
    struct tmpl t[3];
    struct slot *slots;
    unsigned char (*outbuf)[PKT_MAX];
    struct outq q67, q68;
    struct sockaddr_in to67, to4011;
    uint32_t seq, xmask;
    int inflight;
};

/* Issues a new request in slot i: a fresh xid, the next MAC; queued until flush_out. */
static void issue(struct run *R, int i) {
    const struct opts *o = R->o;
    struct slot *s = &R->slots[i];
    int k = o->kind == K_MIX ? (int)(R->seq % 3) : o->kind;
    s->busy = 1;
    s->kind = k;
    s->mac = (uint32_t)(R->seq % (uint32_t)o->macs);
    s->xid = ((R->seq << 8) | (uint32_t)i) ^ R->xmask;
    R->seq++;
    size_t len = fill_request(&R->t[k], R->outbuf[i], s->xid, s->mac);
    struct outq *q = (R->t[k].to4011 || o->mode == MODE_BROADCAST) ? &R->q68 : &R->q67;
    struct mmsghdr *m = &q->msg[q->n];
    q->iov[q->n].iov_base = R->outbuf[i];
    q->iov[q->n].iov_len = len;
    memset(m, 0, sizeof *m);
    m->msg_hdr.msg_iov = &q->iov[q->n];
    m->msg_hdr.msg_iovlen = 1;
    m->msg_hdr.msg_name = R->t[k].to4011 ? &R->to4011 : &R->to67;
    m->msg_hdr.msg_namelen = sizeof(struct sockaddr_in);
    q->n++;
    R->inflight++;
}

int main(int argc, char **argv) {
    struct opts o = {.host = "127.0.0.1", .kind = K_UEFI, .mode = MODE_RELAY, .port67 = 67, .port4011 = 4011,
                     .outstanding = 1, .timeout_ms = 1000, .macs = 4096, .duration = 5.0};
    o.seed = (uint32_t)getpid() ^ (uint32_t)now_ns();
    int c;
    while ((c = getopt(argc, argv, "H:B:k:m:I:n:c:d:N:t:W:R:p:P:s:v")) != -1) {
        switch (c) {
        case 'H': o.host = optarg; break;
        case 'B': o.bind = optarg; break;
        case 'k':
            o.kind = -1;
            for (int k = 0; k < 4; k++)
                if (strcmp(optarg, kind_names[k]) == 0) o.kind = k;
            if (o.kind < 0) usage(argv[0]);
            break;
        case 'm':
            if (strcmp(optarg, "relay") == 0) o.mode = MODE_RELAY;
            else if (strcmp(optarg, "broadcast") == 0) o.mode = MODE_BROADCAST;
            else usage(argv[0]);
            break;
        case 'I': o.ifname = optarg; break;
        case 'n': o.macs = atol(optarg); break;
        case 'c': o.outstanding = atoi(optarg); break;
        case 'd': o.duration = atof(optarg); break;
        case 'N': o.count = atol(optarg); break;
        case 't': o.timeout_ms = atoi(optarg); break;
        case 'W': o.warmup = atof(optarg); break;
        case 'R': o.ramp = atof(optarg); break;
        case 'p': o.port67 = atoi(optarg); break;
        case 'P': o.port4011 = atoi(optarg); break;
        case 's': o.seed = (uint32_t)strtoul(optarg, NULL, 0); break;
        case 'v': o.verbose++; break;
        default: usage(argv[0]);
        }
    }
    if (!o.bind || o.macs < 1 || o.macs > MAX_MACS || o.outstanding < 1 || o.outstanding > MAX_OUTSTANDING ||
        !(o.duration > 0) || o.duration > MAX_DURATION_S || o.warmup < 0 || o.warmup > 60 || o.ramp < 0 ||
        o.ramp > 60 || o.count < 0 || o.timeout_ms < 1 || o.timeout_ms > MAX_TIMEOUT_MS || o.port67 < 1 ||
        o.port67 > 65535 || o.port4011 < 1 || o.port4011 > 65535 || (o.mode == MODE_BROADCAST && !o.ifname))
        usage(argv[0]);
    if (o.count == 0 || o.count > (long)SEQ_LIMIT) o.count = SEQ_LIMIT;

    struct in_addr server, own, any = {.s_addr = htonl(INADDR_ANY)};
    if (inet_pton(AF_INET, o.host, &server) != 1 || inet_pton(AF_INET, o.bind, &own) != 1) {
        fprintf(stderr, "bad address\n");
        return 2;
    }
    static struct run R;
    R.o = &o;
    build_templates(R.t, own, o.mode);

    /* fd67: relay mode, DISCOVERs out and OFFERs in (to giaddr:67). fd68: port 4011 REQUESTs and
     * their ACKs; in broadcast mode also the DISCOVERs and the broadcast OFFERs. */
    int fd67 = -1, fd68;
    if (o.mode == MODE_RELAY) {
        int want67 = o.kind != K_REQ4011;
        if (want67) fd67 = udp_socket(own, 67, NULL, 0);
        fd68 = udp_socket(own, 68, NULL, 0);
    } else {
        fd68 = udp_socket(any, 68, o.ifname, 1);
    }
    R.to67 = (struct sockaddr_in){.sin_family = AF_INET, .sin_port = htons((uint16_t)o.port67), .sin_addr = server};
    R.to4011 = (struct sockaddr_in){.sin_family = AF_INET, .sin_port = htons((uint16_t)o.port4011), .sin_addr = server};
    if (o.mode == MODE_BROADCAST) R.to67.sin_addr.s_addr = htonl(INADDR_BROADCAST);

    int n = o.outstanding;
    struct slot *slots = R.slots = calloc((size_t)n, sizeof *slots);
    R.outbuf = calloc((size_t)n, PKT_MAX);
    size_t hist_len = (size_t)o.timeout_ms * 1000 + 1;
    uint32_t *hist = calloc(hist_len, sizeof *hist); /* 1 µs buckets up to the timeout */
    static unsigned char inbuf[BATCH][2048];
    struct mmsghdr inmsg[BATCH];
    struct iovec iniov[BATCH];
    if (!slots || !R.outbuf || !hist) return 2;
    for (int i = 0; i < BATCH; i++) {
        iniov[i].iov_base = inbuf[i];
        iniov[i].iov_len = sizeof inbuf[i];
        memset(&inmsg[i], 0, sizeof inmsg[i]);
        inmsg[i].msg_hdr.msg_iov = &iniov[i];
        inmsg[i].msg_hdr.msg_iovlen = 1;
    }

    struct stats st = {0};
    const char *send_err = NULL;
    R.xmask = o.seed * 2654435761u;
    int64_t latency_max = 0;
    struct rusage ru0, ru1;
    getrusage(RUSAGE_SELF, &ru0);
    int64_t t0 = now_ns();
    int64_t window_start = t0 + (int64_t)(o.warmup * 1e9);
    int64_t send_until = window_start + (int64_t)(o.duration * 1e9);
    int64_t timeout_ns = (int64_t)o.timeout_ms * 1000000LL;
    int64_t hard_end = send_until + timeout_ns + 1000000000LL;
    int64_t last_done = window_start;

    /* Slot i opens at t0 + ramp * i / n (all at once without -R). */
    int64_t ramp_ns = (int64_t)(o.ramp * 1e9);
    int opened = 0;
    int64_t tsend;

    long iterations = 0, max_iterations = 400000000L;
    while (iterations++ < max_iterations) {
        int64_t t = now_ns();
        if (t >= hard_end) break;
        int sending = t < send_until && (long)R.seq < o.count;
        if (!sending && R.inflight == 0) break;

        if (sending && opened < n) { /* open the slots that are due */
            int due = ramp_ns > 0 ? (int)((t - t0) * n / ramp_ns) + 1 : n;
            int first = opened;
            for (; opened < n && opened < due && (long)R.seq < o.count; opened++) issue(&R, opened);
            tsend = now_ns();
            for (int i = first; i < opened; i++) slots[i].sent_ns = tsend;
            if (R.q67.n) flush_out(fd67, &R.q67, &st, &send_err);
            if (R.q68.n) flush_out(fd68, &R.q68, &st, &send_err);
        }
        /* Sleep until the next slot opens or the earliest timeout, at the latest. */
        int64_t wake = sending ? send_until : hard_end;
        if (sending && opened < n && ramp_ns > 0) {
            int64_t next_open = t0 + ramp_ns * opened / n;
            if (next_open < wake) wake = next_open;
        }
        for (int i = 0; i < n; i++)
            if (slots[i].busy && slots[i].sent_ns + timeout_ns < wake) wake = slots[i].sent_ns + timeout_ns;
        struct pollfd pfd[2];
        int np = 0;
        if (fd67 >= 0) pfd[np++] = (struct pollfd){.fd = fd67, .events = POLLIN};
        pfd[np++] = (struct pollfd){.fd = fd68, .events = POLLIN};
        int64_t wait = wake - t;
        if (wait < 0) wait = 0;
        struct timespec ts = {.tv_sec = wait / 1000000000LL, .tv_nsec = wait % 1000000000LL};
        int r = ppoll(pfd, (nfds_t)np, &ts, NULL);
        if (r < 0) {
            if (errno == EINTR) continue;
            perror("poll");
            break;
        }
        int freed[MAX_OUTSTANDING];
        int nfreed = 0;
        for (int f = 0; f < np && r > 0; f++) {
            if (!(pfd[f].revents & (POLLIN | POLLERR))) continue;
            for (int burst = 0; burst < 16; burst++) {
                int got = recvmmsg(pfd[f].fd, inmsg, BATCH, MSG_DONTWAIT, NULL);
                if (got <= 0) break;
                int64_t trecv = now_ns();
                for (int m = 0; m < got; m++) {
                    const unsigned char *p = inbuf[m];
                    size_t len = inmsg[m].msg_len;
                    if (len < 8) {
                        st.stray++;
                        continue;
                    }
                    uint32_t xid = (uint32_t)p[4] << 24 | (uint32_t)p[5] << 16 | (uint32_t)p[6] << 8 | p[7];
                    uint32_t i = (xid ^ R.xmask) & 0xff;
                    if (i >= (uint32_t)n || slots[i].xid != xid) {
                        st.stray++; /* an unknown xid, or a late reply to a request that timed out */
                        continue;
                    }
                    if (!slots[i].busy) {
                        st.dup++; /* a second reply to an answered request */
                        continue;
                    }
                    struct slot *s = &slots[i];
                    const char *why = check_reply(p, len, s, &R.t[s->kind]);
                    if (why) {
                        st.errors++;
                        if (!st.first_error[0])
                            snprintf(st.first_error, sizeof st.first_error, "%s: %s", kind_names[s->kind], why);
                        if (o.verbose > 1 || (o.verbose && st.errors <= 10))
                            fprintf(stderr, "xid %08x (%s): %s\n", xid, kind_names[s->kind], why);
                    } else if (trecv >= window_start && trecv <= send_until) {
                        st.answered++;
                        st.by_kind[s->kind]++;
                        int64_t us = (trecv - s->sent_ns) / 1000;
                        if (us < 0) us = 0;
                        if (us > latency_max) latency_max = us;
                        hist[(size_t)us < hist_len ? (size_t)us : hist_len - 1]++;
                        last_done = trecv;
                    }
                    s->busy = 0;
                    R.inflight--;
                    freed[nfreed++] = (int)i;
                }
                if (got < BATCH) break;
            }
        }
        t = now_ns();
        for (int i = 0; i < n; i++) {
            if (slots[i].busy && t - slots[i].sent_ns >= timeout_ns) {
                slots[i].busy = 0; /* its xid stays, so a late reply counts as stray */
                R.inflight--;
                st.timeouts++;
                if (o.verbose > 1 || (o.verbose && st.timeouts <= 10))
                    fprintf(stderr, "xid %08x (%s): timeout, sent at %.3f s\n", slots[i].xid,
                            kind_names[slots[i].kind], (double)(slots[i].sent_ns - t0) / 1e9);
                freed[nfreed++] = i;
            }
        }
        if (t < send_until) {
            for (int k = 0; k < nfreed && (long)R.seq < o.count; k++) issue(&R, freed[k]);
            tsend = now_ns();
            for (int k = 0; k < nfreed; k++)
                if (slots[freed[k]].busy) slots[freed[k]].sent_ns = tsend;
            if (R.q67.n) flush_out(fd67, &R.q67, &st, &send_err);
            if (R.q68.n) flush_out(fd68, &R.q68, &st, &send_err);
        }
    }
    getrusage(RUSAGE_SELF, &ru1);
    st.timeouts += R.inflight; /* still in flight at the hard end */

    /* Percentiles from the histogram. */
    long pct[3] = {0, 0, 0};
    const double want[3] = {0.50, 0.90, 0.99};
    if (st.answered > 0) {
        uint64_t acc = 0;
        int w = 0;
        for (size_t b = 0; b < hist_len && w < 3; b++) {
            acc += hist[b];
            while (w < 3 && (double)acc >= want[w] * (double)st.answered) pct[w++] = (long)b;
        }
    }
    /* The window ends when sending stopped by time, or at the last answer when -N ended it. */
    int64_t window_end = (long)R.seq >= o.count && last_done < send_until ? last_done : send_until;
    double secs = (double)(window_end - window_start) / 1e9;
    double cpu = (double)(ru1.ru_utime.tv_sec - ru0.ru_utime.tv_sec) +
                 (double)(ru1.ru_utime.tv_usec - ru0.ru_utime.tv_usec) / 1e6 +
                 (double)(ru1.ru_stime.tv_sec - ru0.ru_stime.tv_sec) +
                 (double)(ru1.ru_stime.tv_usec - ru0.ru_stime.tv_usec) / 1e6;
    if (!st.first_error[0] && send_err) snprintf(st.first_error, sizeof st.first_error, "send: %s", send_err);
    printf("sent=%ld answered=%ld errors=%ld timeouts=%ld stray=%ld dup=%ld seconds=%.3f rate=%.1f p50_us=%ld "
           "p90_us=%ld p99_us=%ld max_us=%lld kind=%s outstanding=%d macs=%ld answered_uefi=%ld "
           "answered_4011=%ld answered_ipxe=%ld client_cpu=%.3f first_error=\"%s\"\n",
           st.sent, st.answered, st.errors, st.timeouts, st.stray, st.dup, secs,
           secs > 0 ? (double)st.answered / secs : 0.0, pct[0], pct[1], pct[2], (long long)latency_max,
           kind_names[o.kind], n, o.macs, st.by_kind[K_UEFI], st.by_kind[K_REQ4011], st.by_kind[K_IPXE], cpu,
           st.first_error);
    if (fd67 >= 0) close(fd67);
    close(fd68);
    free(hist);
    free(R.outbuf);
    free(slots);
    return (st.errors > 0 || st.answered == 0) ? 1 : 0;
}
