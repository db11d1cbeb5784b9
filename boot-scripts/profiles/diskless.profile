#: title Diskless workstation: a shared root image from vboot
#: var image = lab -- the image's directory under ASSETS/images (vboot image build --out ASSETS/images/NAME)
#: var console -- serial console, e.g. ttyS0,115200n8 (the login prompt then appears there too)
#: var kernel_args -- extra kernel arguments, e.g. live-config's or the site's own
#
# A declarative profile: rendered for iPXE, or for GRUB (loader grub; GRUB fetches the kernel and
# initrd over TFTP from the assets tree, the image itself comes over HTTP either way). The image
# is made by `vboot image build`; vboot serves its files only while they match the
# vboot-image.json beside them.
#
# live-boot's initramfs fetches the image over HTTP (fetch=) into RAM and boots it under a tmpfs
# overlay: every machine shares the image, writes stay in its own RAM, and a reboot is clean.
# The machine's host name comes from vboot's inventory (systemd.hostname=), so twenty machines
# booting one image come up with twenty names; its variables (and the site's) go on the kernel
# line as vboot.NAME=VALUE, which the image's vboot-machine unit writes to /run/vboot/machine.env.
# Give each machine RAM for the image (its size) plus what it runs.
#: kernel {{assets}}/images/{{image}}/vmlinuz
#: initrd {{assets}}/images/{{image}}/initrd.img
#: args boot=live fetch={{assets}}/images/{{image}}/filesystem.squashfs ip=dhcp
#: args {{#hostname}}systemd.hostname={{hostname}}{{/hostname}} {{#console}}console={{console}}{{/console}} {{kernel_args}}
#: args {{vboot_vars}}
