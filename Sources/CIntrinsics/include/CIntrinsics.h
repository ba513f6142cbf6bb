// Compiler intrinsics Swift cannot spell: a software prefetch (Swift has no prefetch hint), the
// x86 cpuid/xgetbv instructions, arm64 hardware capabilities, and multiply-add loops compiled
// for one instruction set each (to measure a core's peak). Imported only by
// Sources/Tensors/Intrinsics.swift.
#ifndef BRIDGE_CINTRINSICS_H
#define BRIDGE_CINTRINSICS_H

#include <stdint.h>

/// Hints that the cache line holding `p` will be read soon (into all cache levels). Never faults.
static inline void bridge_prefetch(const void *p) { __builtin_prefetch(p, 0, 3); }

/// cpuid(leaf, subleaf) into out[0..3] = eax, ebx, ecx, edx. Returns 0 where there is no cpuid
/// (not x86-64) or the leaf is beyond the maximum, 1 otherwise.
int bridge_cpuid(uint32_t leaf, uint32_t subleaf, uint32_t out[4]);

/// XCR0 (the register states the operating system saves), 0 where there is none.
uint64_t bridge_xgetbv0(void);

/// getauxval(AT_HWCAP) and (AT_HWCAP2) on Linux, 0 elsewhere.
uint64_t bridge_hwcap(void);
uint64_t bridge_hwcap2(void);

/// Runs `iterations` rounds of 12 independent fused multiply-adds on 256-bit (AVX2+FMA) or
/// 512-bit (AVX-512F) registers, in assembly (the same loop at every optimisation level); returns
/// the flops done, 0 when not compiled for x86-64. Call only on a CPU and OS that support the set.
double bridge_fma_loop_avx2(long iterations);
double bridge_fma_loop_avx512(long iterations);

#endif
