#!/usr/bin/env python3
"""Clients for Tests/e2e/faults.sh: what a LAN host does to vboot around a fault.

  probe     after a restart: polls GET /health and sends proxyDHCP DISCOVERs (EDK2's PXE options,
            relayed: giaddr = --relay, so the OFFER comes back to --relay:67) until both answer;
            prints "health_ms=N dhcp_ms=N", measured from the time in --since-file (CLOCK_REALTIME
            ns, written just before vboot is started; the probe waits for it), -1 when one did not
            answer within --limit seconds.
  dhcp      one DISCOVER exchange, as above; exit 0 when the OFFER came (prints "offer_ms=N").
  ticks     the two-server test: every --interval seconds the next MAC of --macs is asked for
            /boot.ipxe by every server of --servers at the same moment; each answer is a line
            "t_ns server mac status kind token ms" in --out (kind install|local|other|error).
  leases    --count DHCP clients (MACs 02:fb:00:00:XX:XX from --first), one after another, each
            DISCOVER -> OFFER -> REQUEST -> ACK against vboot --dhcp full, relayed like probe;
            retried (0.3 s per answer) until --seconds; each ACK appends "MAC address" to --out
            as soon as it arrives, so the file holds every lease the server confirmed.
  burst     --count script requests for unknown MACs 02:fa:00:00:XX:XX (from --first), one after
            another, each with a --timeout; prints the count of each HTTP status (0: no answer).
  slowloris --count TCP connections that send a request head one byte every --drip seconds and
            never finish it; prints how many the server still held open at the end.
  tftp      --count UDP sockets on one address send RRQs for --file and never ACK; every
            --cycle seconds each socket is replaced by a new one (a new port) with a new RRQ.

Every loop is bounded in count and time (--limit / --seconds). Standard library only.
"""
import argparse
import os
import random
import resource
import select
import socket
import struct
import sys
import threading
import time
import urllib.error
import urllib.request


def mac_bytes(mac):
    return bytes(int(x, 16) for x in mac.replace("-", ":").split(":"))


def discover(mac, xid, relay):
    """EDK2's PXE DHCPDISCOVER, as a relay agent forwards it (giaddr, hops 1)."""
    p = bytearray(240)
    p[0:4] = bytes([1, 1, 6, 1])
    struct.pack_into("!I", p, 4, xid)
    struct.pack_into("!H", p, 10, 0x8000)
    p[24:28] = socket.inet_aton(relay)
    p[28:34] = mac_bytes(mac)
    p[236:240] = bytes([99, 130, 83, 99])
    guid = bytes(17)
    opts = [(53, b"\x01"), (57, b"\x05\xc0"), (55, bytes([1, 3, 6, 43, 60, 66, 67, 97])),
            (97, guid), (94, b"\x01\x03\x10"), (93, b"\x00\x07"), (60, b"PXEClient:Arch:00007:UNDI:003016")]
    for code, value in opts:
        p += bytes([code, len(value)]) + value
    p += b"\xff"
    return bytes(p)


def relay_socket(relay):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.SOL_SOCKET, 25, b"lo")  # SO_BINDTODEVICE: wins over the server's *:67
    s.bind((relay, 67))
    s.setblocking(False)
    return s


def offered(sock, mac, xid):
    want = mac_bytes(mac)
    for _ in range(64):
        try:
            data = sock.recv(2048)
        except BlockingIOError:
            return False
        if len(data) >= 240 and data[0] == 2 and struct.unpack_from("!I", data, 4)[0] == xid and data[28:34] == want:
            return True
    return False


def health_ok(url):
    try:
        with urllib.request.urlopen(url, timeout=0.3) as r:
            return r.status == 200
    except (OSError, urllib.error.URLError):
        return False


