#!/usr/bin/env python3
"""A lossy UDP relay for TFTP, for kernels without sch_netem (tc qdisc ... netem).

    tftp-impair-relay.py --listen 127.0.0.1:PORT --server 127.0.0.1:TFTPPORT \
        [--loss 5] [--duplicate 5] [--reorder 25] [--delay-ms 1] [--seed N]

Clients send their RRQ/WRQ to --listen. TFTP servers answer from a fresh port (the transfer ID),
so for every server port the relay opens a fresh port of its own towards the client: both sides
see a normal TFTP peer. Every datagram, in both directions, is impaired like netem's
"loss L% duplicate D% reorder R% delay Xms": dropped with probability L, sent twice with
probability D, and otherwise delayed by X ms, except that with probability R it goes out at once
(overtaking the delayed ones). Loopback only; runs until SIGTERM, then prints its counters.
"""
import argparse
import heapq
import random
import select
import signal
import socket
import sys
import time


def hostport(s):
    host, port = s.rsplit(":", 1)
    return host, int(port)


ap = argparse.ArgumentParser()
ap.add_argument("--listen", type=hostport, required=True)
ap.add_argument("--server", type=hostport, required=True)
ap.add_argument("--loss", type=float, default=5.0)
ap.add_argument("--duplicate", type=float, default=5.0)
ap.add_argument("--reorder", type=float, default=25.0)
ap.add_argument("--delay-ms", type=float, default=1.0)
ap.add_argument("--seed", type=int, default=None)
args = ap.parse_args()

seed = args.seed if args.seed is not None else random.randrange(1 << 30)
rng = random.Random(seed)
counts = {"in": 0, "dropped": 0, "duplicated": 0, "immediate": 0, "sent": 0}

main = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
main.bind(args.listen)
host = args.listen[0]

# client address -> {"up": socket towards the server, "down": {server port: socket towards client}}
sessions = {}
# socket -> ("main", None) | ("up", client) | ("down", (client, server port))
role = {main: ("main", None)}
queue = []  # (due, seq, socket, payload, destination)
seq = 0


def emit(sock, payload, dest):
    global seq
    counts["in"] += 1
    if rng.random() * 100 < args.loss:
        counts["dropped"] += 1
        return
    copies = 2 if rng.random() * 100 < args.duplicate else 1
    if copies == 2:
        counts["duplicated"] += 1
    now = time.monotonic()
    for _ in range(copies):
        if rng.random() * 100 < args.reorder:
            counts["immediate"] += 1
            due = now
        else:
            due = now + args.delay_ms / 1000.0
        seq += 1
        heapq.heappush(queue, (due, seq, sock, payload, dest))


def session(client):
    s = sessions.get(client)
    if s is None:
        up = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        up.bind((host, 0))
        s = {"up": up, "down": {}}
        sessions[client] = s
        role[up] = ("up", client)
    return s


def stop(*_):
    print(f"tftp-impair-relay: seed {seed} counters {counts}", file=sys.stderr, flush=True)
    sys.exit(0)


signal.signal(signal.SIGTERM, stop)
signal.signal(signal.SIGINT, stop)
print(f"tftp-impair-relay: {args.listen} -> {args.server} seed {seed}", file=sys.stderr, flush=True)

while True:
    now = time.monotonic()
    while queue and queue[0][0] <= now:
        _, _, sock, payload, dest = heapq.heappop(queue)
        try:
            sock.sendto(payload, dest)
            counts["sent"] += 1
        except OSError:
            pass
    timeout = max(0.0, queue[0][0] - now) if queue else 1.0
    ready, _, _ = select.select(list(role), [], [], timeout)
    for sock in ready:
        try:
            payload, src = sock.recvfrom(65536)
        except OSError:
            continue
        kind, key = role[sock]
        if kind == "main":  # a request from a client: to the server's well-known port
            emit(session(src)["up"], payload, args.server)
        elif kind == "up":  # from the server (any of its transfer ports): to the client
            client = key
            s = sessions[client]
            down = s["down"].get(src[1])
            if down is None:
                down = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                down.bind((host, 0))
                s["down"][src[1]] = down
                role[down] = ("down", (client, src[1]))
            emit(down, payload, client)
        else:  # from the client to one server transfer port
            client, server_port = key
            if src != client:
                continue
            emit(sessions[client]["up"], payload, (args.server[0], server_port))
