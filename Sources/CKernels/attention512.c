// One chunk of causal attention (Kernels/Attention.swift, `chunkPart`) in AVX-512, for head sizes
// 64 and 128 over float32 or float16 K/V rows. Swift builds for the AVX2 baseline; its chunk
// loop spent most of its instructions outside the multiply-adds: a horizontal sum per score
// (8-lane chains reduced one by one), each K and V row widened once per query head, and the
// weighted sum's 8-lane chains. Here 16 scores are reduced together by a transpose-and-add tree
// (45 instructions for 16 sums), a V row is widened once for all the heads of a call, and every
// head keeps two 16-lane chains per 16 columns (even and odd positions), so that a single head
// (one decoded sequence, whose tasks are per query head) is not bound by the multiply-add's
// latency. Each head's arithmetic is the same whatever the number of heads in the call, so a
// group computed together gives each head computed alone, to the bit, as the Swift path does;
// float16 rows widened exactly give the bits of float32 rows holding the same values.
#include "CKernels.h"

#if defined(__x86_64__)
#include <immintrin.h>

#define AVX512 __attribute__((target("avx512f,f16c,fma")))
#define ALWAYS_INLINE inline __attribute__((always_inline))

/// 16 values of a row (float32, or float16 widened) as floats.
AVX512 static ALWAYS_INLINE __m512 load_row16(int half, const void *row, long i) {
    if (half) return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)((const uint16_t *)row + i)));
    return _mm512_loadu_ps((const float *)row + i);
}

/// Lane i of the result is the sum of the 16 lanes of v[i].
AVX512 static ALWAYS_INLINE __m512 sum16x16(const __m512 v[16]) {
    __m512 a[8], b[4], c[2];
    // Per 128-bit lane: (x0 + x2, y0 + y2, x1 + x3, y1 + y3) for the pair (x, y).
    for (int i = 0; i < 8; i++)
        a[i] = _mm512_add_ps(_mm512_unpacklo_ps(v[2 * i], v[2 * i + 1]), _mm512_unpackhi_ps(v[2 * i], v[2 * i + 1]));
    // Per 128-bit lane: that lane's sums of vectors 4i ..< 4i + 4.
    for (int i = 0; i < 4; i++) {
        const __m512d x = _mm512_castps_pd(a[2 * i]), y = _mm512_castps_pd(a[2 * i + 1]);
        b[i] = _mm512_add_ps(_mm512_castpd_ps(_mm512_unpacklo_pd(x, y)), _mm512_castpd_ps(_mm512_unpackhi_pd(x, y)));
    }
    // The four 128-bit lanes folded: two, then one.
    for (int i = 0; i < 2; i++)
        c[i] = _mm512_add_ps(_mm512_shuffle_f32x4(b[2 * i], b[2 * i + 1], _MM_SHUFFLE(2, 0, 2, 0)),
                             _mm512_shuffle_f32x4(b[2 * i], b[2 * i + 1], _MM_SHUFFLE(3, 1, 3, 1)));
    return _mm512_add_ps(_mm512_shuffle_f32x4(c[0], c[1], _MM_SHUFFLE(2, 0, 2, 0)),
                         _mm512_shuffle_f32x4(c[0], c[1], _MM_SHUFFLE(3, 1, 3, 1)));
}

static ALWAYS_INLINE __mmask16 first_lanes(int count) { return count >= 16 ? 0xFFFF : (__mmask16)((1u << count) - 1); }

/// scores[p] = (q . K[p]) * scale for p < n, 16 positions per reduction tree.
/// With `ahead` > 0 it also prefetches, position by position, K `ahead` rows on and V: the rows come
/// from memory (the weights streamed in since evicted them) and are too few for the hardware
/// prefetcher to ramp up.
AVX512 static ALWAYS_INLINE void scores16(int half, int d16, const float *q, const void *k, const void *v, long stride,
                                          int n, float scale, int ahead, float *scores) {
    const long eb = half ? 2 : 4, rowBytes = 16L * d16 * eb;
    for (int p0 = 0; p0 < n; p0 += 16) {
        __m512 acc[16];
        for (int i = 0; i < 16; i++) {
            acc[i] = _mm512_setzero_ps();
            if (p0 + i < n) {
                const long row = (long)(p0 + i) * stride;
                if (ahead > 0) {
                    ad_prefetch((const char *)k + (row + ahead * stride) * eb, rowBytes);
                    ad_prefetch((const char *)v + row * eb, rowBytes);
                }
                for (int c = 0; c < d16; c++)
                    acc[i] = _mm512_fmadd_ps(_mm512_loadu_ps(q + 16 * c), load_row16(half, k, row + 16 * c), acc[i]);
            }
        }
        _mm512_mask_storeu_ps(scores + p0, first_lanes(n - p0), _mm512_mul_ps(sum16x16(acc), _mm512_set1_ps(scale)));
    }
}

