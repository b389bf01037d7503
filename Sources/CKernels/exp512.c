// The two passes over the vocabulary behind the AutoDeco features and the sampler's weights,
// in AVX-512: exp of every scaled logit (also every softmax's, attention's included), then the
// variance and entropy sums; and SwiGLU, whose sigmoid uses the same exp. Swift builds for
// the haswell baseline and has no way to use 512-bit instructions behind a run-time check; the
// same Cephes polynomials compiled from Swift (Kernels/Exp.swift, the fallback) took 2.8x
// (exp) and 1.8x (moments) the time of these (docs/performance.md, "AutoDeco overhead"); the
// moments' log here is now a table lookup and a degree-4 polynomial, faster again (log16).
// vscalefps, vgetexpps and vgetmantps replace the exponent-bit arithmetic, and masks replace
// both the underflow test and the scalar tail loops.
#include "CKernels.h"

#if defined(__x86_64__)
#include <immintrin.h>

#define AVX512 __attribute__((target("avx512f")))

static int cpu_has_avx512f = -1;
int ad_kernels_have_avx512f(void) {
    if (cpu_has_avx512f < 0) {
        __builtin_cpu_init();
        cpu_has_avx512f = __builtin_cpu_supports("avx512f");
    }
    return cpu_has_avx512f;
}

/// exp(x) for the lanes in `keep` with x >= -87, else exactly 0 (so masked, -inf logits stay
/// impossible, as in Swift's expSIMD). Cody-Waite reduction x = n ln2 + r and Cephes' degree-6
/// polynomial, the same constants as expSIMD; 2^n applied by vscalefps.
AVX512 static inline __m512 exp16(__m512 x, __mmask16 keep) {
    keep &= _mm512_cmp_ps_mask(x, _mm512_set1_ps(-87.f), _CMP_GE_OQ);
    const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504f)),
                                          _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
    __m512 p = _mm512_set1_ps(1.9875691500e-4f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
    const __m512 er = _mm512_add_ps(_mm512_fmadd_ps(p, _mm512_mul_ps(r, r), r), _mm512_set1_ps(1.f));
    return _mm512_maskz_scalef_ps(keep, er, n);
}

/// 1/c and ln c for the centres c of 16 intervals of the mantissa m in [0.75, 1.5): indexed by
/// the top four bits of m's float mantissa field, [1 + j/16, 1 + (j+1)/16) for j < 8 and half
/// that for j >= 8 (m below 1 has exponent -1). ln c is -ln of the float 1/c, so the table and
/// the reduction below agree exactly.
static const float log_inv_c[16] = {
    9.696969986e-01f, 9.142857194e-01f, 8.648648858e-01f, 8.205128312e-01f, 7.804877758e-01f, 7.441860437e-01f,
    7.111111283e-01f, 6.808510423e-01f, 1.306122422e+00f, 1.254902005e+00f, 1.207547188e+00f, 1.163636327e+00f,
    1.122807026e+00f, 1.084745765e+00f, 1.049180269e+00f, 1.015873075e+00f};
static const float log_ln_c[16] = {
    3.077162802e-02f, 8.961215615e-02f, 1.451819837e-01f, 1.978257298e-01f, 2.478362024e-01f, 2.954642177e-01f,
    3.409265578e-01f, 3.844117224e-01f, -2.670627534e-01f, -2.270574868e-01f, -1.885911822e-01f, -1.515498608e-01f,
    -1.158318222e-01f, -8.134564012e-02f, -4.800916463e-02f, -1.574841514e-02f};

/// ln(x) for normal x > 0, within 2 float ulps (1.1e-7 relative for |ln x| > 0.1, 9e-8 absolute
/// below): x = m 2^k with m in [0.75, 1.5) (no cancellation against k ln 2 near x = 1), then
/// ln m = ln c + ln(1 + r), r = m / c - 1 with |r| <= 1/33 for the table's nearest centre c
/// (two in-register lookups), and ln(1 + r) to degree 4 (error r^5/5 <= 5e-9). Half the
/// instructions of Cephes' degree-9 polynomial (the entropy pass went from 5.3-5.6 to 3.4 µs
/// over 24,576 values): the pass is bound by this function's instructions.
AVX512 static inline __m512 log16(__m512 x) {
    const __m512 m = _mm512_getmant_ps(x, _MM_MANT_NORM_p75_1p5, _MM_MANT_SIGN_src);
    __m512 k = _mm512_getexp_ps(x);
    k = _mm512_mask_add_ps(k, _mm512_cmp_ps_mask(m, _mm512_set1_ps(1.f), _CMP_LT_OQ), k, _mm512_set1_ps(1.f));
    // permutexvar reads the low four bits of each index: the top four of the mantissa field.
    const __m512i j = _mm512_srli_epi32(_mm512_castps_si512(m), 19);
    const __m512 r = _mm512_fmsub_ps(m, _mm512_permutexvar_ps(j, _mm512_loadu_ps(log_inv_c)), _mm512_set1_ps(1.f));
    __m512 p = _mm512_fmadd_ps(r, _mm512_set1_ps(-0.25f), _mm512_set1_ps(1.f / 3));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(-0.5f));
    const __m512 lnm = _mm512_add_ps(_mm512_permutexvar_ps(j, _mm512_loadu_ps(log_ln_c)), _mm512_fmadd_ps(_mm512_mul_ps(p, r), r, r));
    return _mm512_fmadd_ps(k, _mm512_set1_ps(0.693359375f), _mm512_fmadd_ps(k, _mm512_set1_ps(-2.12194440e-4f), lnm));
}

