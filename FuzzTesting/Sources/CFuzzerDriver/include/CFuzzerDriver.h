#ifndef CFUZZERDRIVER_H
#define CFUZZERDRIVER_H

#include <stddef.h>
#include <stdint.h>

// libFuzzer's entry for programs with their own main (llvm.org/docs/LibFuzzer.html, "Using
// libFuzzer as a library"): parses the libFuzzer flags in argv and runs `callback` per input.
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));

#endif
