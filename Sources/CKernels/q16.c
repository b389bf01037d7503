// int16 activations times Q4_1 / Q8_0 weights: an AVX2 path (runtime-detected) and a portable one.
#include "CKernels.h"
#include "half.h"
#include <math.h>
#include <string.h>

#define QMAX 32767.0f

// AUTODECO_KERNELS=portable holds for the whole process; a test's override only for its own
// thread, so that a test comparing the two paths does not switch the kernels (and the last bits of
// the activations' block sums) under a model running on other threads.
static int portable_everywhere = 0;
static _Thread_local int portable_here = 0;
void ad_kernels_force_portable_everywhere(void) { portable_everywhere = 1; }
int ad_kernels_force_portable(int on) { int old = portable_here; if (on >= 0) portable_here = on; return old; }
int ad_kernels_portable_forced(void) { return portable_everywhere || portable_here; }

// MARK: - portable

static void quantize_portable(const float *x, int n, int16_t *qx, float *dx, float *sx) {
    for (int b = 0; b < n / 32; b++) {
        const float *v = x + 32 * b;
        float amax = 0, sum = 0;
        for (int i = 0; i < 32; i++) { float a = fabsf(v[i]); if (a > amax) amax = a; sum += v[i]; }
        float d = amax / QMAX, id = d > 0 ? 1 / d : 0;
        for (int i = 0; i < 32; i++) qx[32 * b + i] = (int16_t)lrintf(v[i] * id);
        dx[b] = d; sx[b] = sum;
    }
}

static float dot_portable(int format, const uint8_t *row, int nb, const int16_t *q, const float *dx, const float *sx) {
    float acc = 0;
    for (int b = 0; b < nb; b++) {
        const int16_t *qb = q + 32 * b;
        const uint8_t *blk = row + gguf_block_bytes(format) * b;
        int32_t s = 0;
        for (int j = 0; j < 32; j++) s += gguf_block_value(format, blk, j) * qb[j];
        const float scaled = f16_to_f32(load_u16(blk)) * dx[b] * (float)s;
        acc += format == FORMAT_Q4_1 ? scaled + f16_to_f32(load_u16(blk + 2)) * sx[b] : scaled;
    }
    return acc;
}

// MARK: - AVX2

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define AVX2 __attribute__((target("avx2,fma,f16c")))

AVX2 static float hsum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

AVX2 static void quantize_avx2(const float *x, int n, int16_t *qx, float *dx, float *sx) {
    const __m256 signless = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    for (int b = 0; b < n / 32; b++) {
        const float *v = x + 32 * b;
        __m256 a0 = _mm256_loadu_ps(v), a1 = _mm256_loadu_ps(v + 8), a2 = _mm256_loadu_ps(v + 16), a3 = _mm256_loadu_ps(v + 24);
        __m256 m = _mm256_max_ps(_mm256_max_ps(_mm256_and_ps(a0, signless), _mm256_and_ps(a1, signless)),
                                 _mm256_max_ps(_mm256_and_ps(a2, signless), _mm256_and_ps(a3, signless)));
        __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
        m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
        m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
        float amax = _mm_cvtss_f32(m4), d = amax / QMAX, id = d > 0 ? 1 / d : 0;
        __m256 s = _mm256_set1_ps(id);
        __m256i i0 = _mm256_cvtps_epi32(_mm256_mul_ps(a0, s)), i1 = _mm256_cvtps_epi32(_mm256_mul_ps(a1, s));
        __m256i i2 = _mm256_cvtps_epi32(_mm256_mul_ps(a2, s)), i3 = _mm256_cvtps_epi32(_mm256_mul_ps(a3, s));
        // packs interleaves 128-bit lanes: restore the order 0..15 and 16..31.
        __m256i p0 = _mm256_permute4x64_epi64(_mm256_packs_epi32(i0, i1), 0xd8);
        __m256i p1 = _mm256_permute4x64_epi64(_mm256_packs_epi32(i2, i3), 0xd8);
        _mm256_storeu_si256((__m256i *)(qx + 32 * b), p0);
        _mm256_storeu_si256((__m256i *)(qx + 32 * b + 16), p1);
        dx[b] = d;
        sx[b] = hsum(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
    }
}

/// A block's 32 weights as two vectors of 16 int16: values 0..15 and 16..31.
typedef struct { __m256i lo, hi; } wblock;

AVX2 static inline __attribute__((always_inline)) wblock unpack(int format, const uint8_t *blk) {
    wblock w;
    if (format == FORMAT_Q4_1) {  // byte j: value j in the low nibble, value j + 16 in the high one
        __m128i q = _mm_loadu_si128((const __m128i *)(blk + 4));
        w.lo = _mm256_cvtepu8_epi16(_mm_and_si128(q, _mm_set1_epi8(0x0f)));
        w.hi = _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(q, 4), _mm_set1_epi8(0x0f)));
    } else {
        w.lo = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(blk + 2)));
        w.hi = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(blk + 18)));
    }
    return w;
}

/// <w, x> of one block as 8 int32 partial sums (no overflow: |w| <= 128, |x| <= 32767).
AVX2 static inline __attribute__((always_inline)) __m256i block_dot(wblock w, const int16_t *x) {
    return _mm256_add_epi32(_mm256_madd_epi16(w.lo, _mm256_loadu_si256((const __m256i *)x)),
                            _mm256_madd_epi16(w.hi, _mm256_loadu_si256((const __m256i *)(x + 16))));
}

