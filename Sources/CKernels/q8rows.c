// The AutoDeco heads' first layers in their 8-bit form (HeadWeightFormat.q8_0), in AVX-512: rows
// of blocks of 32 int8 weights, each block with a float scale, times a float vector. The first
// layers' 0.6 MB of bf16 weights are read from memory every token (the forward pass's 96 MB evict
// them) and that read is most of the heads' time; these rows are 36 bytes per 32 weights instead
// of 64. Per block: one 32-byte load, two widenings to 16 floats, two multiply-adds into the
// block's sum, and one multiply-add of that sum by the scale; two blocks per iteration keep two
// independent chains.
#include "CKernels.h"

#if defined(__x86_64__)
#include <immintrin.h>

#define AVX512 __attribute__((target("avx512f")))

AVX512 static inline __m512 block_dot(const int8_t *q, const float *x) {
    const __m256i v = _mm256_loadu_si256((const __m256i *)q);
    const __m512 lo = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm256_castsi256_si128(v)));
    const __m512 hi = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm256_extracti128_si256(v, 1)));
    return _mm512_fmadd_ps(hi, _mm512_loadu_ps(x + 16), _mm512_mul_ps(lo, _mm512_loadu_ps(x)));
}

AVX512 void ad_q8_rows_avx512(const void *w, long row_bytes, int r0, int r1, int blocks, const float *x,
                              const float *bias, float *out) {
    ad_prefetch_rows(w, row_bytes, r0, r0 + AD_Q8_ROWS_AHEAD < r1 ? r0 + AD_Q8_ROWS_AHEAD : r1);
    for (int r = r0; r < r1; r++) {
        if (r + AD_Q8_ROWS_AHEAD < r1) ad_prefetch_rows(w, row_bytes, r + AD_Q8_ROWS_AHEAD, r + AD_Q8_ROWS_AHEAD + 1);
        const int8_t *q = (const int8_t *)w + (long)r * row_bytes;
        const float *scale = (const float *)(q + 32 * blocks);
        __m512 a0 = _mm512_setzero_ps(), a1 = a0;
        int b = 0;
        for (; b + 2 <= blocks; b += 2) {
            a0 = _mm512_fmadd_ps(block_dot(q + 32 * b, x + 32 * b), _mm512_set1_ps(scale[b]), a0);
            a1 = _mm512_fmadd_ps(block_dot(q + 32 * b + 32, x + 32 * b + 32), _mm512_set1_ps(scale[b + 1]), a1);
        }
        if (b < blocks) a0 = _mm512_fmadd_ps(block_dot(q + 32 * b, x + 32 * b), _mm512_set1_ps(scale[b]), a0);
        out[r] = bias[r] + _mm512_reduce_add_ps(_mm512_add_ps(a0, a1));
    }
}

#else
// Never called: Swift checks ad_kernels_have_avx512f first.
void ad_q8_rows_avx512(const void *w, long row_bytes, int r0, int r1, int blocks, const float *x,
                       const float *bias, float *out) {
    (void)w; (void)row_bytes; (void)r0; (void)r1; (void)blocks; (void)x; (void)bias; (void)out;
    __builtin_trap();
}
#endif
