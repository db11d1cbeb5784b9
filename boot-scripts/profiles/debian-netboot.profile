#: title Debian netboot installer from vboot's assets tree
#: var asset_dir = debian-12 -- directory under the assets tree holding linux and initrd.gz (from debian-installer-12-netboot-amd64 or the mirror's netboot tree)
#: upstream debian-12 = https://deb.debian.org/debian/dists/bookworm/main/installer-amd64/current/images/netboot/debian-installer/amd64
#: checksums debian-12 = https://deb.debian.org/debian/dists/bookworm/main/installer-amd64/current/images/SHA256SUMS
#: var preseed_url -- URL of a preseed file (unset: interactive install)
#: var console -- serial console for the installer and the installed system, e.g. ttyS0,115200n8
#: var kernel_args -- extra installer arguments, e.g. netcfg/choose_interface=auto
#
# A declarative profile: vboot renders it for iPXE (boot.ipxe) or for GRUB (loader grub: the
# signed shim -> GRUB chain that Secure Boot accepts). Debian's kernel and initrd are signed
# with the key its shim carries. ASSETS/debian-12/linux and initrd.gz come from a copy in the
# assets tree when there is one (e.g. of
#   /usr/lib/debian-installer/images/12/amd64/text/debian-installer/amd64/),
# else from Debian's mirror through vboot's cache (the upstream line; --upstream debian-12=URL
# points it at another mirror), each file checked against the SHA256SUMS Debian publishes
# beside the images before it is cached (the checksums line). GRUB fetches over TFTP, which cannot wait for a download: under
# Secure Boot fetch them first (vboot assets fetch debian-12/linux debian-12/initrd.gz).
#
# Arguments before "---" are for the installer only (vboot_done= among them, for one-shot
# installs); console= comes after it so the installed system keeps it.
#: kernel {{assets}}/{{asset_dir}}/linux
#: initrd {{assets}}/{{asset_dir}}/initrd.gz
#: args {{#preseed_url}}auto=true priority=critical url={{preseed_url}}{{/preseed_url}} {{kernel_args}}
#: args {{#done_url}}vboot_done={{done_url}}{{/done_url}} --- {{#console}}console={{console}}{{/console}}