/// nt tokens (1-4) x 1 row. Always inlined into `gemm_rows_avx2` with constant format and nt,
/// so the branches on them fold away and the accumulators stay in registers.
AVX2 static inline __attribute__((always_inline)) void gemm_row_avx2(int format, int nt, const uint8_t *row, int nb,
                               const int16_t *qx, const float *dx, const float *sx, int cols, float *out, long ldy) {
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps(), acc2 = _mm256_setzero_ps(), acc3 = _mm256_setzero_ps();
    float off0 = 0, off1 = 0, off2 = 0, off3 = 0;
    const int nbx = cols / 32, bb = gguf_block_bytes(format);
    for (int b = 0; b < nb; b++) {
        const uint8_t *blk = row + (long)bb * b;
        const wblock w = unpack(format, blk);
        const __m256 dw = _mm256_set1_ps(_cvtsh_ss(load_u16(blk)));
        if (format == FORMAT_Q4_1) {
            float m = _cvtsh_ss(load_u16(blk + 2));
            off0 += m * sx[b];
            if (nt > 1) off1 += m * sx[nbx + b];
            if (nt > 2) off2 += m * sx[2 * nbx + b];
            if (nt > 3) off3 += m * sx[3 * nbx + b];
        }
#define TOKEN(t, acc)                                                                                    \
        {                                                                                                \
            __m256 s = _mm256_cvtepi32_ps(block_dot(w, qx + (long)(t) * cols + 32 * b));                 \
            acc = _mm256_fmadd_ps(_mm256_mul_ps(s, dw), _mm256_set1_ps(dx[(long)(t) * nbx + b]), acc);   \
        }
        TOKEN(0, acc0)
        if (nt > 1) TOKEN(1, acc1)
        if (nt > 2) TOKEN(2, acc2)
        if (nt > 3) TOKEN(3, acc3)
#undef TOKEN
    }
    out[0] = hsum(acc0) + off0;
    if (nt > 1) out[ldy] = hsum(acc1) + off1;
    if (nt > 2) out[2 * ldy] = hsum(acc2) + off2;
    if (nt > 3) out[3 * ldy] = hsum(acc3) + off3;
}

/// Rows r0 ..< r1 of a tile of nt tokens, specialised per (format, nt).
AVX2 static void gemm_rows_avx2(int format, int nt, const uint8_t *base, long row_bytes, int r0, int r1, int nb,
                                const int16_t *qx, const float *dx, const float *sx, int cols, float *y, long ldy) {
#define ROWS(F, NT)                                                                                           \
    for (int r = r0; r < r1; r++) gemm_row_avx2(F, NT, base + (long)r * row_bytes, nb, qx, dx, sx, cols, y + r, ldy);
    if (format == FORMAT_Q4_1) {
        switch (nt) { case 1: ROWS(FORMAT_Q4_1, 1) break; case 2: ROWS(FORMAT_Q4_1, 2) break;
                      case 3: ROWS(FORMAT_Q4_1, 3) break; default: ROWS(FORMAT_Q4_1, 4) break; }
    } else {
        switch (nt) { case 1: ROWS(FORMAT_Q8_0, 1) break; case 2: ROWS(FORMAT_Q8_0, 2) break;
                      case 3: ROWS(FORMAT_Q8_0, 3) break; default: ROWS(FORMAT_Q8_0, 4) break; }
    }
#undef ROWS
}

static int cpu_has_avx2 = -1;
int ad_kernels_use_avx2(void) {
    if (cpu_has_avx2 < 0) {
        __builtin_cpu_init();
        cpu_has_avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
    }
    return cpu_has_avx2 && !ad_kernels_portable_forced();
}
#else
int ad_kernels_use_avx2(void) { return 0; }
#endif

// MARK: - entry points

void ad_rows_maxima(const float *y, long ldy, int r0, int r1, int tokens, float *maxima) {
    for (int t = 0; t < tokens; t++) {
        float m = maxima[t];
        for (int r = r0; r < r1; r++)
            if (y[(long)t * ldy + r] > m) m = y[(long)t * ldy + r];  // NaN never wins
        maxima[t] = m;
    }
}

void ad_quantize_q16(const float *x, int n, int16_t *qx, float *dx, float *sx) {
#if defined(__x86_64__) || defined(__i386__)
    if (ad_kernels_use_avx2()) { quantize_avx2(x, n, qx, dx, sx); return; }
#endif
    quantize_portable(x, n, qx, dx, sx);
}

void ad_gemm_q16(int format, const void *w, long row_bytes, int cols, int r0, int r1,
                 const int16_t *qx, const float *dx, const float *sx, int tokens, float *y, long ldy) {
    const int nb = cols / 32;
    const uint8_t *base = (const uint8_t *)w;
#if defined(__x86_64__) || defined(__i386__)
    if (ad_kernels_use_avx2()) {
        // Token tiles of 4 reuse each unpacked weight block from registers for 4 tokens; row
        // blocks of 16 (<= 16 x 1.6 KB of weights) stay in L1 while every token tile passes.
        for (int rb = r0; rb < r1; rb += 16) {
            int re = rb + 16 < r1 ? rb + 16 : r1;
            for (int t0 = 0; t0 < tokens; t0 += 4) {
                int nt = tokens - t0 < 4 ? tokens - t0 : 4;
                gemm_rows_avx2(format, nt, base, row_bytes, rb, re, nb, qx + (long)t0 * cols, dx + (long)t0 * nb,
                               sx + (long)t0 * nb, cols, y + (long)t0 * ldy, ldy);
            }
        }
        return;
    }
#endif
    for (int t = 0; t < tokens; t++)
        for (int r = r0; r < r1; r++)
            y[(long)t * ldy + r] = dot_portable(format, base + (long)r * row_bytes, nb, qx + (long)t * cols,
                                                dx + (long)t * nb, sx + (long)t * nb);
}