static inline __mmask16 first_lanes(int count) { return (__mmask16)((1u << count) - 1); }

/// Inserts v into top[0..<5] (descending) if it is among the five largest, as Swift's Top5.
static inline void top5_insert(float *top, float v) {
    if (!(v > top[4])) return;
    int i = 4;
    while (i > 0 && v > top[i - 1]) { top[i] = top[i - 1]; i--; }
    top[i] = v;
}

/// The exponentials' pass, compiled twice (`top` a constant NULL or not, after inlining): with
/// `top` it also merges the five largest x into it and asks for x 4 KB ahead (the first pass over
/// the logits after the forward pass).
AVX512 static inline __attribute__((always_inline)) float store_exp(const float *x, int n, float shift, float scale, float *out,
                                                                    const void *ahead, long ahead_bytes, float *top) {
    const __m512 s = _mm512_set1_ps(shift), k = _mm512_set1_ps(scale);
    __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps(), t = _mm512_set1_ps(top ? top[4] : 0.f);
    int i = 0;
    // The lines of `ahead` are asked for evenly over the iterations, so that memory delivers
    // them while the polynomials keep the core busy.
    const char *next = (const char *)ahead, *end = next + (ahead ? ahead_bytes : 0);
    const long per = n >= 32 ? (ahead_bytes / 64 + n / 32 - 1) / (n / 32) : 0;
    // Two independent vectors per iteration: the polynomial is a chain of dependent steps.
    for (; i + 32 <= n; i += 32) {
        for (long j = 0; j < per && next < end; j++, next += 64) __builtin_prefetch(next, 0, 3);
        const __m512 x0 = _mm512_loadu_ps(x + i), x1 = _mm512_loadu_ps(x + i + 16);
        if (top) {
            __builtin_prefetch(x + i + 1024, 0, 3);
            __builtin_prefetch(x + i + 1040, 0, 3);
            uint32_t above = (uint32_t)_mm512_cmp_ps_mask(x0, t, _CMP_GT_OQ) | ((uint32_t)_mm512_cmp_ps_mask(x1, t, _CMP_GT_OQ) << 16);
            if (above) {  // rare after the first few hundred values
                while (above) { top5_insert(top, x[i + __builtin_ctz(above)]); above &= above - 1; }
                t = _mm512_set1_ps(top[4]);
            }
        }
        const __m512 e0 = exp16(_mm512_mul_ps(_mm512_sub_ps(x0, s), k), 0xFFFF);
        const __m512 e1 = exp16(_mm512_mul_ps(_mm512_sub_ps(x1, s), k), 0xFFFF);
        _mm512_storeu_ps(out + i, e0);
        _mm512_storeu_ps(out + i + 16, e1);
        a0 = _mm512_add_ps(a0, e0);
        a1 = _mm512_add_ps(a1, e1);
    }
    for (; i < n; i += 16) {
        const int count = n - i < 16 ? n - i : 16;
        const __mmask16 lanes = first_lanes(count);
        const __m512 v = _mm512_maskz_loadu_ps(lanes, x + i);
        if (top) for (int j = 0; j < count; j++) top5_insert(top, x[i + j]);
        const __m512 e = exp16(_mm512_mul_ps(_mm512_sub_ps(v, s), k), lanes);
        _mm512_mask_storeu_ps(out + i, lanes, e);
        a0 = _mm512_add_ps(a0, e);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(a0, a1));
}

AVX512 float ad_store_exp_avx512(const float *x, int n, float shift, float scale, float *out,
                                 const void *ahead, long ahead_bytes) {
    return store_exp(x, n, shift, scale, out, ahead, ahead_bytes, NULL);
}

AVX512 float ad_store_exp_top5_avx512(const float *x, int n, float shift, float scale, float *out,
                                      const void *ahead, long ahead_bytes, float *top) {
    return store_exp(x, n, shift, scale, out, ahead, ahead_bytes, top);
}

