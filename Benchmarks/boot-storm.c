/*
 * boot-storm: N machines run the whole network boot chain at the same time, against vboot or
 * against dnsmasq + nginx.
 *
 * Written from RFC 2131/2132 (DHCP), RFC 4578 (options 93, 94, 97), PXE 2.1, RFC 1350, 2347,
 * 2348, 2349 and 7440 (TFTP), RFC 9112 (HTTP/1.1), and the golden request packets in
 * Tests/DHCPv4Tests/Fixtures/ (EDK2's and iPXE's DHCPDISCOVERs, as in pxe-storm.c).
 *
 * Each simulated machine has its own MAC (52:54:00:5X:XX:XX), its own sockets, and, unless
 * --client-net none, its own source address (127.77.X.Y). It goes through:
 *   1. dhcp   UEFI PXE firmware (EDK2): DHCPDISCOVER to the server's port 67 with options 53,
 *             57, 55, 97, 94, 93 and 60 "PXEClient:Arch:00007:UNDI:003016". The proxyDHCP
 *             OFFER must match xid and chaddr, carry option 60 "PXEClient" and name the boot
 *             file (file field or option 67) --boot-file (default ipxe.efi).
 *   2. tftp   as EDK2 fetches it: an RRQ with tsize 0 + blksize, OACK, then ERROR 8 (the size
 *             probe); a second RRQ, from a new port, with blksize + windowsize (+ tsize), OACK,
 *             ACK 0, DATA in windows, the last block of each window ACKed. On a gap it ACKs the
 *             last block received in order (once per gap); on a timeout it resends its last ACK
 *             (or the RRQ), at most --retries times. Every byte is compared with --ipxe.
 *   3. ipxe   iPXE's DHCPDISCOVER (user class 77 "iPXE", option 175, option 61): the OFFER's
 *             boot file must be an http:// URL holding the client's MAC (52-54-00-...), after
 *             ${mac}, ${mac:hexhyp} and ${mac:hex} are expanded in it as iPXE expands settings in
 *             a DHCP filename (a static stack names per-machine scripts that way).
 *   4. script HTTP/1.1 GET of that URL (Connection: keep-alive, Content-Length): status 200 and
 *             the client's MAC in the script. Its `kernel` and `initrd` lines name two URLs.
 *   5. assets HTTP GET of the kernel, then the initrd, on the same connection when the server
 *             keeps it open (a new one otherwise); every byte is compared with --kernel and
 *             --initrd.
 *   6. done   only with --once (machines declared `once` in vboot's inventory): a script with a
 *             `kernel` line is an install and must carry `vboot_done=URL` (the profile's
 *             {{done_url}}); after the initrd the client GETs that URL, as an installer calls it
 *             back, and needs a 200. A script without a `kernel` line is vboot's `local` answer
 *             (the install went out before): the machine boots its disk, which also completes.
 *
 * --results FILE writes one line per client: "MAC outcome token why", outcome install (booted
 * its install and called back), local, or failed; token the install token of the script it got
 * ("-" if none), also for a client that failed after its script arrived.
 *
 * Where DHCP replies go: every DISCOVER carries giaddr = --relay (hops 1), as a relay agent
 * would send it, so the server answers unicast to --relay:67 (RFC 2131 §4.1; vboot:
 * Sources/BootPolicy/ReplyDestination.swift). One UDP socket bound to --relay:67 (and to
 * --relay-dev, so it wins over the server's own port-67 socket on that device) receives every
 * reply; the xid says which client it is for.
 *
 * One epoll loop drives every client as a state machine. Every loop is bounded in iterations
 * and time: --deadline (default 300 s) ends the run, at most 1000 clients.
 *
 * Output: per-phase durations per client; at the end one line of key=value pairs on stdout,
 *   clients=N completed=... failed=... seconds=... dhcp_p50_ms=... tftp_p50_ms=... ...
 *   bytes=... first_error="..."
 * and a short human summary on stderr.
 *
 * Build: cc -O2 -Wall -Wextra -Werror -o boot-storm boot-storm.c
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_CLIENTS 1000
#define MAX_DEADLINE_S 3600.0
#define PKT_MAX 576
#define TFTP_BUF (65464 + 4)
#define HTTP_BUF (256 * 1024)
#define HDR_MAX 4096
#define SCRIPT_MAX (64 * 1024)
#define URL_MAX 512
#define RECV_BURST 64 /* datagrams read from one socket per event */
#define TCP_BURST 4   /* recv() calls on one connection per event */

enum { DHCPDISCOVER = 1, DHCPOFFER = 2 };
enum { OP_RRQ = 1, OP_DATA = 3, OP_ACK = 4, OP_ERROR = 5, OP_OACK = 6 };

/* Phases, in order. A client is in exactly one. */
enum phase { P_WAIT, P_DHCP, P_PROBE, P_TFTP, P_IPXE, P_SCRIPT, P_KERNEL, P_INITRD, P_CALLBACK, P_DONE, P_FAIL };
static const char *const phase_names[] = {"wait",   "dhcp",   "tftp-probe", "tftp",  "ipxe-dhcp", "script",
                                          "kernel", "initrd", "callback",   "done", "failed"};
/* Marks: when each step ended. */
enum { M_START, M_DHCP, M_TFTP, M_IPXE, M_SCRIPT, M_ASSETS, M_COUNT };

/* epoll tags (low byte of data.u64; the client index above it). */
enum { TAG_DHCP = 1, TAG_TFTP = 2, TAG_TCP = 3 };

struct opts {
    const char *server, *relay, *relay_dev, *ipxe_path, *kernel_path, *initrd_path, *boot_file, *client_net;
    const char *results_path;
    int dhcp_port, tftp_port, clients, blksize, windowsize, tsize, retries, verbose, once;
    long mac_offset;
    double stagger_s, deadline_s, dhcp_timeout_s, ipxe_timeout_s, tftp_timeout_s, http_timeout_s;
};

struct file {
    const unsigned char *data;
    size_t size;
};

struct url {
    struct sockaddr_in addr;
    char host[64];  /* host[:port] as written, for the Host header */
    char path[URL_MAX];
};

struct client {
    int idx, phase;
    unsigned char mac[6];
    char mac_h[18]; /* 52-54-00-5x-xx-xx, as vboot writes it */
    struct in_addr own; /* source address for TFTP and HTTP; 0 = the kernel's choice */
    uint32_t xid;
    double mark[M_COUNT];
    double due;      /* next timer: start, retransmission or inactivity limit */
    int retries;

    /* TFTP */
    int ufd;
    struct sockaddr_in tftp_server, peer;
    int have_peer, oack, blksize, windowsize, in_window;
    uint64_t next, gap_acked, tftp_bytes;

    /* HTTP */
    int tfd, connecting, reused_ok, requests_on_conn;
    struct sockaddr_in conn_addr;
    char req[URL_MAX + 256];
    size_t req_len, req_off;
    char hdr[HDR_MAX + 1];
    size_t hdr_len;
    int in_body, keep_alive;
    long long clen, body_got;
    char *script;
    size_t script_len;
    struct url urls[4]; /* script, kernel, initrd, --once: the install's callback */
    int local_boot;     /* --once: the script was vboot's `local` answer */
    char token[80];     /* --once: the install token of the script received, "" if none */
    uint64_t http_bytes;

    /* counts */
    long dhcp_retx, ipxe_retx, tftp_retx, gap_acks, dup_data, tcp_connects, keepalive_reuses, stray;
    char why[160];
};

