#!/usr/bin/env python3
"""Shrinks a tcpdump capture (classic pcap, Ethernet) into a test fixture: DHCP and TFTP
control packets stay whole; TFTP data and HTTP bodies keep only their headers. Lengths on the wire
are kept, so byte counts and transfer sizes read from the fixture are the real ones.

    trim-capture.py [--ends] IN.pcap OUT.pcap

--ends also drops each TFTP transfer's DATA and ACK packets but its first and last two blocks
(the trace counts the blocks it did not see as full ones, so sizes stay right).
"""
import struct
import sys

KEEP_WHOLE = {67, 68, 69, 4011}
UDP_KEEP = 64   # Ethernet + IPv4 + UDP + TFTP opcode and block
TCP_KEEP = 512  # a request or status line and its headers; other segments keep no payload


def tftp_block(frame: bytes):
    """(transfer, opcode, block) of a TFTP DATA or ACK outside the well-known ports, else None."""
    if len(frame) < 34 or frame[12:14] != b"\x08\x00" or frame[23] != 17:
        return None
    start = 14 + (frame[14] & 0x0F) * 4
    if len(frame) < start + 12:
        return None
    sport, dport = struct.unpack("!HH", frame[start:start + 4])
    opcode, block = struct.unpack("!HH", frame[start + 8:start + 12])
    if KEEP_WHOLE & {sport, dport} or opcode not in (3, 4):
        return None
    return (frozenset([(frame[26:30], sport), (frame[30:34], dport)]), opcode, block)


def trim(frame: bytes) -> bytes:
    if len(frame) < 34 or frame[12:14] != b"\x08\x00":
        return frame
    ihl = (frame[14] & 0x0F) * 4
    proto = frame[23]
    start = 14 + ihl
    if len(frame) < start + 4:
        return frame
    sport, dport = struct.unpack("!HH", frame[start:start + 4])
    tftp_data = frame[start + 8:start + 10] == b"\x00\x03"
    if proto == 17 and not (KEEP_WHOLE & {sport, dport}) and tftp_data:
        return frame[:UDP_KEEP]
    if proto == 6 and len(frame) >= start + 20:
        payload = start + (frame[start + 12] >> 4) * 4
        head = frame[payload:payload + 8]
        if head.startswith((b"HTTP/", b"GET ", b"HEAD ", b"POST ")):
            return frame[:payload + TCP_KEEP]
        return frame[:payload]
    return frame


def packets(data: bytes, endian: str):
    offset = 24
    while offset + 16 <= len(data):
        sec, frac, caplen, wirelen = struct.unpack(endian + "IIII", data[offset:offset + 16])
        yield sec, frac, wirelen, data[offset + 16:offset + 16 + caplen]
        offset += 16 + caplen


def main(source: str, target: str, ends: bool) -> None:
    with open(source, "rb") as f:
        data = f.read()
    magic = data[:4]
    endian = "<" if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    last = {}
    for _, _, _, frame in packets(data, endian):
        found = tftp_block(frame)
        if found:
            last[found[0]] = max(last.get(found[0], 0), found[2])
    out = bytearray(data[:24])
    for sec, frac, wirelen, frame in packets(data, endian):
        found = tftp_block(frame)
        if ends and found and 2 < found[2] < last[found[0]] - 1:
            continue
        frame = trim(frame)
        out += struct.pack(endian + "IIII", sec, frac, len(frame), wirelen) + frame
    with open(target, "wb") as f:
        f.write(out)


if __name__ == "__main__":
    args = sys.argv[1:]
    ends = args[:1] == ["--ends"]
    main(*args[ends:], ends=ends)