AVX512 void ad_probability_moments_avx512(const float *e, int n, float inv_z, float mean, float eps,
                                          float *sum_sq_dev, float *sum_q_log_q, const void *ahead, long ahead_bytes) {
    const __m512 iz = _mm512_set1_ps(inv_z), mu = _mm512_set1_ps(mean), ep = _mm512_set1_ps(eps);
    __m512 s0 = _mm512_setzero_ps(), s1 = s0, h0 = s0, h1 = s0;
    int i = 0;
    // As in ad_store_exp_avx512: `ahead` asked for evenly over the iterations, under the logs.
    const char *next = (const char *)ahead, *end = next + (ahead ? ahead_bytes : 0);
    const long per = n >= 32 ? (ahead_bytes / 64 + n / 32 - 1) / (n / 32) : 0;
    for (; i + 32 <= n; i += 32) {
        for (long j = 0; j < per && next < end; j++, next += 64) __builtin_prefetch(next, 0, 3);
        const __m512 q0 = _mm512_mul_ps(_mm512_loadu_ps(e + i), iz), q1 = _mm512_mul_ps(_mm512_loadu_ps(e + i + 16), iz);
        const __m512 d0 = _mm512_sub_ps(q0, mu), d1 = _mm512_sub_ps(q1, mu);
        s0 = _mm512_fmadd_ps(d0, d0, s0);
        s1 = _mm512_fmadd_ps(d1, d1, s1);
        h0 = _mm512_fmadd_ps(q0, log16(_mm512_add_ps(q0, ep)), h0);
        h1 = _mm512_fmadd_ps(q1, log16(_mm512_add_ps(q1, ep)), h1);
    }
    for (; i < n; i += 16) {
        const __mmask16 lanes = first_lanes(n - i < 16 ? n - i : 16);
        // Lanes past n load q = 0, so they add nothing to the entropy; their deviation is masked.
        const __m512 q = _mm512_mul_ps(_mm512_maskz_loadu_ps(lanes, e + i), iz);
        const __m512 d = _mm512_maskz_sub_ps(lanes, q, mu);
        s0 = _mm512_fmadd_ps(d, d, s0);
        h0 = _mm512_fmadd_ps(q, log16(_mm512_add_ps(q, ep)), h0);
    }
    *sum_sq_dev = _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
    *sum_q_log_q = _mm512_reduce_add_ps(_mm512_add_ps(h0, h1));
}

/// gate[i] = silu(gate[i]) * up[i], silu(g) = g sigmoid(g) with sigmoid from s = e^-|g| (never
/// overflows): 1 / (1 + s) for g >= 0, s / (1 + s) below. As Swift's 8-lane loop, in 16 lanes
/// with the tail masked: SwiGLU was 3% of a batched token and 1.3% of a decoded one.
AVX512 void ad_swiglu_avx512(float *gate, const float *up, int n) {
    const __m512 one = _mm512_set1_ps(1.f);
    for (int i = 0; i < n; i += 16) {
        const __mmask16 lanes = first_lanes(n - i < 16 ? n - i : 16);
        const __m512 g = _mm512_maskz_loadu_ps(lanes, gate + i);
        const __m512 s = exp16(_mm512_sub_ps(_mm512_setzero_ps(), _mm512_abs_ps(g)), lanes);
        const __mmask16 negative = _mm512_cmp_ps_mask(g, _mm512_setzero_ps(), _CMP_LT_OQ);
        const __m512 sigmoid = _mm512_div_ps(_mm512_mask_blend_ps(negative, one, s), _mm512_add_ps(one, s));
        _mm512_mask_storeu_ps(gate + i, lanes, _mm512_mul_ps(_mm512_mul_ps(g, sigmoid), _mm512_maskz_loadu_ps(lanes, up + i)));
    }
}

#else
int ad_kernels_have_avx512f(void) { return 0; }
// Never called: Swift checks ad_kernels_have_avx512f first.
float ad_store_exp_avx512(const float *x, int n, float shift, float scale, float *out,
                          const void *ahead, long ahead_bytes) {
    (void)x; (void)n; (void)shift; (void)scale; (void)out; (void)ahead; (void)ahead_bytes;
    __builtin_trap();
}
void ad_swiglu_avx512(float *gate, const float *up, int n) {
    (void)gate; (void)up; (void)n;
    __builtin_trap();
}
float ad_store_exp_top5_avx512(const float *x, int n, float shift, float scale, float *out,
                               const void *ahead, long ahead_bytes, float *top) {
    (void)x; (void)n; (void)shift; (void)scale; (void)out; (void)ahead; (void)ahead_bytes; (void)top;
    __builtin_trap();
}
void ad_probability_moments_avx512(const float *e, int n, float inv_z, float mean, float eps,
                                   float *sum_sq_dev, float *sum_q_log_q, const void *ahead, long ahead_bytes) {
    (void)e; (void)n; (void)inv_z; (void)mean; (void)eps; (void)sum_sq_dev; (void)sum_q_log_q; (void)ahead; (void)ahead_bytes;
    __builtin_trap();
}
#endif