struct global {
    struct opts o;
    struct file ipxe, kernel, initrd;
    struct client *c;
    int ep, dhcp_fd;
    struct sockaddr_in server_dhcp, server_tftp, relay;
    uint32_t xmask;
    unsigned char tbuf[TFTP_BUF];
    unsigned char hbuf[HTTP_BUF];
    long dhcp_stray, dhcp_dup, dhcp_bad;
    int active;
};
static struct global G;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void usage(const char *argv0) {
    fprintf(stderr,
            "usage: %s --ipxe FILE --kernel FILE --initrd FILE [options]\n"
            "  --clients N        machines, 1..%d (default 10)\n"
            "  --stagger MS       delay between client starts (default 0: all at once)\n"
            "  --deadline S       end of the run (default 300, at most 3600)\n"
            "  --server IP        vboot's DHCP and fallback TFTP address (default 127.0.0.1)\n"
            "  --dhcp-port P      (default 67)   --tftp-port P (default 69, used when the OFFER has no siaddr)\n"
            "  --relay IP         giaddr, and where replies are received on port 67 (default 127.0.0.2)\n"
            "  --relay-dev IF     SO_BINDTODEVICE for that socket (default lo; \"\" for none)\n"
            "  --client-net A.B   client i uses source address A.B.(i+1)/256.(i+1)%%256 (default 127.77;\n"
            "                     \"none\": the kernel picks)\n"
            "  --boot-file NAME   the boot file UEFI PXE must be offered (default ipxe.efi)\n"
            "  --blksize N        (default 1468)  --windowsize N (default 4)  --no-tsize\n"
            "  --dhcp-timeout MS  first DISCOVER retransmission, doubling (default 4000, as EDK2)\n"
            "  --ipxe-timeout MS  same for iPXE's DISCOVER (default 1000, as iPXE)\n"
            "  --tftp-timeout MS  TFTP retransmission (default 4000, as EDK2)\n"
            "  --retries N        retransmissions per step before failing (default 6)\n"
            "  --http-timeout S   HTTP inactivity limit (default 30)\n"
            "  --mac-offset K     first MAC index (default 0)\n"
            "  --once             machines are `once`: an install script's vboot_done= URL is called back\n"
            "                     after the initrd; a script without `kernel` (local) completes too\n"
            "  --results FILE     one line per client: MAC outcome(install|local|failed) token why\n"
            "  -v                 log each failure to stderr\n",
            argv0, MAX_CLIENTS);
    exit(2);
}

static void fail(struct client *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void close_fds(struct client *c) {
    if (c->ufd >= 0) close(c->ufd);
    if (c->tfd >= 0) close(c->tfd);
    c->ufd = c->tfd = -1;
}

static void fail(struct client *c, const char *fmt, ...) {
    if (c->phase == P_DONE || c->phase == P_FAIL) return;
    char m[120];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m, sizeof m, fmt, ap);
    va_end(ap);
    snprintf(c->why, sizeof c->why, "client %d %s: %s", c->idx, phase_names[c->phase], m);
    if (G.o.verbose) fprintf(stderr, "%s\n", c->why);
    c->phase = P_FAIL;
    close_fds(c);
    free(c->script);
    c->script = NULL;
    G.active--;
}

/* --- DHCP ----------------------------------------------------------------------------------- */

/* EDK2's parameter request list (OVMF 2022.11, ovmf-x64-discover.bin): 35 codes. */
static const unsigned char edk2_prl[] = {1,  2,  3,  4,  5,  6,  12, 13, 15, 17, 18, 22,
                                         23, 28, 40, 41, 42, 43, 50, 51, 54, 58, 59, 60,
                                         66, 67, 97, 128, 129, 130, 131, 132, 133, 134, 135};
/* iPXE's parameter request list (ipxe-efi-discover.bin): 23 codes. */
static const unsigned char ipxe_prl[] = {1,  3,  6,   7,   12,  15,  17,  26,  43,  60,  66, 67,
                                         119, 128, 129, 130, 131, 132, 133, 134, 135, 175, 203};
/* iPXE's option 175 from the EFI virtio-net ROM (ipxe-efi-discover.bin). */
static const unsigned char ipxe_175[] = {0xb1, 0x05, 0x01, 0x1a, 0xf4, 0x10, 0x00, 0xeb, 0x03, 0x01, 0x00, 0x00,
                                         0x17, 0x01, 0x01, 0x24, 0x01, 0x01, 0x13, 0x01, 0x01, 0x11, 0x01, 0x01,
                                         0x27, 0x01, 0x01, 0x29, 0x01, 0x01, 0x15, 0x01, 0x01, 0x12, 0x01, 0x01};

static size_t opt_put(unsigned char *p, size_t off, unsigned code, const void *data, size_t len) {
    if (off + 2 + len > PKT_MAX - 1) return off; /* cannot happen with these templates */
    p[off] = (unsigned char)code;
    p[off + 1] = (unsigned char)len;
    memcpy(p + off + 2, data, len);
    return off + 2 + len;
}

/* The per-machine SMBIOS UUID (option 97): "VBOO", zeros, then the MAC. */
static void guid_of(const struct client *c, unsigned char g[17]) {
    memset(g, 0, 17);
    g[1] = 0x56;
    g[2] = 0x42;
    g[3] = 0x4f;
    g[4] = 0x4f;
    memcpy(g + 11, c->mac, 6);
}

/* ipxe = 0: EDK2's DISCOVER (options 53, 57, 55, 97, 94, 93, 60, broadcast flag);
 * ipxe = 1: iPXE's (53, 57, 93, 94, 60, 77, 55, 175, 61, 97). Both relayed: hops 1, giaddr. */
static size_t build_discover(const struct client *c, int ipxe, double elapsed, unsigned char *p) {
    static const unsigned char cookie[] = {0x63, 0x82, 0x53, 0x63};
    static const unsigned char maxsize[] = {0x05, 0xc0}; /* 1472 */
    static const unsigned char arch[] = {0x00, 0x07};     /* x86-64 UEFI */
    unsigned char guid[17], b = DHCPDISCOVER, cid[7];
    memset(p, 0, PKT_MAX);
    p[0] = 1; /* BOOTREQUEST */
    p[1] = 1; /* Ethernet */
    p[2] = 6;
    p[3] = 1; /* hops: one relay */
    p[4] = (unsigned char)(c->xid >> 24);
    p[5] = (unsigned char)(c->xid >> 16);
    p[6] = (unsigned char)(c->xid >> 8);
    p[7] = (unsigned char)c->xid;
    unsigned secs = elapsed < 0 ? 0 : elapsed > 65535 ? 65535 : (unsigned)elapsed;
    p[8] = (unsigned char)(secs >> 8);
    p[9] = (unsigned char)secs;
    if (!ipxe) p[10] = 0x80; /* flags: broadcast, as EDK2 sets it */
    memcpy(p + 24, &G.relay.sin_addr, 4); /* giaddr */
    memcpy(p + 28, c->mac, 6);
    memcpy(p + 236, cookie, 4);
    guid_of(c, guid);
    size_t o = 240;
    o = opt_put(p, o, 53, &b, 1);
    o = opt_put(p, o, 57, maxsize, 2);
    if (!ipxe) {
        o = opt_put(p, o, 55, edk2_prl, sizeof edk2_prl);
        o = opt_put(p, o, 97, guid, 17);
        o = opt_put(p, o, 94, (const unsigned char[]){0x01, 0x03, 0x10}, 3); /* UNDI 3.16 */
        o = opt_put(p, o, 93, arch, 2);
        o = opt_put(p, o, 60, "PXEClient:Arch:00007:UNDI:003016", 32);
    } else {
        o = opt_put(p, o, 93, arch, 2);
        o = opt_put(p, o, 94, (const unsigned char[]){0x01, 0x03, 0x0a}, 3); /* UNDI 3.10 */
        o = opt_put(p, o, 60, "PXEClient:Arch:00007:UNDI:003010", 32);
        o = opt_put(p, o, 77, "iPXE", 4);
        o = opt_put(p, o, 55, ipxe_prl, sizeof ipxe_prl);
        o = opt_put(p, o, 175, ipxe_175, sizeof ipxe_175);
        cid[0] = 1;
        memcpy(cid + 1, c->mac, 6);
        o = opt_put(p, o, 61, cid, 7);
        o = opt_put(p, o, 97, guid, 17);
    }
    p[o++] = 255;
    return o;
}

static void send_discover(struct client *c, double t) {
    unsigned char p[PKT_MAX];
    size_t len = build_discover(c, c->phase == P_IPXE, t - c->mark[M_START], p);
    ssize_t r = sendto(G.dhcp_fd, p, len, 0, (const struct sockaddr *)&G.server_dhcp, sizeof G.server_dhcp);
    if (r < 0 && errno != EAGAIN && errno != ENOBUFS && errno != EINTR) fail(c, "send DISCOVER: %s", strerror(errno));
    /* EAGAIN and friends: the retransmission timer covers it. */
}

struct parsed {
    int msgtype, overload;
    const unsigned char *vendor, *bootfile, *server_id;
    size_t vendor_len, bootfile_len;
};

