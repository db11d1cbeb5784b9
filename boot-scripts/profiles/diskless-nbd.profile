#: title Diskless workstation, root on vboot's NBD server: a layer of its own, kept with layer=persistent
#: var image = lab -- the image's directory under ASSETS/images (vboot image build --block-root --out ASSETS/images/NAME)
#: var nbd_port = 10809 -- vboot serve --nbd-port
#: var console -- serial console, e.g. ttyS0,115200n8 (the login prompt then appears there too)
#: var kernel_args -- extra kernel arguments
#
# A declarative profile: rendered for iPXE, or for GRUB. Needs `vboot serve --nbd-port` and an
# image built with --block-root (root.img beside the squashfs; its initramfs has nbd-client).
#
# The root file system is a network block device: vboot's export IMAGE/MAC/TOKEN, this machine's own
# copy-on-write view of the image's root.img. Blocks are read from the server as the machine
# needs them (no copy of the image in RAM) and what the machine writes goes to its own layer on
# the server: empty at each boot (a reboot is clean), or kept across boots when the machine has
# the variable layer=persistent (vboot machines set MAC --var layer=persistent). vboot gives a
# machine's layer only to an address that is its MAC on the wire, presenting the boot token this
# script was rendered with (one scratch layer per boot). Host name and variables as in the
# diskless profile.
#: kernel {{assets}}/images/{{image}}/vmlinuz
#: initrd {{assets}}/images/{{image}}/initrd.img
#: args root=/dev/nbd0 nbdroot={{server_host}}:{{nbd_port}}/{{image}}/{{mac}}/{{boot_token}} ip=dhcp rw
#: args {{#hostname}}systemd.hostname={{hostname}}{{/hostname}} {{#console}}console={{console}}{{/console}} {{kernel_args}}
#: args {{vboot_vars}}
