// CPU probes and multiply-add loops (see include/CIntrinsics.h).
#include "CIntrinsics.h"

#if defined(__x86_64__)
#include <cpuid.h>
#endif
#if defined(__linux__)
#include <sys/auxv.h>
#endif

int bridge_cpuid(uint32_t leaf, uint32_t subleaf, uint32_t out[4]) {
#if defined(__x86_64__)
    unsigned a, b, c, d;
    if (!__get_cpuid_count(leaf, subleaf, &a, &b, &c, &d)) { out[0] = out[1] = out[2] = out[3] = 0; return 0; }
    out[0] = a; out[1] = b; out[2] = c; out[3] = d;
    return 1;
#else
    out[0] = out[1] = out[2] = out[3] = 0;
    return 0;
#endif
}

uint64_t bridge_xgetbv0(void) {
#if defined(__x86_64__)
    uint32_t r[4];
    if (!bridge_cpuid(1, 0, r) || !(r[2] & (1u << 27))) return 0;   // no OSXSAVE: no xgetbv
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
#else
    return 0;
#endif
}

uint64_t bridge_hwcap(void) {
#if defined(__linux__) && defined(AT_HWCAP)
    return getauxval(AT_HWCAP);
#else
    return 0;
#endif
}

uint64_t bridge_hwcap2(void) {
#if defined(__linux__) && defined(AT_HWCAP2)
    return getauxval(AT_HWCAP2);
#else
    return 0;
#endif
}

#if defined(__x86_64__)
// Written in assembly so that the loop is the same at every optimisation level (SwiftPM compiles
// C targets of a debug build at -O0): 12 independent accumulators hide the multiply-add latency.
#define FMA12(R) \
    "vfmadd231ps %%" R "12, %%" R "13, %%" R "0\n\t" "vfmadd231ps %%" R "12, %%" R "13, %%" R "1\n\t" \
    "vfmadd231ps %%" R "12, %%" R "13, %%" R "2\n\t" "vfmadd231ps %%" R "12, %%" R "13, %%" R "3\n\t" \
    "vfmadd231ps %%" R "12, %%" R "13, %%" R "4\n\t" "vfmadd231ps %%" R "12, %%" R "13, %%" R "5\n\t" \
    "vfmadd231ps %%" R "12, %%" R "13, %%" R "6\n\t" "vfmadd231ps %%" R "12, %%" R "13, %%" R "7\n\t" \
    "vfmadd231ps %%" R "12, %%" R "13, %%" R "8\n\t" "vfmadd231ps %%" R "12, %%" R "13, %%" R "9\n\t" \
    "vfmadd231ps %%" R "12, %%" R "13, %%" R "10\n\t" "vfmadd231ps %%" R "12, %%" R "13, %%" R "11\n\t"

// One loop per vector width: R the register prefix, LANES floats per register.
#define FMA_LOOP(NAME, TARGET, R, LANES)                                                              \
    __attribute__((target(TARGET)))                                                                   \
    double NAME(long iterations) {                                                                    \
        long n = iterations;                                                                          \
        if (n <= 0) return 0;                                                                         \
        __asm__ volatile(                                                                             \
            "vxorps %%" R "12, %%" R "12, %%" R "12\n\t" "vxorps %%" R "13, %%" R "13, %%" R "13\n\t" \
            "1:\n\t" FMA12(R) "dec %0\n\t" "jnz 1b\n\t" "vzeroupper\n\t"                          \
            : "+r"(n) :                                                                               \
            : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10",  \
              "xmm11", "xmm12", "xmm13", "cc");                                                       \
        return (double)iterations * 12 * LANES * 2;                                                   \
    }

FMA_LOOP(bridge_fma_loop_avx2, "avx2,fma", "ymm", 8)
FMA_LOOP(bridge_fma_loop_avx512, "avx512f", "zmm", 16)
#else
double bridge_fma_loop_avx2(long iterations) { (void)iterations; return 0; }
double bridge_fma_loop_avx512(long iterations) { (void)iterations; return 0; }
#endif