static int parse_options(const unsigned char *p, size_t len, struct parsed *r) {
    size_t i = 0;
    for (int n = 0; i < len && n < 512; n++) {
        unsigned code = p[i];
        if (code == 0) {
            i++;
            continue;
        }
        if (code == 255) return 0;
        if (i + 1 >= len) return -1;
        size_t l = p[i + 1];
        if (i + 2 + l > len) return -1;
        const unsigned char *v = p + i + 2;
        switch (code) {
        case 53: if (l == 1) r->msgtype = v[0]; break;
        case 52: if (l == 1) r->overload = v[0]; break;
        case 54: if (l == 4) r->server_id = v; break;
        case 60: r->vendor = v; r->vendor_len = l; break;
        case 67: r->bootfile = v; r->bootfile_len = l; break;
        default: break;
        }
        i += 2 + l;
    }
    return 0;
}

static int parse_url(const char *s, size_t n, struct url *u);
static void start_tftp(struct client *c, int probe, double t);
static void start_http(struct client *c, int target, double t);

/* A reply for client c (xid matched). Returns NULL when it is right, else why not. */
static const char *check_offer(struct client *c, const unsigned char *p, size_t len, char *file, size_t filecap) {
    static const unsigned char cookie[] = {0x63, 0x82, 0x53, 0x63};
    if (len < 240) return "short reply";
    if (p[0] != 2) return "op is not BOOTREPLY";
    if (p[2] != 6 || memcmp(p + 28, c->mac, 6) != 0) return "chaddr differs";
    if (memcmp(p + 236, cookie, 4) != 0) return "no magic cookie";
    struct parsed r = {0};
    if (parse_options(p + 240, len - 240, &r) != 0) return "malformed options";
    if (r.overload & 1 && parse_options(p + 108, 128, &r) != 0) return "malformed options in file";
    if (r.overload & 2 && parse_options(p + 44, 64, &r) != 0) return "malformed options in sname";
    if (r.msgtype != DHCPOFFER) return "not an OFFER";
    if (r.vendor_len != 9 || memcmp(r.vendor, "PXEClient", 9) != 0) return "option 60 is not PXEClient";
    const unsigned char *f = NULL;
    size_t flen = 0;
    if (!(r.overload & 1)) {
        f = p + 108;
        flen = strnlen((const char *)f, 128);
    }
    if (flen == 0 && r.bootfile) {
        f = r.bootfile;
        flen = strnlen((const char *)f, r.bootfile_len);
    }
    if (flen == 0) return "no boot file";
    if (flen >= filecap) return "boot file too long";
    memcpy(file, f, flen);
    file[flen] = 0;
    if (c->phase == P_DHCP) {
        /* EDK2 fetches the boot file from siaddr (next server), else the server identifier. */
        struct in_addr si;
        memcpy(&si, p + 20, 4);
        if (si.s_addr == 0 && r.server_id) memcpy(&si, r.server_id, 4);
        c->tftp_server = G.server_tftp;
        if (si.s_addr != 0) c->tftp_server.sin_addr = si;
    }
    return NULL;
}

/* iPXE expands settings in a DHCP filename before fetching it (autoboot: expand_settings).
 * The MAC is the only setting a static stack needs; anything else is not simulated. */
static int expand_settings(const struct client *c, const char *in, char *out, size_t cap) {
    char colons[18];
    snprintf(colons, sizeof colons, "%02x:%02x:%02x:%02x:%02x:%02x", c->mac[0], c->mac[1], c->mac[2], c->mac[3],
             c->mac[4], c->mac[5]);
    size_t o = 0;
    while (*in) {
        const char *rep = NULL;
        size_t skip = 0;
        if (strncmp(in, "${mac}", 6) == 0 || strncmp(in, "${mac:hex}", 10) == 0) {
            rep = colons;
            skip = in[5] == '}' ? 6 : 10;
        } else if (strncmp(in, "${mac:hexhyp}", 13) == 0) {
            rep = c->mac_h;
            skip = 13;
        } else if (strncmp(in, "${", 2) == 0) {
            return -1;
        }
        if (rep) {
            size_t l = strlen(rep);
            if (o + l >= cap) return -1;
            memcpy(out + o, rep, l);
            o += l;
            in += skip;
        } else {
            if (o + 1 >= cap) return -1;
            out[o++] = *in++;
        }
    }
    out[o] = 0;
    return 0;
}

static void on_dhcp_reply(const unsigned char *p, size_t len, double t) {
    if (len < 8) {
        G.dhcp_stray++;
        return;
    }
    uint32_t xid = (uint32_t)p[4] << 24 | (uint32_t)p[5] << 16 | (uint32_t)p[6] << 8 | p[7];
    uint32_t v = xid ^ G.xmask;
    uint32_t idx = v >> 1;
    if (idx >= (uint32_t)G.o.clients || G.c[idx].xid != xid) {
        G.dhcp_stray++;
        return;
    }
    struct client *c = &G.c[idx];
    if ((c->phase != P_DHCP && c->phase != P_IPXE) || (uint32_t)(c->phase == P_IPXE) != (v & 1)) {
        G.dhcp_dup++; /* a second reply, e.g. to a retransmitted DISCOVER */
        return;
    }
    char file[300];
    const char *why = check_offer(c, p, len, file, sizeof file);
    if (why) {
        G.dhcp_bad++;
        fail(c, "%s", why);
        return;
    }
    if (c->phase == P_DHCP) {
        if (strcmp(file, G.o.boot_file) != 0) {
            fail(c, "offered boot file \"%.60s\", expected \"%s\"", file, G.o.boot_file);
            return;
        }
        c->mark[M_DHCP] = t;
        start_tftp(c, 1, t);
    } else {
        char expanded[sizeof file];
        if (expand_settings(c, file, expanded, sizeof expanded) != 0) {
            fail(c, "cannot expand the settings in \"%.80s\"", file);
            return;
        }
        memcpy(file, expanded, sizeof file);
        if (strncmp(file, "http://", 7) != 0) {
            fail(c, "iPXE was offered \"%.60s\", not an http:// URL", file);
            return;
        }
        if (!strcasestr(file, c->mac_h)) {
            fail(c, "script URL \"%.80s\" does not hold %s", file, c->mac_h);
            return;
        }
        if (parse_url(file, strlen(file), &c->urls[0]) != 0) {
            fail(c, "cannot use script URL \"%.80s\"", file);
            return;
        }
        c->mark[M_IPXE] = t;
        start_http(c, 0, t);
    }
}

/* --- TFTP ----------------------------------------------------------------------------------- */

static size_t put_str(unsigned char *buf, size_t off, size_t cap, const char *s) {
    size_t l = strlen(s) + 1;
    if (off + l > cap) return off;
    memcpy(buf + off, s, l);
    return off + l;
}

static int udp_client_socket(const struct client *c) {
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    int rb = 1 << 20;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rb, sizeof rb);
    if (c->own.s_addr) {
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr = c->own};
        if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0) {
            close(fd);
            return -1;
        }
    }
    return fd;
}

static void send_rrq(struct client *c) {
    unsigned char buf[512];
    char num[32];
    size_t off = 2;
    buf[0] = 0;
    buf[1] = OP_RRQ;
    off = put_str(buf, off, sizeof buf, G.o.boot_file);
    off = put_str(buf, off, sizeof buf, "octet");
    if (c->phase == P_PROBE) { /* EDK2's PxeBcTftpGetFileSize: tsize first, then blksize */
        off = put_str(buf, off, sizeof buf, "tsize");
        off = put_str(buf, off, sizeof buf, "0");
    }
    snprintf(num, sizeof num, "%d", G.o.blksize);
    off = put_str(buf, off, sizeof buf, "blksize");
    off = put_str(buf, off, sizeof buf, num);
    if (c->phase == P_TFTP) {
        if (G.o.windowsize > 0) {
            snprintf(num, sizeof num, "%d", G.o.windowsize);
            off = put_str(buf, off, sizeof buf, "windowsize");
            off = put_str(buf, off, sizeof buf, num);
        }
        if (G.o.tsize) {
            off = put_str(buf, off, sizeof buf, "tsize");
            off = put_str(buf, off, sizeof buf, "0");
        }
    }
    sendto(c->ufd, buf, off, 0, (const struct sockaddr *)&c->tftp_server, sizeof c->tftp_server);
}

static void send_ack(struct client *c, uint64_t block) {
    unsigned char b[4] = {0, OP_ACK, (unsigned char)((block >> 8) & 0xff), (unsigned char)(block & 0xff)};
    sendto(c->ufd, b, 4, 0, (const struct sockaddr *)&c->peer, sizeof c->peer);
    c->in_window = 0;
}

