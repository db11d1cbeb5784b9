// Linux interfaces Swift's Glibc module does not export: glibc's allocator statistics and trim,
// epoll and eventfd (the TFTP transfer engine).
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

#endif
