// The instruction-bound ceiling of the integer matrix products: 512-bit VNNI multiply-adds with
// no loads, in 12 independent chains (more than the latency x throughput product), on the calling
// thread. The batched decode and prompt passes are bounded by this rate, not by memory.
#include "CKernels.h"

#if defined(__x86_64__)
#include <immintrin.h>
#include <time.h>
#define VNNI __attribute__((target("avx512f,avx512bw,avx512vnni")))

static double seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

VNNI static double peak(int bits, long rounds) {
    __m512i acc[12];
    for (int i = 0; i < 12; i++) acc[i] = _mm512_set1_epi32(i);
    __m512i w = _mm512_set1_epi32(0x01020304), x = _mm512_set1_epi32(0x05060708);
    const double start = seconds();
    for (long k = 0; k < rounds; k++) {
        if (bits == 16) { for (int i = 0; i < 12; i++) acc[i] = _mm512_dpwssd_epi32(acc[i], w, x); }
        else { for (int i = 0; i < 12; i++) acc[i] = _mm512_dpbusd_epi32(acc[i], w, x); }
        __asm__ volatile("" : "+v"(w), "+v"(x));  // the operands stay opaque: no folding
    }
    const double elapsed = seconds() - start;
    __m512i s = acc[0];
    for (int i = 1; i < 12; i++) s = _mm512_add_epi32(s, acc[i]);
    volatile int sink = _mm512_reduce_add_epi32(s);
    (void)sink;
    return (double)rounds * 12 * (bits == 16 ? 32 : 64) / elapsed;
}
#endif

double ad_vnni_peak_macs(int bits, long rounds) {
#if defined(__x86_64__)
    if (ad_kernels_have_vnni() && (bits == 8 || bits == 16)) return peak(bits, rounds);
#endif
    (void)bits; (void)rounds;
    return 0;
}
