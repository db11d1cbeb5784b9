#!/usr/bin/env python3
"""Runs shell commands on a guest's serial console: logs in at its getty, runs each command,
prints what it wrote, and leaves the shell with `exit`.

    serial-shell.py SOCKET USER PASSWORD COMMAND...

SOCKET is QEMU's serial chardev (-chardev socket,server=on,path=SOCKET). Each command's output
is printed between markers the script chose, so prompts and echoes stay out of it. Bounded:
30 s to log in, 60 s per command; on a timeout it says what it saw last and exits 1.
"""
import os
import re
import socket
import sys
import time


def main():
    path, user, password, commands = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
    console = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    console.connect(path)
    console.settimeout(0.5)
    seen = bytearray()

    def read_until(pattern, seconds, fatal=True):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            match = re.search(pattern, seen)
            if match:
                found = bytes(seen[: match.end()])
                del seen[: match.end()]
                return found
            try:
                chunk = console.recv(4096)
            except socket.timeout:
                continue
            if not chunk:
                break
            seen.extend(chunk)
        if not fatal:
            return None
        tail = bytes(seen[-300:]).decode(errors="replace")
        sys.exit(f"serial-shell: no {pattern!r} within {seconds} s; last seen: {tail!r}")

    def send(text):
        console.sendall(text.encode() + b"\r")

    send("")
    # A shell left logged in (a run cut short) is left first.
    if re.search(rb"[#$] ?$", read_until(rb"(login: ?|[#$] ?)$", 30)):
        send("exit")
        read_until(rb"login: ?$", 30)
    send(user)
    read_until(rb"Password: ?$", 30)
    send(password)
    # What is typed before the shell reads its terminal is lost: the prompt first.
    read_until(rb"[#$] ?$", 30)
    # Markers are typed split ("NAME" "-end") and printed whole, so what the terminal echoes of a
    # command line never matches what the command wrote.
    tag = f"vboot-serial-{os.getpid()}"
    ready = f"stty -echo; export TERM=dumb PS1='# '; printf '%s-%s\\n' {tag} ready"
    send(ready)
    if read_until(rf"{tag}-ready\r?\n".encode(), 10, fatal=False) is None:
        send(ready)
        read_until(rf"{tag}-ready\r?\n".encode(), 20)
    for number, command in enumerate(commands):
        marker = f"{tag}-{number}"
        send(f"printf '%s-%s\\n' {marker} start; {command}; printf '%s-%s\\n' {marker} end")
        output = read_until(rf"{marker}-end\r?\n".encode(), 60)
        text = output.decode(errors="replace").replace("\r", "")
        body = text.split(f"{marker}-start\n", 1)[-1].rsplit(f"{marker}-end", 1)[0]
        sys.stdout.write(body)
    send("exit")
    console.close()


if __name__ == "__main__":
    main()