def cmd_probe(a):
    # Started before the restart (interpreter start-up is not vboot's): waits for --since-file,
    # which holds the CLOCK_REALTIME ns taken just before vboot was started again.
    for _ in range(int(a.wait * 1000)):
        try:
            since = int(open(a.since_file).read().strip())
            break
        except (OSError, ValueError):
            time.sleep(0.001)
    else:
        print("health_ms=-1 dhcp_ms=-1 (no --since-file)")
        return 1
    ms = lambda: (time.time_ns() - since) / 1e6
    sock = relay_socket(a.relay)
    health = dhcp = -1.0
    xid = random.getrandbits(32)
    end = time.monotonic() + a.limit
    sent = 0
    while time.monotonic() < end and (health < 0 or dhcp < 0) and sent < 100000:
        if dhcp < 0:
            if offered(sock, a.mac, xid):
                dhcp = ms()
            else:
                try:
                    sock.sendto(discover(a.mac, xid, a.relay), (a.server, 67))
                except OSError:
                    pass
                sent += 1
        if health < 0 and health_ok(a.http + "/health"):
            health = ms()
        select.select([sock], [], [], 0.01)
        if dhcp < 0 and offered(sock, a.mac, xid):
            dhcp = ms()
    print(f"health_ms={health:.0f} dhcp_ms={dhcp:.0f}")
    return 0 if health >= 0 and dhcp >= 0 else 1


def cmd_dhcp(a):
    sock = relay_socket(a.relay)
    xid = random.getrandbits(32)
    t0 = time.monotonic()
    for _ in range(int(a.limit / 0.25) + 1):
        sock.sendto(discover(a.mac, xid, a.relay), (a.server, 67))
        select.select([sock], [], [], 0.25)
        if offered(sock, a.mac, xid):
            print(f"offer_ms={(time.monotonic() - t0) * 1000:.0f}")
            return 0
    print("offer_ms=-1")
    return 1


def classify(status, body):
    if status != 200:
        return "error", "-"
    text = body.decode(errors="replace")
    if "token=" in text:
        token = text.split("token=", 1)[1].split()[0].split("&")[0]
        return "install", token
    if "local disk" in text:
        return "local", "-"
    return "other", "-"


def fetch(server, mac, timeout):
    try:
        with urllib.request.urlopen(f"{server}/boot.ipxe?mac={mac}", timeout=timeout) as r:
            return r.status, r.read(65536)
    except urllib.error.HTTPError as e:
        return e.code, b""
    except OSError:
        return 0, b""


def cmd_ticks(a):
    servers = a.servers.split(",")
    macs = [m.strip() for m in open(a.macs) if m.strip()]
    lock = threading.Lock()
    out = open(a.out, "a")

    def ask(server, mac):
        t0 = time.monotonic()
        status, body = fetch(server, mac, a.timeout)
        ms = (time.monotonic() - t0) * 1000
        kind, token = classify(status, body)
        with lock:
            out.write(f"{time.time_ns()} {server} {mac} {status} {kind} {token} {ms:.0f}\n")
            out.flush()

    start = time.monotonic()
    for i, mac in enumerate(macs[: a.max_ticks]):
        due = start + i * a.interval
        time.sleep(max(0.0, due - time.monotonic()))
        threads = [threading.Thread(target=ask, args=(s, mac)) for s in servers]
        for t in threads:
            t.start()
        for t in threads:
            t.join(a.timeout + 1)
    out.close()
    return 0


def dhcp_options(data):
    opts, i = {}, 240
    while i < len(data) and data[i] != 255:
        if data[i] == 0:
            i += 1
            continue
        if i + 1 >= len(data):
            break
        opts[data[i]] = data[i + 2 : i + 2 + data[i + 1]]
        i += 2 + data[i + 1]
    return opts


def plain_packet(mac, xid, relay, kind, requested=None, server_id=None):
    p = bytearray(240)
    p[0:4] = bytes([1, 1, 6, 1])
    struct.pack_into("!I", p, 4, xid)
    p[24:28] = socket.inet_aton(relay)
    p[28:34] = mac_bytes(mac)
    p[236:240] = bytes([99, 130, 83, 99])
    p += bytes([53, 1, kind, 55, 3, 1, 3, 6, 61, 7, 1]) + mac_bytes(mac)
    if requested:
        p += bytes([50, 4]) + requested
    if server_id:
        p += bytes([54, 4]) + server_id
    return bytes(p + b"\xff")


