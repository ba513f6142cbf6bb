// libFuzzer's entry for programs that keep their own main (llvm.org/docs/LibFuzzer.html, "Using
// libFuzzer as a library"): BridgeFuzz calls it only when built by tools/fuzz.sh with
// -sanitize=fuzzer and -DBRIDGE_LIBFUZZER, so a plain build never references the symbol.
#ifndef BRIDGE_CFUZZERDRIVER_H
#define BRIDGE_CFUZZERDRIVER_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));

#endif
