// glibc's allocator statistics and trim, which Swift's Glibc module does not export.
#ifndef VBOOT_CMALLOC_H
#define VBOOT_CMALLOC_H

#include <stddef.h>

/// Bytes the allocator has handed out and not had back (small chunks plus mmap'd ones).
size_t vboot_heap_in_use(void);
/// Bytes free inside the allocator's heaps: held by the process, counted in its RSS once touched.
size_t vboot_heap_free(void);
/// malloc_trim(0): gives free heap pages back to the kernel; 1 if any were released.
int vboot_heap_trim(void);

#endif