def answer(sock, mac, xid, kinds, timeout):
    want = mac_bytes(mac)
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        select.select([sock], [], [], max(0.0, end - time.monotonic()))
        for _ in range(64):
            try:
                data = sock.recv(2048)
            except BlockingIOError:
                break
            if len(data) < 240 or data[0] != 2 or struct.unpack_from("!I", data, 4)[0] != xid or data[28:34] != want:
                continue
            opts = dhcp_options(data)
            if opts.get(53, b"\x00")[0] in kinds:
                return data, opts
    return None, None


def cmd_leases(a):
    sock = relay_socket(a.relay)
    out = open(a.out, "a")
    end = time.monotonic() + a.seconds
    acked = attempts = 0
    for i in range(a.first, a.first + a.count):
        mac = f"02:fb:00:00:{i >> 8 & 255:02x}:{i & 255:02x}"
        while time.monotonic() < end:
            attempts += 1
            xid = random.getrandbits(32)
            try:
                sock.sendto(plain_packet(mac, xid, a.relay, 1), (a.server, 67))
                offer, opts = answer(sock, mac, xid, (2,), 0.3)
                if offer is not None and 54 in opts:
                    yiaddr = offer[16:20]
                    sock.sendto(plain_packet(mac, xid, a.relay, 3, yiaddr, opts[54]), (a.server, 67))
                    ack, _ = answer(sock, mac, xid, (5, 6), 0.3)
                    if ack is not None and dhcp_options(ack).get(53) == b"\x05":
                        out.write(f"{mac} {socket.inet_ntoa(ack[16:20])}\n")
                        out.flush()
                        acked += 1
                        break
            except OSError:
                pass
            time.sleep(0.05)
        time.sleep(a.interval)
    print(f"leases_acked={acked} attempts={attempts}")
    return 0 if acked == a.count else 1


def cmd_burst(a):
    counts = {}
    for i in range(a.first, a.first + a.count):
        mac = f"02-fa-00-00-{i >> 8 & 255:02x}-{i & 255:02x}"
        status, _ = fetch(a.server, mac, a.timeout)
        counts[status] = counts.get(status, 0) + 1
    print(" ".join(f"status_{k}={v}" for k, v in sorted(counts.items())))
    return 0


def raise_nofile(n):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(max(soft, n + 256), hard)
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


def cmd_slowloris(a):
    raise_nofile(a.count)
    head = f"GET /boot.ipxe?mac=02-00-00-00-00-01 HTTP/1.1\r\nHost: {a.host}\r\nX-Slow: ".encode()
    conns, refused = [], 0
    for _ in range(a.count):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(2)
        try:
            s.connect((a.host, a.port))
            s.send(head[:8])
            s.setblocking(False)
            conns.append([s, 8])
        except OSError:
            refused += 1
            s.close()
    print(f"slowloris: {len(conns)} connections open, {refused} refused", flush=True)
    end = time.monotonic() + a.seconds
    closed = 0
    while time.monotonic() < end and conns:
        for c in conns:
            if c[0] is None:
                continue
            try:
                byte = head[c[1] : c[1] + 1] if c[1] < len(head) else b"a"
                c[0].send(byte)
                c[1] += 1
                try:
                    if c[0].recv(1) == b"":
                        raise OSError("closed")
                except BlockingIOError:
                    pass
            except OSError:
                c[0].close()
                c[0] = None
                closed += 1
        time.sleep(min(a.drip, max(0.0, end - time.monotonic())))
    held = sum(1 for c in conns if c[0] is not None)
    for c in conns:
        if c[0] is not None:
            c[0].close()
    print(f"slowloris_opened={len(conns)} slowloris_refused={refused} slowloris_closed_by_server={closed} "
          f"slowloris_held_at_end={held}")
    return 0