static void send_tftp_error(int fd, const struct sockaddr_in *to, int code, const char *msg) {
    unsigned char b[128];
    size_t l = strlen(msg);
    if (l > sizeof b - 5) l = sizeof b - 5;
    b[0] = 0;
    b[1] = OP_ERROR;
    b[2] = (unsigned char)(code >> 8);
    b[3] = (unsigned char)code;
    memcpy(b + 4, msg, l);
    b[4 + l] = 0;
    sendto(fd, b, 5 + l, 0, (const struct sockaddr *)to, sizeof *to);
}

/* Opens a fresh socket (a new TID, as EDK2's MTFTP opens one per operation) and sends the RRQ. */
static void start_tftp(struct client *c, int probe, double t) {
    if (c->ufd >= 0) close(c->ufd);
    c->ufd = udp_client_socket(c);
    if (c->ufd < 0) {
        fail(c, "TFTP socket: %s", strerror(errno));
        return;
    }
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = (uint64_t)c->idx << 8 | TAG_TFTP};
    if (epoll_ctl(G.ep, EPOLL_CTL_ADD, c->ufd, &ev) != 0) {
        fail(c, "epoll_ctl: %s", strerror(errno));
        return;
    }
    c->phase = probe ? P_PROBE : P_TFTP;
    c->have_peer = c->oack = 0;
    c->blksize = 512;
    c->windowsize = 1;
    c->in_window = 0;
    c->next = 1;
    c->gap_acked = 0;
    c->retries = 0;
    c->due = t + G.o.tftp_timeout_s;
    send_rrq(c);
}

/* Parses an OACK; returns NULL when acceptable, else why not. */
static const char *parse_oack(struct client *c, const unsigned char *p, size_t len) {
    size_t i = 2;
    int fields = 0, saw_tsize = 0;
    while (i < len && fields < 64) {
        const char *name = (const char *)p + i;
        size_t nl = strnlen(name, len - i);
        if (i + nl >= len) return "malformed OACK";
        i += nl + 1;
        const char *val = (const char *)p + i;
        size_t vl = strnlen(val, len - i);
        if (i + vl >= len) return "malformed OACK";
        i += vl + 1;
        fields++;
        long v = strtol(val, NULL, 10);
        if (strcasecmp(name, "blksize") == 0) {
            if (v < 8 || v > G.o.blksize) return "OACK blksize out of range";
            c->blksize = (int)v;
        } else if (strcasecmp(name, "windowsize") == 0) {
            if (c->phase != P_TFTP || v < 1 || v > G.o.windowsize) return "OACK windowsize not asked for";
            c->windowsize = (int)v;
        } else if (strcasecmp(name, "tsize") == 0) {
            if (v != (long)G.ipxe.size) return "OACK tsize differs from the file's size";
            saw_tsize = 1;
        } else {
            return "OACK holds an option not asked for";
        }
    }
    if (c->phase == P_PROBE && !saw_tsize) return "size probe OACK without tsize";
    return NULL;
}

static void tftp_done(struct client *c, double t) {
    close(c->ufd);
    c->ufd = -1;
    c->mark[M_TFTP] = t;
    c->phase = P_IPXE;
    c->xid = G.xmask ^ ((uint32_t)c->idx << 1 | 1);
    c->retries = 0;
    c->due = t + G.o.ipxe_timeout_s;
    send_discover(c, t);
}

static void on_tftp(struct client *c, const unsigned char *p, ssize_t len, const struct sockaddr_in *from, double t) {
    if (len < 4 || from->sin_addr.s_addr != c->tftp_server.sin_addr.s_addr) {
        c->stray++;
        return;
    }
    if (!c->have_peer) {
        c->peer = *from;
        c->have_peer = 1;
    } else if (from->sin_port != c->peer.sin_port) { /* RFC 1350 §4: wrong TID */
        send_tftp_error(c->ufd, from, 5, "unknown transfer ID");
        c->stray++;
        return;
    }
    int op = (p[0] << 8) | p[1];
    if (op == OP_ERROR) {
        fail(c, "server error %d: %.60s", (p[2] << 8) | p[3], len > 4 ? (const char *)p + 4 : "");
        return;
    }
    if (op == OP_OACK) {
        if (c->oack) { /* repeated OACK: our ACK 0 (or ERROR 8) was lost */
            if (c->phase == P_TFTP && c->next == 1) send_ack(c, 0);
            return;
        }
        c->oack = 1;
        const char *why = parse_oack(c, p, (size_t)len);
        if (why) {
            send_tftp_error(c->ufd, &c->peer, 8, why);
            fail(c, "%s", why);
            return;
        }
        if (c->phase == P_PROBE) { /* the size is known: end the probe, as EDK2 does */
            send_tftp_error(c->ufd, &c->peer, 8, "tsize probe");
            start_tftp(c, 0, t);
            return;
        }
        c->retries = 0;
        c->due = t + G.o.tftp_timeout_s;
        send_ack(c, 0);
        return;
    }
    if (op != OP_DATA) {
        fail(c, "unexpected TFTP opcode %d", op);
        return;
    }
    if (c->phase == P_PROBE) {
        fail(c, "size probe answered with DATA, not an OACK");
        return;
    }
    if (!c->oack) {
        fail(c, "DATA without OACK: options ignored");
        return;
    }
    unsigned wire = (unsigned)((p[2] << 8) | p[3]);
    size_t plen = (size_t)len - 4;
    if (wire != (unsigned)(c->next & 0xffff)) {
        /* Duplicate or a gap. RFC 7440 §4: ACK the last block received in order, once per gap. */
        c->dup_data++;
        if (c->gap_acked != c->next) {
            c->gap_acked = c->next;
            c->gap_acks++;
            send_ack(c, c->next - 1);
        }
        return;
    }
    uint64_t offset = (c->next - 1) * (uint64_t)c->blksize;
    uint64_t remaining = G.ipxe.size > offset ? G.ipxe.size - offset : 0;
    uint64_t want = remaining < (uint64_t)c->blksize ? remaining : (uint64_t)c->blksize;
    if (plen != want) {
        fail(c, "TFTP block %llu is %zu bytes, expected %llu", (unsigned long long)c->next, plen,
             (unsigned long long)want);
        return;
    }
    if (plen && memcmp(p + 4, G.ipxe.data + offset, plen) != 0) {
        fail(c, "TFTP content mismatch in block %llu", (unsigned long long)c->next);
        return;
    }
    c->tftp_bytes += plen;
    c->retries = 0;
    c->due = t + G.o.tftp_timeout_s;
    c->next++;
    if (plen < (size_t)c->blksize) { /* last block */
        send_ack(c, c->next - 1);
        tftp_done(c, t);
        return;
    }
    if (++c->in_window >= c->windowsize) send_ack(c, c->next - 1);
}

/* --- HTTP ----------------------------------------------------------------------------------- */

/* http://A.B.C.D[:port]/path; host must be an IPv4 literal (no resolver here). */
static int parse_url(const char *s, size_t n, struct url *u) {
    if (n < 8 || strncasecmp(s, "http://", 7) != 0) return -1;
    const char *h = s + 7, *end = s + n;
    const char *slash = memchr(h, '/', (size_t)(end - h));
    if (!slash) slash = end;
    size_t hl = (size_t)(slash - h);
    if (hl == 0 || hl >= sizeof u->host) return -1;
    memcpy(u->host, h, hl);
    u->host[hl] = 0;
    char ip[64];
    int port = 80;
    snprintf(ip, sizeof ip, "%s", u->host);
    char *colon = strchr(ip, ':');
    if (colon) {
        *colon = 0;
        port = atoi(colon + 1);
        if (port < 1 || port > 65535) return -1;
    }
    memset(&u->addr, 0, sizeof u->addr);
    u->addr.sin_family = AF_INET;
    u->addr.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, ip, &u->addr.sin_addr) != 1) return -1;
    size_t pl = (size_t)(end - slash);
    if (pl >= sizeof u->path) return -1;
    if (pl == 0) {
        strcpy(u->path, "/");
    } else {
        memcpy(u->path, slash, pl);
        u->path[pl] = 0;
    }
    return 0;
}

static int same_addr(const struct sockaddr_in *a, const struct sockaddr_in *b) {
    return a->sin_addr.s_addr == b->sin_addr.s_addr && a->sin_port == b->sin_port;
}

static void tcp_events(struct client *c, uint32_t events) {
    struct epoll_event ev = {.events = events, .data.u64 = (uint64_t)c->idx << 8 | TAG_TCP};
    if (epoll_ctl(G.ep, EPOLL_CTL_MOD, c->tfd, &ev) != 0) fail(c, "epoll_ctl: %s", strerror(errno));
}