/// out_h[d] = sum_p w_h[p] V[p] for the hs heads h (weights `wstride` floats apart, outputs
/// `ostride`), two chains per 16 columns: even positions and odd ones, added at the end.
AVX512 static ALWAYS_INLINE void weighted_sum(int half, int d16, int hs, const float *w, long wstride, const void *v,
                                              long stride, int n, float *out, long ostride) {
    __m512 even[3][8], odd[3][8];
    for (int h = 0; h < hs; h++)
        for (int c = 0; c < d16; c++) even[h][c] = odd[h][c] = _mm512_setzero_ps();
    int p = 0;
    for (; p + 2 <= n; p += 2) {
        __m512 x[8], y[8];
        for (int c = 0; c < d16; c++) {
            x[c] = load_row16(half, v, (long)p * stride + 16 * c);
            y[c] = load_row16(half, v, (long)(p + 1) * stride + 16 * c);
        }
        for (int h = 0; h < hs; h++) {
            const __m512 s = _mm512_set1_ps(w[h * wstride + p]), t = _mm512_set1_ps(w[h * wstride + p + 1]);
            for (int c = 0; c < d16; c++) {
                even[h][c] = _mm512_fmadd_ps(s, x[c], even[h][c]);
                odd[h][c] = _mm512_fmadd_ps(t, y[c], odd[h][c]);
            }
        }
    }
    if (p < n) {
        for (int c = 0; c < d16; c++) {
            const __m512 x = load_row16(half, v, (long)p * stride + 16 * c);
            for (int h = 0; h < hs; h++) even[h][c] = _mm512_fmadd_ps(_mm512_set1_ps(w[h * wstride + p]), x, even[h][c]);
        }
    }
    for (int h = 0; h < hs; h++)
        for (int c = 0; c < d16; c++) _mm512_storeu_ps(out + h * ostride + 16 * c, _mm512_add_ps(even[h][c], odd[h][c]));
}

/// The largest of s[0..<n].
AVX512 static ALWAYS_INLINE float max_of(const float *s, int n) {
    __m512 m = _mm512_set1_ps(-__builtin_inff());
    for (int p = 0; p < n; p += 16) m = _mm512_max_ps(m, _mm512_mask_loadu_ps(m, first_lanes(n - p), s + p));
    return _mm512_reduce_max_ps(m);
}

AVX512 static ALWAYS_INLINE void attend_chunk(int half, int d16, const float *q, int g, const void *k, const void *v,
                                              long stride, int n, float scale, int ahead, float *scores, int chunk,
                                              float *part) {
    const long d = 16L * d16, ps = d + 2;
    for (int j = 0; j < g; j++) {
        float *s = scores + (long)j * chunk, *h = part + j * ps;
        scores16(half, d16, q + j * d, k, v, stride, n, scale, j == 0 ? ahead : 0, s);
        const float m = max_of(s, n);
        h[0] = m;
        h[1] = ad_store_exp_avx512(s, n, m, 1, s, 0, 0);
    }
    // Heads in sets whose chains fit the 32 registers with the rows' vectors: 3 of 64 columns
    // (24 chains + 8 row vectors), 1 of 128.
    const int per = d16 == 4 ? 3 : 1;
    for (int j = 0; j < g; j += per) {
        const int hs = g - j < per ? g - j : per;
        float *w = scores + (long)j * chunk, *out = part + j * ps + 2;
        if (d16 == 4) {
            if (hs == 3) weighted_sum(half, 4, 3, w, chunk, v, stride, n, out, ps);
            else if (hs == 2) weighted_sum(half, 4, 2, w, chunk, v, stride, n, out, ps);
            else weighted_sum(half, 4, 1, w, chunk, v, stride, n, out, ps);
        } else {
            weighted_sum(half, 8, 1, w, chunk, v, stride, n, out, ps);
        }
    }
}

// One specialisation per element type and width: the loops unroll into registers.
#define SPECIALISE(NAME, HALF, D16)                                                                         \
    AVX512 static void NAME(const float *q, int g, const void *k, const void *v, long stride, int n, float scale, \
                            int ahead, float *scores, int chunk, float *part) {                                \
        attend_chunk(HALF, D16, q, g, k, v, stride, n, scale, ahead, scores, chunk, part);                     \
    }
SPECIALISE(attend_f16_64, 1, 4)
SPECIALISE(attend_f16_128, 1, 8)
SPECIALISE(attend_f32_64, 0, 4)
SPECIALISE(attend_f32_128, 0, 8)
#undef SPECIALISE

int ad_attend_chunk_avx512(int half, const float *q, int g, const void *k, const void *v, long stride, int n, int d,
                           float scale, int ahead, float *scores, int chunk, float *part) {
    if (!ad_kernels_have_avx512f() || (d != 64 && d != 128)) return 0;
    if (half) (d == 64 ? attend_f16_64 : attend_f16_128)(q, g, k, v, stride, n, scale, ahead, scores, chunk, part);
    else (d == 64 ? attend_f32_64 : attend_f32_128)(q, g, k, v, stride, n, scale, ahead, scores, chunk, part);
    return 1;
}

#else
int ad_attend_chunk_avx512(int half, const float *q, int g, const void *k, const void *v, long stride, int n, int d,
                           float scale, int ahead, float *scores, int chunk, float *part) {
    (void)half; (void)q; (void)g; (void)k; (void)v; (void)stride; (void)n; (void)d; (void)scale; (void)ahead;
    (void)scores; (void)chunk; (void)part;
    return 0;
}
#endif
