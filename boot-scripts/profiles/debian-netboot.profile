#: title Debian netboot installer from vboot's assets tree
#: var asset_dir = debian-12 -- directory under the assets tree holding linux and initrd.gz (from debian-installer-12-netboot-amd64 or the mirror's netboot tree)
#: var preseed_url -- URL of a preseed file (unset: interactive install)
#: var console -- serial console for the installer and the installed system, e.g. ttyS0,115200n8
#: var kernel_args -- extra installer arguments, e.g. netcfg/choose_interface=auto
#
# A declarative profile: vboot renders it for iPXE (boot.ipxe) or for GRUB (loader grub: the
# signed shim -> GRUB chain that Secure Boot accepts). Debian's kernel and initrd are signed
# with the key its shim carries; GRUB fetches them over TFTP from vboot, so they must be in the
# assets tree: ASSETS/ASSET_DIR/linux and ASSETS/ASSET_DIR/initrd.gz, e.g. copied from
#   /usr/lib/debian-installer/images/12/amd64/text/debian-installer/amd64/
#
# Arguments before "---" are for the installer only (vboot_done= among them, for one-shot
# installs); console= comes after it so the installed system keeps it.
#: kernel {{assets}}/{{asset_dir}}/linux
#: initrd {{assets}}/{{asset_dir}}/initrd.gz
#: args {{#preseed_url}}auto=true priority=critical url={{preseed_url}}{{/preseed_url}} {{kernel_args}}
#: args {{#done_url}}vboot_done={{done_url}}{{/done_url}} --- {{#console}}console={{console}}{{/console}}
