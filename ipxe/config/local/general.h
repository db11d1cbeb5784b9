/*
 * vboot's overrides of iPXE's src/config/general.h, copied into the build tree's
 * src/config/local/ by `vboot rom build` (iPXE reads these headers after its own defaults).
 * One line of why per override.
 */

/* Installers and images are often fetched from HTTPS mirrors. */
#define DOWNLOAD_PROTO_HTTPS

/* Boot scripts end an install with "reboot" or "poweroff" instead of hanging at a prompt. */
#define REBOOT_CMD
#define POWEROFF_CMD

/* "ping" and "nslookup" let an admin debug a machine's network from the iPXE shell. */
#define PING_CMD
#define NSLOOKUP_CMD

/* HTTPS certificate checks need the current time. */
#define NTP_CMD

/* "imgtrust"/"imgverify": a site can require signed kernels and scripts. */
#define IMAGE_TRUST_CMD

/* "param"/"params": scripts POST machine facts back to vboot (the installer callback). */
#define PARAM_CMD