static void http_flush(struct client *c) {
    while (c->req_off < c->req_len) {
        ssize_t w = send(c->tfd, c->req + c->req_off, c->req_len - c->req_off, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EAGAIN || errno == EINTR) break;
            fail(c, "send: %s", strerror(errno));
            return;
        }
        c->req_off += (size_t)w;
    }
    tcp_events(c, c->req_off < c->req_len ? EPOLLIN | EPOLLOUT : EPOLLIN);
}

/* Requests urls[target] (0 script, 1 kernel, 2 initrd): on the open connection when it is to the
 * same server and was kept alive, else on a new one. */
static void start_http(struct client *c, int target, double t) {
    const struct url *u = &c->urls[target];
    c->phase = P_SCRIPT + target;
    c->due = t + G.o.http_timeout_s;
    c->hdr_len = 0;
    c->in_body = 0;
    c->clen = -1;
    c->body_got = 0;
    c->req_len = (size_t)snprintf(c->req, sizeof c->req,
                                  "GET %s HTTP/1.1\r\nConnection: keep-alive\r\nUser-Agent: iPXE/1.21.1+ "
                                  "(boot-storm)\r\nHost: %s\r\n\r\n",
                                  u->path, u->host);
    c->req_off = 0;
    if (c->tfd >= 0 && c->keep_alive && same_addr(&c->conn_addr, &u->addr)) {
        c->keepalive_reuses++;
        c->reused_ok = 1;
        c->requests_on_conn++;
        http_flush(c);
        return;
    }
    if (c->tfd >= 0) close(c->tfd);
    c->reused_ok = 0;
    c->requests_on_conn = 1;
    c->tfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->tfd < 0) {
        fail(c, "TCP socket: %s", strerror(errno));
        return;
    }
    if (c->own.s_addr) {
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr = c->own};
        if (bind(c->tfd, (struct sockaddr *)&a, sizeof a) != 0) {
            fail(c, "bind: %s", strerror(errno));
            return;
        }
    }
    c->tcp_connects++;
    c->conn_addr = u->addr;
    c->keep_alive = 1;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.u64 = (uint64_t)c->idx << 8 | TAG_TCP};
    if (epoll_ctl(G.ep, EPOLL_CTL_ADD, c->tfd, &ev) != 0) {
        fail(c, "epoll_ctl: %s", strerror(errno));
        return;
    }
    int r = connect(c->tfd, (const struct sockaddr *)&u->addr, sizeof u->addr);
    if (r == 0) {
        c->connecting = 0;
        http_flush(c);
    } else if (errno == EINPROGRESS) {
        c->connecting = 1;
    } else {
        fail(c, "connect %s: %s", u->host, strerror(errno));
    }
}

/* kernel/initrd URL from a script line "kernel [--opts] URL args..." */
static int script_url(struct client *c, const char *keyword, struct url *u) {
    size_t kl = strlen(keyword);
    const char *s = c->script, *end = c->script + c->script_len;
    while (s < end) {
        const char *eol = memchr(s, '\n', (size_t)(end - s));
        if (!eol) eol = end;
        const char *q = s;
        while (q < eol && (*q == ' ' || *q == '\t')) q++;
        if ((size_t)(eol - q) > kl && memcmp(q, keyword, kl) == 0 && (q[kl] == ' ' || q[kl] == '\t')) {
            q += kl;
            for (int tok = 0; tok < 16 && q < eol; tok++) {
                while (q < eol && (*q == ' ' || *q == '\t')) q++;
                const char *e = q;
                while (e < eol && *e != ' ' && *e != '\t' && *e != '\r') e++;
                if (e - q >= 2 && q[0] == '-' && q[1] == '-') { /* --name x and the like */
                    q = e;
                    continue;
                }
                return parse_url(q, (size_t)(e - q), u);
            }
            return -1;
        }
        s = eol + 1;
    }
    return -1;
}

static void response_done(struct client *c, double t) {
    if (c->phase == P_SCRIPT) {
        if (!memmem(c->script, c->script_len, c->mac_h, strlen(c->mac_h))) {
            fail(c, "script does not hold the client's MAC %s", c->mac_h);
            return;
        }
        if (G.o.once) {
            const char *tok = memmem(c->script, c->script_len, "token=", 6);
            if (tok) {
                size_t n = strcspn(tok + 6, " \t\r\n&");
                if (n >= sizeof c->token) n = sizeof c->token - 1;
                memcpy(c->token, tok + 6, n);
                c->token[n] = 0;
            }
            if (script_url(c, "kernel", &c->urls[1]) != 0) { /* vboot's `local`: boots its disk */
                c->local_boot = 1;
                c->mark[M_SCRIPT] = c->mark[M_ASSETS] = t;
                close_fds(c);
                free(c->script);
                c->script = NULL;
                c->phase = P_DONE;
                G.active--;
                return;
            }
            const char *cb = memmem(c->script, c->script_len, "vboot_done=", 11);
            if (!cb || parse_url(cb + 11, strcspn(cb + 11, " \t\r\n"), &c->urls[3]) != 0) {
                fail(c, "install script without a usable vboot_done=URL");
                return;
            }
        }
        if (script_url(c, "kernel", &c->urls[1]) != 0) {
            fail(c, "no usable `kernel http://...` line in the script");
            return;
        }
        if (script_url(c, "initrd", &c->urls[2]) != 0) {
            fail(c, "no usable `initrd http://...` line in the script");
            return;
        }
        c->mark[M_SCRIPT] = t;
        start_http(c, 1, t);
    } else if (c->phase == P_KERNEL) {
        start_http(c, 2, t);
    } else if (c->phase == P_INITRD && G.o.once) {
        start_http(c, 3, t);
    } else { /* initrd (--once: the callback): booted */
        c->mark[M_ASSETS] = t;
        close_fds(c);
        free(c->script);
        c->script = NULL;
        c->phase = P_DONE;
        G.active--;
    }
}

/* Response headers are complete in hdr[0..hlen). */
static void parse_headers(struct client *c, size_t hlen) {
    c->hdr[hlen] = 0;
    int status = 0;
    if (sscanf(c->hdr, "HTTP/1.%*d %d", &status) != 1) {
        fail(c, "bad status line \"%.40s\"", c->hdr);
        return;
    }
    int http10 = strncmp(c->hdr, "HTTP/1.0", 8) == 0;
    c->keep_alive = !http10;
    c->clen = -1;
    char *line = strstr(c->hdr, "\r\n");
    for (int n = 0; line && n < 100; n++) {
        line += 2;
        char *eol = strstr(line, "\r\n");
        if (!eol) break;
        *eol = 0;
        char *colon = strchr(line, ':');
        if (colon) {
            *colon = 0;
            char *v = colon + 1;
            while (*v == ' ' || *v == '\t') v++;
            if (strcasecmp(line, "Content-Length") == 0) c->clen = strtoll(v, NULL, 10);
            else if (strcasecmp(line, "Transfer-Encoding") == 0 && strcasestr(v, "chunked")) {
                fail(c, "chunked response (not supported by this client)");
                return;
            } else if (strcasecmp(line, "Connection") == 0) {
                if (strcasestr(v, "close")) c->keep_alive = 0;
                if (strcasestr(v, "keep-alive")) c->keep_alive = 1;
            }
        }
        line = eol;
    }
    const struct url *u = &c->urls[c->phase - P_SCRIPT];
    if (status != 200) {
        fail(c, "HTTP %d for %.80s", status, u->path);
        return;
    }
    if (c->clen < 0) {
        fail(c, "no Content-Length for %.80s", u->path);
        return;
    }
    if (c->phase == P_SCRIPT && c->clen > SCRIPT_MAX) {
        fail(c, "script of %lld bytes", c->clen);
        return;
    }
    const struct file *f = c->phase == P_KERNEL ? &G.kernel : c->phase == P_INITRD ? &G.initrd : NULL;
    if (f && (unsigned long long)c->clen != (unsigned long long)f->size) {
        fail(c, "%s is %lld bytes, the local copy %zu", u->path, c->clen, f->size);
        return;
    }
    if (c->phase == P_SCRIPT) {
        free(c->script);
        c->script = malloc((size_t)c->clen + 1);
        c->script_len = 0;
        if (!c->script) {
            fail(c, "out of memory");
            return;
        }
    }
    c->in_body = 1;
    c->body_got = 0;
}