def cmd_tftp(a):
    raise_nofile(a.count)
    rrq = b"\x00\x01" + a.file.encode() + b"\x00octet\x00blksize\x001468\x00windowsize\x0016\x00"

    def fresh():
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setblocking(False)
        try:
            s.sendto(rrq, (a.server, a.port))
        except OSError:
            pass
        return s

    socks = [fresh() for _ in range(a.count)]
    sent = a.count
    end = time.monotonic() + a.seconds
    next_cycle = time.monotonic() + a.cycle
    received = 0

    def poller():
        p = select.poll()
        for s in socks:
            p.register(s, select.POLLIN)
        return p, {s.fileno(): s for s in socks}

    p, by_fd = poller()
    while time.monotonic() < end:
        for fd, _ in p.poll(50):
            for _ in range(16):
                try:
                    by_fd[fd].recv(70000)  # read and drop: never ACK
                    received += 1
                except OSError:
                    break
        if time.monotonic() >= next_cycle:
            for i, s in enumerate(socks):
                s.close()
                socks[i] = fresh()
            sent += a.count
            p, by_fd = poller()
            next_cycle = time.monotonic() + a.cycle
    for s in socks:
        s.close()
    print(f"tftp_rrqs_sent={sent} tftp_packets_received={received}")
    return 0


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("probe")
    p.add_argument("--since-file", required=True)
    p.add_argument("--wait", type=float, default=120)
    p.add_argument("--http", required=True)
    p.add_argument("--server", default="127.0.0.1")
    p.add_argument("--relay", default="127.0.0.3")
    p.add_argument("--mac", required=True)
    p.add_argument("--limit", type=float, default=10)
    p = sub.add_parser("dhcp")
    p.add_argument("--server", default="127.0.0.1")
    p.add_argument("--relay", default="127.0.0.3")
    p.add_argument("--mac", required=True)
    p.add_argument("--limit", type=float, default=3)
    p = sub.add_parser("ticks")
    p.add_argument("--servers", required=True)
    p.add_argument("--macs", required=True)
    p.add_argument("--interval", type=float, default=0.2)
    p.add_argument("--timeout", type=float, default=3)
    p.add_argument("--max-ticks", type=int, default=1000)
    p.add_argument("--out", required=True)
    p = sub.add_parser("leases")
    p.add_argument("--server", default="127.0.0.1")
    p.add_argument("--relay", default="127.0.0.4")
    p.add_argument("--first", type=int, default=0)
    p.add_argument("--count", type=int, default=20)
    p.add_argument("--interval", type=float, default=0.0)
    p.add_argument("--seconds", type=float, default=30)
    p.add_argument("--out", required=True)
    p = sub.add_parser("burst")
    p.add_argument("--server", required=True)
    p.add_argument("--first", type=int, default=0)
    p.add_argument("--count", type=int, default=100)
    p.add_argument("--timeout", type=float, default=3)
    p = sub.add_parser("slowloris")
    p.add_argument("--host", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--count", type=int, default=1000)
    p.add_argument("--seconds", type=float, default=60)
    p.add_argument("--drip", type=float, default=5)
    p = sub.add_parser("tftp")
    p.add_argument("--server", required=True)
    p.add_argument("--port", type=int, default=69)
    p.add_argument("--file", default="ipxe.efi")
    p.add_argument("--count", type=int, default=1000)
    p.add_argument("--seconds", type=float, default=60)
    p.add_argument("--cycle", type=float, default=3)
    a = ap.parse_args()
    for name in ("count",):
        if hasattr(a, name) and not 1 <= getattr(a, name) <= 5000:
            ap.error("--count 1..5000")
    if hasattr(a, "seconds") and not 0 < a.seconds <= 900:
        ap.error("--seconds up to 900")
    return {"probe": cmd_probe, "dhcp": cmd_dhcp, "ticks": cmd_ticks, "leases": cmd_leases, "burst": cmd_burst, "slowloris": cmd_slowloris,
            "tftp": cmd_tftp}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
