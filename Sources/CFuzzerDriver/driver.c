// Declarations only (include/CFuzzerDriver.h); the definition is in the toolchain's libFuzzer
// runtime, linked by -sanitize=fuzzer.
#include "CFuzzerDriver.h"
