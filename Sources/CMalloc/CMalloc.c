#include "CMalloc.h"

#include <malloc.h>

size_t vboot_heap_in_use(void) {
    struct mallinfo2 info = mallinfo2();
    return info.uordblks + info.hblkhd;
}

size_t vboot_heap_free(void) { return mallinfo2().fordblks; }

int vboot_heap_trim(void) { return malloc_trim(0); }
