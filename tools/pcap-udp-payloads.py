#!/usr/bin/env python3
"""Extract UDP payloads from a classic pcap (Ethernet/IPv4) as fixture files.

Usage: pcap-udp-payloads.py CAPTURE.pcap OUTDIR [--port N]...
Writes OUTDIR/NNN-<src>-<sport>-<dst>-<dport>.bin, one file per datagram, and prints a summary
line per datagram (index, addresses, ports, length, the source MAC) so a human can pick the ones
worth keeping as golden packets.
"""
import struct
import sys
from pathlib import Path


def packets(data):
    magic = struct.unpack_from("<I", data, 0)[0]
    endian = "<" if magic in (0xA1B2C3D4, 0xA1B23C4D) else ">"
    linktype = struct.unpack_from(endian + "I", data, 20)[0]
    if linktype != 1:
        raise SystemExit(f"link type {linktype} is not Ethernet")
    off = 24
    while off + 16 <= len(data):
        _, _, incl, _ = struct.unpack_from(endian + "IIII", data, off)
        off += 16
        yield data[off : off + incl]
        off += incl


def main():
    args = sys.argv[1:]
    if len(args) < 2:
        raise SystemExit(__doc__)
    pcap, outdir = Path(args[0]), Path(args[1])
    ports = {int(args[i + 1]) for i, a in enumerate(args) if a == "--port"}
    outdir.mkdir(parents=True, exist_ok=True)
    for index, frame in enumerate(packets(pcap.read_bytes())):
        if len(frame) < 14 or struct.unpack_from("!H", frame, 12)[0] != 0x0800:
            continue
        ip = frame[14:]
        ihl = (ip[0] & 0x0F) * 4
        if ip[9] != 17:
            continue
        src, dst = ".".join(map(str, ip[12:16])), ".".join(map(str, ip[16:20]))
        udp = ip[ihl:]
        sport, dport, length = struct.unpack_from("!HHH", udp, 0)
        if ports and sport not in ports and dport not in ports:
            continue
        payload = udp[8:length]
        mac = ":".join(f"{b:02x}" for b in frame[6:12])
        name = f"{index:03d}-{src}-{sport}-{dst}-{dport}.bin"
        (outdir / name).write_bytes(payload)
        print(f"{index:03d} {mac} {src}:{sport} -> {dst}:{dport} {len(payload)} bytes")


if __name__ == "__main__":
    main()