static void http_bytes(struct client *c, const unsigned char *buf, size_t n, double t) {
    for (int guard = 0; n > 0 && guard < 1000; guard++) {
        if (c->phase < P_SCRIPT || c->phase > P_CALLBACK) return;
        if (!c->in_body) {
            size_t room = HDR_MAX - c->hdr_len;
            if (room == 0) {
                fail(c, "response header longer than %d bytes", HDR_MAX);
                return;
            }
            size_t take = n < room ? n : room;
            memcpy(c->hdr + c->hdr_len, buf, take);
            size_t before = c->hdr_len;
            c->hdr_len += take;
            size_t from = before >= 3 ? before - 3 : 0;
            const char *end = memmem(c->hdr + from, c->hdr_len - from, "\r\n\r\n", 4);
            if (!end) {
                buf += take;
                n -= take;
                continue;
            }
            size_t hlen = (size_t)(end - c->hdr) + 4;
            size_t used = hlen - before; /* bytes of this chunk that were header */
            buf += used;
            n -= used;
            parse_headers(c, hlen);
            if (c->phase == P_FAIL) return;
            if (c->clen == 0) response_done(c, t);
            continue;
        }
        size_t want = (size_t)(c->clen - c->body_got);
        size_t take = n < want ? n : want;
        if (c->phase == P_SCRIPT) {
            memcpy(c->script + c->script_len, buf, take);
            c->script_len += take;
            c->script[c->script_len] = 0;
        } else if (c->phase != P_CALLBACK) {
            const struct file *f = c->phase == P_KERNEL ? &G.kernel : &G.initrd;
            if (memcmp(buf, f->data + c->body_got, take) != 0) {
                fail(c, "content mismatch at offset %lld", c->body_got);
                return;
            }
        }
        c->body_got += (long long)take;
        c->http_bytes += take;
        buf += take;
        n -= take;
        if (c->body_got == c->clen) {
            c->in_body = 0;
            if (n > 0) { /* nothing was pipelined: extra bytes are a framing error */
                fail(c, "%zu bytes after the response", n);
                return;
            }
            response_done(c, t);
        }
    }
}

static void on_tcp(struct client *c, uint32_t events, double t) {
    if (c->connecting) {
        if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) return;
        int err = 0;
        socklen_t el = sizeof err;
        getsockopt(c->tfd, SOL_SOCKET, SO_ERROR, &err, &el);
        if (err) {
            fail(c, "connect: %s", strerror(err));
            return;
        }
        c->connecting = 0;
        http_flush(c);
        return;
    }
    if (events & EPOLLOUT) {
        http_flush(c);
        if (c->phase == P_FAIL) return;
    }
    if (!(events & (EPOLLIN | EPOLLERR | EPOLLHUP))) return;
    for (int burst = 0; burst < TCP_BURST; burst++) {
        int fd = c->tfd;
        ssize_t got = recv(fd, G.hbuf, sizeof G.hbuf, 0);
        if (got < 0) {
            if (errno == EAGAIN || errno == EINTR) return;
            fail(c, "recv: %s", strerror(errno));
            return;
        }
        if (got == 0) {
            /* The server closed. Before any byte of a request sent on a kept-alive connection:
             * it had closed the idle connection, so ask again on a new one (once). */
            if (c->reused_ok && c->hdr_len == 0 && !c->in_body) {
                int target = c->phase - P_SCRIPT;
                c->keep_alive = 0;
                c->keepalive_reuses--;
                start_http(c, target, t);
                c->reused_ok = 0;
                return;
            }
            fail(c, "connection closed %s", c->in_body ? "mid-body" : "before the response");
            return;
        }
        c->due = t + G.o.http_timeout_s;
        c->reused_ok = 0;
        http_bytes(c, G.hbuf, (size_t)got, t);
        if (c->tfd != fd || c->phase < P_SCRIPT || c->phase > P_CALLBACK) return;
    }
}

/* --- timers --------------------------------------------------------------------------------- */

static void on_timer(struct client *c, double t) {
    switch (c->phase) {
    case P_WAIT:
        c->mark[M_START] = t;
        c->phase = P_DHCP;
        c->xid = G.xmask ^ ((uint32_t)c->idx << 1);
        c->retries = 0;
        c->due = t + G.o.dhcp_timeout_s;
        send_discover(c, t);
        break;
    case P_DHCP:
    case P_IPXE: {
        if (c->retries >= G.o.retries) {
            fail(c, "no OFFER after %d DISCOVERs", c->retries + 1);
            return;
        }
        c->retries++;
        if (c->phase == P_DHCP) c->dhcp_retx++;
        else c->ipxe_retx++;
        double base = c->phase == P_DHCP ? G.o.dhcp_timeout_s : G.o.ipxe_timeout_s;
        c->due = t + base * (double)(1 << (c->retries < 4 ? c->retries : 4));
        send_discover(c, t);
        break;
    }
    case P_PROBE:
    case P_TFTP:
        if (c->retries >= G.o.retries) {
            fail(c, "TFTP: no answer after %d retransmissions (block %llu)", c->retries,
                 (unsigned long long)c->next);
            return;
        }
        c->retries++;
        c->tftp_retx++;
        c->due = t + G.o.tftp_timeout_s;
        if (!c->oack) send_rrq(c);
        else send_ack(c, c->next - 1);
        break;
    case P_SCRIPT:
    case P_KERNEL:
    case P_INITRD:
    case P_CALLBACK:
        fail(c, "HTTP: nothing for %.0f s (%lld of %lld body bytes)", G.o.http_timeout_s, c->body_got, c->clen);
        break;
    default: break;
    }
}

/* --- results -------------------------------------------------------------------------------- */

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of v[0..n) (sorted), in ms; -1 when empty. */
static double pct(const double *v, int n, double p) {
    if (n <= 0) return -1;
    int k = (int)((p / 100.0) * n + 0.999999) - 1;
    if (k < 0) k = 0;
    if (k >= n) k = n - 1;
    return v[k] * 1000.0;
}

struct series {
    double *v;
    int n;
};

static void add(struct series *s, double from, double to) {
    if (from > 0 && to > 0 && to >= from) s->v[s->n++] = to - from;
}

static int map_file(const char *path, struct file *f) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        perror(path);
        return -1;
    }
    f->size = (size_t)st.st_size;
    f->data = NULL;
    if (f->size > 0) {
        void *m = mmap(NULL, f->size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
        if (m == MAP_FAILED) {
            perror("mmap");
            return -1;
        }
        f->data = m;
    }
    close(fd);
    return 0;
}

