/*
 * udp-ceiling: what raw UDP does on the benchmark's path, as the ceiling for TFTP numbers.
 *
 *   udp-ceiling recv -p PORT [-b PAYLOAD] [-w WINDOW]        the "client": receives, ACKs
 *   udp-ceiling send -p PORT [-b PAYLOAD] [-w WINDOW] [-t S] [-m pingpong|blast]
 *
 * pingpong: the sender sends WINDOW datagrams of 4 + PAYLOAD octets in one sendmmsg and waits
 * for the receiver's 4-octet ACK before the next window: TFTP with windowsize WINDOW minus
 * everything a TFTP server does besides moving datagrams. blast: the sender never waits; the
 * receiver counts what arrives. The sender prints one line of key=value pairs (MB = 10^6 octets
 * of payload), e.g. mode=pingpong bytes=... seconds=... mbps=... windows=... timeouts=...
 * Every loop is bounded by the duration (-t, at most 60 s) and the receiver exits after 5 s
 * without traffic.
 *
 * Build: cc -O2 -Wall -Wextra -Werror -o udp-ceiling udp-ceiling.c
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_WINDOW 64
#define MAX_PAYLOAD 65000

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int udp_socket(void) {
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        perror("socket");
        exit(2);
    }
    int size = 4 << 20;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
    return fd;
}

static struct sockaddr_in loopback(int port) {
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return a;
}

static int receiver(int port, int payload, int window) {
    int fd = udp_socket();
    struct sockaddr_in self = loopback(port);
    if (bind(fd, (struct sockaddr *)&self, sizeof self) < 0) {
        perror("bind");
        return 2;
    }
    /* Read as tftp-load does: a recvmmsg burst per wake-up, so the ceiling and the TFTP
     * numbers share the client's cost per datagram. */
    unsigned char *bufs = malloc((size_t)MAX_WINDOW * ((size_t)payload + 4));
    struct mmsghdr msgs[MAX_WINDOW];
    struct iovec iov[MAX_WINDOW];
    struct sockaddr_in froms[MAX_WINDOW];
    unsigned char ack[4] = {0, 4, 0, 0};
    long received = 0, in_window = 0;
    int done = 0;
    while (!done) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 5000) <= 0) break; /* idle 5 s: the sender is done */
        for (int i = 0; i < MAX_WINDOW; i++) {
            iov[i].iov_base = bufs + (size_t)i * ((size_t)payload + 4);
            iov[i].iov_len = (size_t)payload + 4;
            memset(&msgs[i], 0, sizeof msgs[i]);
            msgs[i].msg_hdr.msg_iov = &iov[i];
            msgs[i].msg_hdr.msg_iovlen = 1;
            msgs[i].msg_hdr.msg_name = &froms[i];
            msgs[i].msg_hdr.msg_namelen = sizeof froms[i];
        }
        int got = recvmmsg(fd, msgs, MAX_WINDOW, MSG_DONTWAIT, NULL);
        for (int i = 0; i < got; i++) {
            unsigned char *d = iov[i].iov_base;
            if (msgs[i].msg_len == 1) { /* the sender's end marker */
                done = 1;
                break;
            }
            received++;
            if (++in_window >= window || d[1] == 1) { /* d[1] == 1: the last datagram of a window */
                in_window = 0;
                sendto(fd, ack, sizeof ack, 0, (struct sockaddr *)&froms[i], msgs[i].msg_hdr.msg_namelen);
            }
        }
    }
    printf("received=%ld\n", received);
    return 0;
}

static int sender(int port, int payload, int window, double seconds, int blast) {
    int fd = udp_socket();
    struct sockaddr_in to = loopback(port);
    if (connect(fd, (struct sockaddr *)&to, sizeof to) < 0) {
        perror("connect");
        return 2;
    }
    unsigned char *data = calloc((size_t)window, (size_t)payload + 4);
    struct mmsghdr msgs[MAX_WINDOW];
    struct iovec iov[MAX_WINDOW];
    for (int i = 0; i < window; i++) {
        unsigned char *d = data + (size_t)i * ((size_t)payload + 4);
        d[1] = (unsigned char)(i == window - 1 ? 1 : 3); /* mark the window's last datagram */
        iov[i].iov_base = d;
        iov[i].iov_len = (size_t)payload + 4;
        memset(&msgs[i], 0, sizeof msgs[i]);
        msgs[i].msg_hdr.msg_iov = &iov[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
    }
    long windows = 0, timeouts = 0, sent = 0;
    double t0 = now_s(), end = t0 + seconds;
    while (now_s() < end) {
        int n = sendmmsg(fd, msgs, (unsigned)window, 0);
        if (n < 0) {
            if (errno == ECONNREFUSED) continue;
            perror("sendmmsg");
            break;
        }
        sent += n;
        windows++;
        if (blast) continue;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 200) <= 0) { /* a lost datagram: the window is resent */
            timeouts++;
            continue;
        }
        unsigned char ack[16];
        (void)recv(fd, ack, sizeof ack, 0);
    }
    double t1 = now_s();
    unsigned char endmark = 0;
    for (int i = 0; i < 3; i++) send(fd, &endmark, 1, 0);
    double bytes = (double)(windows - timeouts) * window * payload;
    if (blast) bytes = (double)sent * payload;
    printf("mode=%s bytes=%.0f seconds=%.3f mbps=%.2f windows=%ld timeouts=%ld\n", blast ? "blast" : "pingpong",
           bytes, t1 - t0, bytes / (t1 - t0) / 1e6, windows, timeouts);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: udp-ceiling recv|send -p PORT [-b PAYLOAD] [-w WINDOW] [-t S] [-m pingpong|blast]\n");
        return 2;
    }
    int port = 0, payload = 1468, window = 16, blast = 0;
    double seconds = 3;
    int opt;
    optind = 2;
    while ((opt = getopt(argc, argv, "p:b:w:t:m:")) != -1) {
        switch (opt) {
        case 'p': port = atoi(optarg); break;
        case 'b': payload = atoi(optarg); break;
        case 'w': window = atoi(optarg); break;
        case 't': seconds = atof(optarg); break;
        case 'm': blast = strcmp(optarg, "blast") == 0; break;
        default: return 2;
        }
    }
    if (port <= 0 || port > 65535 || payload < 1 || payload > MAX_PAYLOAD || window < 1 || window > MAX_WINDOW ||
        seconds <= 0 || seconds > 60) {
        fprintf(stderr, "bad arguments\n");
        return 2;
    }
    if (strcmp(argv[1], "recv") == 0) return receiver(port, payload, window);
    if (strcmp(argv[1], "send") == 0) return sender(port, payload, window, seconds, blast);
    fprintf(stderr, "recv or send\n");
    return 2;
}
