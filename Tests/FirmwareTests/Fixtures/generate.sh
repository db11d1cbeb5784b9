#!/bin/sh
# Regenerates the virt-fw-vars outputs in this folder from the *.fd inputs (see README.md).
# Needs virt-fw-vars (pip install virt-firmware) and python3; the Swift tests need neither.
set -eu
cd "$(dirname "$0")"
for f in ovmf-vars-4m ovmf-vars-4m-ms ovmf-vars-2m booted booted-net; do
    [ -f "$f.fd" ] || gzip -dkn "$f.fd.gz"
    virt-fw-vars -i "$f.fd" --output-json "$f.json"
done
URL=http://10.0.0.2:8080/ipxe/ipxe.efi
# (a) set: --set-boot-uri writes Boot0099 + BootNext
virt-fw-vars -i ovmf-vars-4m.fd -o out-4m-set-boot-uri.fd --set-boot-uri "$URL"
virt-fw-vars -i booted-net.fd -o out-booted-net-set-boot-uri.fd --set-boot-uri "$URL"
# (a) set: --append-boot-filepath adds the first free Boot#### and appends it to BootOrder
virt-fw-vars -i booted.fd -o out-booted-append-filepath.fd --append-boot-filepath '\EFI\vboot\ipxe.efi'
# (a) set: Boot0009 (full HTTP boot path), BootOrder with 0009 first, BootNext 0009, via --set-json
python3 - "$URL" > set-boot0009.json <<'PY'
import json, struct, sys
url = sys.argv[1].encode()
def node(t, s, data): return struct.pack('<BBH', t, s, 4 + len(data)) + data
path = (node(2, 1, struct.pack('<LL', 0x0A0341D0, 0))            # PciRoot(0x0)
        + node(1, 1, bytes([0, 2]))                              # Pci(0x2,0x0): function, device
        + node(3, 11, bytes.fromhex('525400aa0001') + bytes(26) + b'\x01')  # MAC(525400AA0001,0x1)
        + node(3, 12, bytes(23))                                 # IPv4, DHCP
        + node(3, 24, url)                                       # Uri(url)
        + node(0x7f, 0xff, b''))
boot = struct.pack('<LH', 1, len(path)) + 'vboot HTTP boot\0'.encode('utf-16le') + path
g = '8be4df61-93ca-11d2-aa0d-00e098032b8c'
print(json.dumps({'version': 2, 'variables': [
    {'name': 'Boot0009', 'guid': g, 'attr': 7, 'data': boot.hex()},
    {'name': 'BootOrder', 'guid': g, 'attr': 7, 'data': struct.pack('<4H', 9, 0, 1, 2).hex()},
    {'name': 'BootNext', 'guid': g, 'attr': 7, 'data': struct.pack('<H', 9).hex()},
]}, indent=2))
PY
virt-fw-vars -i booted.fd -o out-booted-set-boot0009.fd --set-json set-boot0009.json
# (b) delete
virt-fw-vars -i booted-net.fd -o out-booted-net-delete.fd -d Boot0004 -d Boot0006
virt-fw-vars -i ovmf-vars-4m-ms.fd -o out-4m-ms-delete-dbx.fd -d dbx
# no operation: the compaction alone
virt-fw-vars -i booted.fd -o out-booted-rewrite.fd
virt-fw-vars -i ovmf-vars-4m-ms.fd -o out-4m-ms-rewrite.fd
for f in *.fd; do gzip -9nf "$f"; done