int main(int argc, char **argv) {
    struct opts o = {.server = "127.0.0.1", .relay = "127.0.0.2", .relay_dev = "lo", .boot_file = "ipxe.efi",
                     .client_net = "127.77", .dhcp_port = 67, .tftp_port = 69, .clients = 10, .blksize = 1468,
                     .windowsize = 4, .tsize = 1, .retries = 6, .deadline_s = 300, .dhcp_timeout_s = 4.0,
                     .ipxe_timeout_s = 1.0, .tftp_timeout_s = 4.0, .http_timeout_s = 30};
    static const struct option lo[] = {
        {"clients", 1, 0, 'n'},      {"stagger", 1, 0, 'S'},      {"deadline", 1, 0, 'd'},
        {"server", 1, 0, 'H'},       {"dhcp-port", 1, 0, 'p'},    {"tftp-port", 1, 0, 'P'},
        {"relay", 1, 0, 'B'},        {"relay-dev", 1, 0, 'I'},    {"client-net", 1, 0, 'C'},
        {"boot-file", 1, 0, 'f'},    {"ipxe", 1, 0, 'x'},         {"kernel", 1, 0, 'k'},
        {"initrd", 1, 0, 'i'},       {"blksize", 1, 0, 'b'},      {"windowsize", 1, 0, 'w'},
        {"no-tsize", 0, 0, 'z'},     {"dhcp-timeout", 1, 0, 1},   {"ipxe-timeout", 1, 0, 2},
        {"tftp-timeout", 1, 0, 3},   {"retries", 1, 0, 'R'},      {"http-timeout", 1, 0, 4},
        {"mac-offset", 1, 0, 'm'},   {"verbose", 0, 0, 'v'},      {"help", 0, 0, 'h'},
        {"once", 0, 0, 5},           {"results", 1, 0, 6},        {0, 0, 0, 0}};
    int ch;
    while ((ch = getopt_long(argc, argv, "n:S:d:H:p:P:B:I:C:f:x:k:i:b:w:zR:m:vh", lo, NULL)) != -1) {
        switch (ch) {
        case 'n': o.clients = atoi(optarg); break;
        case 'S': o.stagger_s = atof(optarg) / 1000.0; break;
        case 'd': o.deadline_s = atof(optarg); break;
        case 'H': o.server = optarg; break;
        case 'p': o.dhcp_port = atoi(optarg); break;
        case 'P': o.tftp_port = atoi(optarg); break;
        case 'B': o.relay = optarg; break;
        case 'I': o.relay_dev = optarg; break;
        case 'C': o.client_net = optarg; break;
        case 'f': o.boot_file = optarg; break;
        case 'x': o.ipxe_path = optarg; break;
        case 'k': o.kernel_path = optarg; break;
        case 'i': o.initrd_path = optarg; break;
        case 'b': o.blksize = atoi(optarg); break;
        case 'w': o.windowsize = atoi(optarg); break;
        case 'z': o.tsize = 0; break;
        case 1: o.dhcp_timeout_s = atof(optarg) / 1000.0; break;
        case 2: o.ipxe_timeout_s = atof(optarg) / 1000.0; break;
        case 3: o.tftp_timeout_s = atof(optarg) / 1000.0; break;
        case 'R': o.retries = atoi(optarg); break;
        case 4: o.http_timeout_s = atof(optarg); break;
        case 'm': o.mac_offset = atol(optarg); break;
        case 'v': o.verbose = 1; break;
        case 5: o.once = 1; break;
        case 6: o.results_path = optarg; break;
        default: usage(argv[0]);
        }
    }
    if (!o.ipxe_path || !o.kernel_path || !o.initrd_path || o.clients < 1 || o.clients > MAX_CLIENTS ||
        o.stagger_s < 0 || o.stagger_s > 10 || !(o.deadline_s > 0) || o.deadline_s > MAX_DEADLINE_S ||
        o.blksize < 8 || o.blksize > 65464 || o.windowsize < 0 || o.windowsize > 64 || o.retries < 0 ||
        o.retries > 20 || !(o.dhcp_timeout_s > 0) || !(o.ipxe_timeout_s > 0) || !(o.tftp_timeout_s > 0) ||
        !(o.http_timeout_s > 0) || o.mac_offset < 0 || o.mac_offset + o.clients > 0x100000 ||
        o.dhcp_port < 1 || o.dhcp_port > 65535 || o.tftp_port < 1 || o.tftp_port > 65535 ||
        strlen(o.boot_file) > 127)
        usage(argv[0]);
    G.o = o;
    if (map_file(o.ipxe_path, &G.ipxe) || map_file(o.kernel_path, &G.kernel) || map_file(o.initrd_path, &G.initrd))
        return 2;

    /* Two sockets per client at most (TFTP, HTTP), plus the shared one and epoll. */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rlim_t want = (rlim_t)o.clients * 2 + 64;
        if (rl.rlim_cur < want) {
            rl.rlim_cur = want;
            if (rl.rlim_max < want) rl.rlim_max = want; /* needs CAP_SYS_RESOURCE */
            if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
                fprintf(stderr, "cannot raise RLIMIT_NOFILE to %llu: %s\n", (unsigned long long)want,
                        strerror(errno));
                return 2;
            }
        }
    }

    struct in_addr server, relay;
    if (inet_pton(AF_INET, o.server, &server) != 1 || inet_pton(AF_INET, o.relay, &relay) != 1) {
        fprintf(stderr, "bad address\n");
        return 2;
    }
    G.server_dhcp = (struct sockaddr_in){.sin_family = AF_INET, .sin_port = htons((uint16_t)o.dhcp_port),
                                         .sin_addr = server};
    G.server_tftp = (struct sockaddr_in){.sin_family = AF_INET, .sin_port = htons((uint16_t)o.tftp_port),
                                         .sin_addr = server};
    G.relay = (struct sockaddr_in){.sin_family = AF_INET, .sin_port = htons(67), .sin_addr = relay};

    unsigned net_a = 0, net_b = 0;
    int per_client_addr = strcmp(o.client_net, "none") != 0;
    if (per_client_addr && (sscanf(o.client_net, "%u.%u", &net_a, &net_b) != 2 || net_a > 255 || net_b > 255)) {
        fprintf(stderr, "--client-net A.B or none\n");
        return 2;
    }

    G.ep = epoll_create1(EPOLL_CLOEXEC);
    G.dhcp_fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (G.ep < 0 || G.dhcp_fd < 0) {
        perror("socket");
        return 2;
    }
    int one = 1, big = 4 << 20;
    setsockopt(G.dhcp_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one); /* the server's *:67 is there too */
    setsockopt(G.dhcp_fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
    setsockopt(G.dhcp_fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
    if (o.relay_dev[0] &&
        setsockopt(G.dhcp_fd, SOL_SOCKET, SO_BINDTODEVICE, o.relay_dev, (socklen_t)strlen(o.relay_dev)) != 0) {
        perror("SO_BINDTODEVICE");
        return 2;
    }
    if (bind(G.dhcp_fd, (const struct sockaddr *)&G.relay, sizeof G.relay) != 0) {
        fprintf(stderr, "bind %s:67: %s\n", o.relay, strerror(errno));
        return 2;
    }
    struct epoll_event dev = {.events = EPOLLIN, .data.u64 = TAG_DHCP};
    epoll_ctl(G.ep, EPOLL_CTL_ADD, G.dhcp_fd, &dev);

    G.c = calloc((size_t)o.clients, sizeof *G.c);
    double *tmp = calloc((size_t)o.clients * 7, sizeof *tmp);
    if (!G.c || !tmp) return 2;
    G.xmask = ((uint32_t)getpid() * 2654435761u) & 0xfffff800u; /* low bits: index and phase */

    struct rusage ru0, ru1;
    getrusage(RUSAGE_SELF, &ru0);
    double t0 = now_s();
    for (int i = 0; i < o.clients; i++) {
        struct client *c = &G.c[i];
        uint32_t m = (uint32_t)(o.mac_offset + i);
        c->idx = i;
        c->ufd = c->tfd = -1;
        c->mac[0] = 0x52;
        c->mac[1] = 0x54;
        c->mac[2] = 0x00;
        c->mac[3] = (unsigned char)(0x50 | ((m >> 16) & 0x0f));
        c->mac[4] = (unsigned char)(m >> 8);
        c->mac[5] = (unsigned char)m;
        snprintf(c->mac_h, sizeof c->mac_h, "%02x-%02x-%02x-%02x-%02x-%02x", c->mac[0], c->mac[1], c->mac[2],
                 c->mac[3], c->mac[4], c->mac[5]);
        if (per_client_addr) c->own.s_addr = htonl(net_a << 24 | net_b << 16 | (uint32_t)(i + 1));
        c->phase = P_WAIT;
        c->due = t0 + o.stagger_s * i;
    }
    G.active = o.clients;

    /* Timers are checked in a scan over all clients, at the earliest due time and at least every
     * 10 ms; every timer set by an event lies at least one timeout (>= 1 ms) ahead. */
    double deadline = t0 + o.deadline_s;
    double next_scan = t0;
    long iterations = 0, max_iterations = 500000000L;
    struct epoll_event evs[256];
    while (G.active > 0 && iterations++ < max_iterations) {
        double t = now_s();
        if (t >= deadline) break;
        if (t >= next_scan) {
            double wake = deadline;
            for (int i = 0; i < o.clients; i++) {
                struct client *c = &G.c[i];
                if (c->phase == P_DONE || c->phase == P_FAIL) continue;
                if (t >= c->due) on_timer(c, t);
                if (c->phase != P_DONE && c->phase != P_FAIL && c->due < wake) wake = c->due;
            }
            next_scan = wake < t + 0.010 ? wake : t + 0.010;
            if (G.active <= 0) break;
        }
        double wait = next_scan - now_s();
        int wait_ms = wait <= 0 ? 0 : (int)(wait * 1000.0) + 1;
        int n = epoll_wait(G.ep, evs, 256, wait_ms);
        if (n < 0) {
            if (errno == EINTR) continue;
            perror("epoll_wait");
            break;
        }
        t = now_s();
        for (int k = 0; k < n; k++) {
            uint64_t tag = evs[k].data.u64 & 0xff;
            int idx = (int)(evs[k].data.u64 >> 8);
            if (tag == TAG_DHCP) {
                for (int b = 0; b < RECV_BURST; b++) {
                    ssize_t got = recv(G.dhcp_fd, G.tbuf, sizeof G.tbuf, 0);
                    if (got < 0) break;
                    on_dhcp_reply(G.tbuf, (size_t)got, t);
                }
                continue;
            }
            if (idx < 0 || idx >= o.clients) continue;
            struct client *c = &G.c[idx];
            if (tag == TAG_TFTP) {
                for (int b = 0; b < RECV_BURST && (c->phase == P_PROBE || c->phase == P_TFTP); b++) {
                    struct sockaddr_in from;
                    socklen_t fl = sizeof from;
                    int fd = c->ufd;
                    ssize_t got = recvfrom(fd, G.tbuf, sizeof G.tbuf, 0, (struct sockaddr *)&from, &fl);
                    if (got < 0) {
                        if (errno == ECONNREFUSED) fail(c, "TFTP: connection refused");
                        break;
                    }
                    on_tftp(c, G.tbuf, got, &from, t);
                    if (c->ufd != fd) break; /* the probe ended: a new socket */
                }
            } else if (tag == TAG_TCP && c->tfd >= 0 && c->phase >= P_SCRIPT && c->phase <= P_CALLBACK) {
                on_tcp(c, evs[k].events, t);
            }
        }
    }
    double t_end = now_s();
    getrusage(RUSAGE_SELF, &ru1);

    long completed = 0, failed = 0, dhcp_retx = 0, ipxe_retx = 0, tftp_retx = 0, gap = 0, dup = 0, connects = 0,
         reuses = 0, stray = 0;
    uint64_t tftp_bytes = 0, http_bytes = 0;
    double last_done = t0;
    const char *first = "";
    int unfinished_phase[P_FAIL + 1] = {0};
    struct series s_dhcp = {tmp, 0}, s_tftp = {tmp + o.clients, 0}, s_ipxe = {tmp + 2 * o.clients, 0},
                  s_script = {tmp + 3 * o.clients, 0}, s_assets = {tmp + 4 * o.clients, 0},
                  s_total = {tmp + 5 * o.clients, 0};
    for (int i = 0; i < o.clients; i++) {
        struct client *c = &G.c[i];
        if (c->phase != P_DONE && c->phase != P_FAIL) {
            unfinished_phase[c->phase]++;
            fail(c, "unfinished at the deadline");
        }
        if (c->phase == P_DONE) completed++;
        else {
            failed++;
            if (!*first) first = c->why;
        }
        if (c->mark[M_ASSETS] > last_done) last_done = c->mark[M_ASSETS];
        add(&s_dhcp, c->mark[M_START], c->mark[M_DHCP]);
        add(&s_tftp, c->mark[M_DHCP], c->mark[M_TFTP]);
        add(&s_ipxe, c->mark[M_TFTP], c->mark[M_IPXE]);
        add(&s_script, c->mark[M_IPXE], c->mark[M_SCRIPT]);
        add(&s_assets, c->mark[M_SCRIPT], c->mark[M_ASSETS]);
        add(&s_total, c->mark[M_START], c->mark[M_ASSETS]);
        dhcp_retx += c->dhcp_retx;
        ipxe_retx += c->ipxe_retx;
        tftp_retx += c->tftp_retx;
        gap += c->gap_acks;
        dup += c->dup_data;
        connects += c->tcp_connects;
        reuses += c->keepalive_reuses;
        stray += c->stray;
        tftp_bytes += c->tftp_bytes;
        http_bytes += c->http_bytes;
    }
    if (o.results_path) {
        FILE *rf = fopen(o.results_path, "w");
        if (!rf) {
            perror(o.results_path);
            return 2;
        }
        for (int i = 0; i < o.clients; i++) {
            const struct client *c = &G.c[i];
            const char *outcome = c->phase != P_DONE ? "failed" : c->local_boot ? "local" : "install";
            fprintf(rf, "%s %s %s %s\n", c->mac_h, outcome, c->token[0] ? c->token : "-",
                    c->phase == P_DONE ? "-" : c->why);
        }
        fclose(rf);
    }
    struct series *all[] = {&s_dhcp, &s_tftp, &s_ipxe, &s_script, &s_assets, &s_total};
    for (int k = 0; k < 6; k++) qsort(all[k]->v, (size_t)all[k]->n, sizeof(double), cmp_d);
    double secs = (completed == o.clients ? last_done : t_end) - t0;
    double cpu = (double)(ru1.ru_utime.tv_sec - ru0.ru_utime.tv_sec) +
                 (double)(ru1.ru_utime.tv_usec - ru0.ru_utime.tv_usec) / 1e6 +
                 (double)(ru1.ru_stime.tv_sec - ru0.ru_stime.tv_sec) +
                 (double)(ru1.ru_stime.tv_usec - ru0.ru_stime.tv_usec) / 1e6;
    uint64_t bytes = tftp_bytes + http_bytes;
    printf("clients=%d completed=%ld failed=%ld seconds=%.3f dhcp_p50_ms=%.1f dhcp_p99_ms=%.1f tftp_p50_ms=%.1f "
           "tftp_p99_ms=%.1f ipxe_dhcp_p50_ms=%.1f ipxe_dhcp_p99_ms=%.1f script_p50_ms=%.1f script_p99_ms=%.1f "
           "assets_p50_ms=%.1f assets_p99_ms=%.1f total_p50_ms=%.1f total_p99_ms=%.1f bytes=%llu tftp_bytes=%llu "
           "http_bytes=%llu dhcp_retransmits=%ld ipxe_dhcp_retransmits=%ld tftp_retransmits=%ld gap_acks=%ld "
           "dup_data=%ld tcp_connects=%ld keepalive_reuses=%ld dhcp_stray=%ld dhcp_dup=%ld stray=%ld "
           "client_cpu=%.3f first_error=\"%s\"\n",
           o.clients, completed, failed, secs, pct(s_dhcp.v, s_dhcp.n, 50), pct(s_dhcp.v, s_dhcp.n, 99),
           pct(s_tftp.v, s_tftp.n, 50), pct(s_tftp.v, s_tftp.n, 99), pct(s_ipxe.v, s_ipxe.n, 50),
           pct(s_ipxe.v, s_ipxe.n, 99), pct(s_script.v, s_script.n, 50), pct(s_script.v, s_script.n, 99),
           pct(s_assets.v, s_assets.n, 50), pct(s_assets.v, s_assets.n, 99), pct(s_total.v, s_total.n, 50),
           pct(s_total.v, s_total.n, 99), (unsigned long long)bytes, (unsigned long long)tftp_bytes,
           (unsigned long long)http_bytes, dhcp_retx, ipxe_retx, tftp_retx, gap, dup, connects, reuses,
           G.dhcp_stray, G.dhcp_dup, stray, cpu, first);
    fflush(stdout);

    fprintf(stderr, "boot-storm: %ld of %d machines booted in %.2f s (%.1f MB verified, %.1f MB/s)", completed,
            o.clients, secs, (double)bytes / 1e6, secs > 0 ? (double)bytes / 1e6 / secs : 0.0);
    if (failed) {
        fprintf(stderr, "; %ld failed, first: %s", failed, first);
        int any = 0;
        for (int p = 0; p < P_FAIL; p++)
            if (unfinished_phase[p]) {
                fprintf(stderr, "%s%d unfinished in %s", any++ ? ", " : "; ", unfinished_phase[p], phase_names[p]);
            }
    }
    fprintf(stderr, "\n  p50/p99 ms: dhcp %.1f/%.1f  tftp %.1f/%.1f  ipxe-dhcp %.1f/%.1f  script %.1f/%.1f  "
                    "assets %.1f/%.1f  total %.1f/%.1f\n",
            pct(s_dhcp.v, s_dhcp.n, 50), pct(s_dhcp.v, s_dhcp.n, 99), pct(s_tftp.v, s_tftp.n, 50),
            pct(s_tftp.v, s_tftp.n, 99), pct(s_ipxe.v, s_ipxe.n, 50), pct(s_ipxe.v, s_ipxe.n, 99),
            pct(s_script.v, s_script.n, 50), pct(s_script.v, s_script.n, 99), pct(s_assets.v, s_assets.n, 50),
            pct(s_assets.v, s_assets.n, 99), pct(s_total.v, s_total.n, 50), pct(s_total.v, s_total.n, 99));
    if (dhcp_retx || ipxe_retx || tftp_retx)
        fprintf(stderr, "  retransmissions: %ld DISCOVER (PXE), %ld DISCOVER (iPXE), %ld TFTP\n", dhcp_retx,
                ipxe_retx, tftp_retx);
    return failed ? 1 : 0;
}
