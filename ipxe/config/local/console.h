/*
 * vboot's overrides of iPXE's src/config/console.h, copied into the build tree's
 * src/config/local/ by `vboot rom build`.
 */

/*
 * Lab machines and VMs are watched over a serial line: BIOS builds mirror the console to COM1
 * (115200 8N1, iPXE's config/serial.h). Not on EFI: firmware (OVMF among it) already mirrors
 * the EFI console to serial, and a second copy doubles every character.
 */
#if defined ( PLATFORM_pcbios )
#define CONSOLE_SERIAL
#endif

/* `vboot rom build --debugcon` appends CONSOLE_DEBUGCON (QEMU's port 0x402) here. */
