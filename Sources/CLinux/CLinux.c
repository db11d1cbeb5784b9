#define _GNU_SOURCE
#include "CLinux.h"

#include <malloc.h>
#include <sys/socket.h>

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
