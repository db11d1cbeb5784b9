// Linux interfaces Swift's Glibc module does not export: glibc's allocator statistics and trim,
// epoll and eventfd (the TFTP transfer engine), prctl (the privilege drop), renameat2.
#ifndef VBOOT_CLINUX_H
#define VBOOT_CLINUX_H

#include <stddef.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

/// Bytes the allocator has handed out and not had back (small chunks plus mmap'd ones).
size_t vboot_heap_in_use(void);
/// Bytes free inside the allocator's heaps: held by the process, counted in its RSS once touched.
size_t vboot_heap_free(void);
/// malloc_trim(0): gives free heap pages back to the kernel; 1 if any were released.
int vboot_heap_trim(void);

/// `struct mmsghdr`, which <sys/socket.h> declares only under _GNU_SOURCE.
struct vboot_mmsghdr {
    struct msghdr msg_hdr;
    unsigned int msg_len;
};

/// sendmmsg(2): several datagrams in one call.
int vboot_sendmmsg(int fd, struct vboot_mmsghdr *messages, unsigned int count, int flags);

/// On the calling thread only (raw system calls; execve follows at once): the supplementary
/// groups, gid and uid become the given ones, the capabilities in `keep` (a mask of bits below
/// 32: CAP_NET_BIND_SERVICE, CAP_NET_RAW) stay as ambient capabilities (they survive the execve;
/// nothing else does), and no-new-privileges is set. 0 on success, else -1 with errno.
int vboot_become(unsigned int uid, unsigned int gid, const unsigned int *groups, size_t group_count,
                 unsigned int keep);

/// The calling thread's effective capability set (the low 64 bits), or -1.
long long vboot_effective_capabilities(void);

/// renameat2(RENAME_EXCHANGE): swaps two paths in one step (an image directory published with
/// no moment where its name is missing). 0 on success, else -1 with errno.
int vboot_exchange_paths(const char *a, const char *b);

/// Catches SIGINT and SIGTERM so the process lives on to clean up and the caller sees
/// `vboot_interrupted()`. A signal from the terminal (Ctrl-C) reaches the children on it by
/// itself; one sent with kill(2) to this process only is passed on to the child registered with
/// `vboot_forward_interrupts_to`. Children started afterwards have the default action again
/// (execve resets caught signals).
void vboot_catch_interrupt(void);
/// The child that gets signals sent to this process alone (0: none).
void vboot_forward_interrupts_to(int pid);
/// 1 once SIGINT or SIGTERM arrived after `vboot_catch_interrupt`.
int vboot_interrupted(void);

#endif
