#!/usr/bin/env python3
"""Measure vboot's proxyDHCP reply latency on loopback, one request outstanding at a time.

Usage: proxy-latency.py FIXTURE PORT [COUNT]
Sends the DHCP packet in FIXTURE (its message type forced to REQUEST, ciaddr 127.0.0.1, a fresh
xid each time) to 127.0.0.1:PORT (vboot's --pxe-port), waits for the matching reply and prints
the round-trip percentiles. Bounded: COUNT requests (default 2000), 1 s timeout each.
"""
import socket
import struct
import sys
import time


def main():
    fixture, port = sys.argv[1], int(sys.argv[2])
    count = int(sys.argv[3]) if len(sys.argv) > 3 else 2000
    base = bytearray(open(fixture, "rb").read())
    base[12:16] = socket.inet_aton("127.0.0.1")  # ciaddr
    i = 240
    while i < len(base) and base[i] != 255:  # force option 53 to REQUEST
        if base[i] == 0:
            i += 1
            continue
        if base[i] == 53:
            base[i + 2] = 3
        i += 2 + base[i + 1]
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    s.settimeout(1.0)
    times, lost = [], 0
    for n in range(count):
        struct.pack_into("!I", base, 4, 0x10000000 + n)
        start = time.perf_counter()
        s.sendto(base, ("127.0.0.1", port))
        try:
            while True:
                data, _ = s.recvfrom(2048)
                if struct.unpack_from("!I", data, 4)[0] == 0x10000000 + n:
                    break
            times.append(time.perf_counter() - start)
        except socket.timeout:
            lost += 1
    times.sort()
    pct = lambda p: times[min(len(times) - 1, int(p / 100 * len(times)))] * 1e6
    print(f"proxyDHCP round trip on loopback, {len(times)} answered, {lost} lost: "
          f"p50 {pct(50):.0f} us, p90 {pct(90):.0f} us, p99 {pct(99):.0f} us, max {times[-1]*1e6:.0f} us")


if __name__ == "__main__":
    main()
