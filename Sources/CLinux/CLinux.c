#define _GNU_SOURCE
#include "CLinux.h"

#include <linux/capability.h>
#include <malloc.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <sys/socket.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>

size_t vboot_heap_in_use(void) {
    struct mallinfo2 info = mallinfo2();
    return info.uordblks + info.hblkhd;
}

size_t vboot_heap_free(void) { return mallinfo2().fordblks; }

int vboot_heap_trim(void) { return malloc_trim(0); }

int vboot_sendmmsg(int fd, struct vboot_mmsghdr *messages, unsigned int count, int flags) {
    _Static_assert(sizeof(struct vboot_mmsghdr) == sizeof(struct mmsghdr), "mmsghdr layout");
    return sendmmsg(fd, (struct mmsghdr *)messages, count, flags);
}

// glibc's setuid and friends change every thread (signal broadcast) but skip a thread that is
// exiting, and libdispatch parks Swift's main thread inside pthread_exit for the life of the
// process: it would stay root. vboot therefore switches one thread and replaces the process.
int vboot_become(unsigned int uid, unsigned int gid, const unsigned int *groups, size_t group_count,
                 unsigned int keep) {
    if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0) return -1;
    if (syscall(SYS_setgroups, group_count, groups) != 0) return -1;
    if (syscall(SYS_setresgid, gid, gid, gid) != 0) return -1;
    if (syscall(SYS_setresuid, uid, uid, uid) != 0) return -1;
    struct __user_cap_header_struct header = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
    struct __user_cap_data_struct data[2];
    memset(data, 0, sizeof data);
    data[0].effective = data[0].permitted = data[0].inheritable = keep;
    if (syscall(SYS_capset, &header, data) != 0) return -1;
    for (unsigned int capability = 0; capability < 32; capability++) {
        if ((keep & (1u << capability)) &&
            prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, capability, 0, 0) != 0)
            return -1;
    }
    if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) != 0) return -1;
    return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
}

long long vboot_effective_capabilities(void) {
    struct __user_cap_header_struct header = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
    struct __user_cap_data_struct data[2];
    if (syscall(SYS_capget, &header, data) != 0) return -1;
    return (long long)data[0].effective | ((long long)data[1].effective << 32);
}

int vboot_exchange_paths(const char *a, const char *b) {
    return renameat2(AT_FDCWD, a, AT_FDCWD, b, RENAME_EXCHANGE);
}

static volatile sig_atomic_t vboot_interrupt_seen = 0;
static volatile sig_atomic_t vboot_interrupt_child = 0;

static void vboot_note_interrupt(int signal_number, siginfo_t *info, void *context) {
    (void)context;
    vboot_interrupt_seen = 1;
    // SI_USER: kill(2) from another process, aimed at this one; the terminal's Ctrl-C
    // (SI_KERNEL) has already reached the whole foreground process group.
    pid_t child = vboot_interrupt_child;
    if (child > 0 && info != NULL && info->si_code == SI_USER) kill(child, signal_number);
}

void vboot_catch_interrupt(void) {
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_sigaction = vboot_note_interrupt;
    action.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&action.sa_mask);
    sigaction(SIGINT, &action, NULL);
    sigaction(SIGTERM, &action, NULL);
}

void vboot_forward_interrupts_to(int pid) { vboot_interrupt_child = pid; }

int vboot_interrupted(void) { return vboot_interrupt_seen; }
