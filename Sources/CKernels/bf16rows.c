// The AutoDeco heads' first layers, W [rows, stride] in bfloat16 times a float vector, in AVX-512.
// These rows are read every token (0.6 MB for both heads) and, even hot in cache, Swift's AVX2
// loop (widen 8 bf16, shift, multiply-add) took 14-17 µs for both heads with the top-5 scan on
// the Zen 5 instance (docs/performance.md, item 15). Here a 32-bit lane holds a pair of bf16
// weights (2i, 2i+1): masking the low half gives weight 2i+1 as a float and shifting left by 16
// gives weight 2i, so 32 weights cost one load, one and, one shift and two multiply-adds, against
// the vector's even and odd elements split apart once per call (`ad_bf16_split_pairs`).
#include "CKernels.h"

void ad_bf16_split_pairs(const float *x, int n, float *pairs) {
    const int blocks = (n + 31) / 32;
    for (int b = 0; b < blocks; b++) {
        for (int j = 0; j < 16; j++) {
            const int e = 32 * b + 2 * j, o = e + 1;
            pairs[32 * b + j] = e < n ? x[e] : 0.f;
            pairs[32 * b + 16 + j] = o < n ? x[o] : 0.f;
        }
    }
}

#if defined(__x86_64__)
#include <immintrin.h>

#define AVX512 __attribute__((target("avx512f")))

AVX512 void ad_bf16_rows_avx512(const uint16_t *w, long stride, int r0, int r1, int n, const float *pairs,
                                const float *bias, float *out) {
    const int blocks = (n + 31) / 32;
    const __m512i high = _mm512_set1_epi32((int)0xFFFF0000u);
    const long row_bytes = 2 * stride;
    ad_prefetch_rows(w, row_bytes, r0, r0 + AD_BF16_ROWS_AHEAD < r1 ? r0 + AD_BF16_ROWS_AHEAD : r1);
    for (int r = r0; r < r1; r++) {
        if (r + AD_BF16_ROWS_AHEAD < r1) ad_prefetch_rows(w, row_bytes, r + AD_BF16_ROWS_AHEAD, r + AD_BF16_ROWS_AHEAD + 1);
        const uint16_t *row = w + (long)r * stride;
        __m512 e0 = _mm512_setzero_ps(), o0 = e0, e1 = e0, o1 = e0;
        int b = 0;
        // Two blocks per iteration: four independent multiply-add chains.
        for (; b + 2 <= blocks; b += 2) {
            const __m512i v0 = _mm512_loadu_si512(row + 32 * b), v1 = _mm512_loadu_si512(row + 32 * b + 32);
            e0 = _mm512_fmadd_ps(_mm512_castsi512_ps(_mm512_slli_epi32(v0, 16)), _mm512_loadu_ps(pairs + 32 * b), e0);
            o0 = _mm512_fmadd_ps(_mm512_castsi512_ps(_mm512_and_si512(v0, high)), _mm512_loadu_ps(pairs + 32 * b + 16), o0);
            e1 = _mm512_fmadd_ps(_mm512_castsi512_ps(_mm512_slli_epi32(v1, 16)), _mm512_loadu_ps(pairs + 32 * b + 32), e1);
            o1 = _mm512_fmadd_ps(_mm512_castsi512_ps(_mm512_and_si512(v1, high)), _mm512_loadu_ps(pairs + 32 * b + 48), o1);
        }
        if (b < blocks) {
            const __m512i v = _mm512_loadu_si512(row + 32 * b);
            e0 = _mm512_fmadd_ps(_mm512_castsi512_ps(_mm512_slli_epi32(v, 16)), _mm512_loadu_ps(pairs + 32 * b), e0);
            o0 = _mm512_fmadd_ps(_mm512_castsi512_ps(_mm512_and_si512(v, high)), _mm512_loadu_ps(pairs + 32 * b + 16), o0);
        }
        out[r] = bias[r] + _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(e0, o0), _mm512_add_ps(e1, o1)));
    }
}

#else
// Never called: Swift checks ad_kernels_have_avx512f first.
void ad_bf16_rows_avx512(const uint16_t *w, long stride, int r0, int r1, int n, const float *pairs,
                         const float *bias, float *out) {
    (void)w; (void)stride; (void)r0; (void)r1; (void)n; (void)pairs; (void)bias; (void)out;
    __builtin_trap();
}
#endif
