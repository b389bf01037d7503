// Innermost loops, in C because Swift cannot emit them (measured in docs/performance.md): the
// integer dot products (below; the closest Swift code vectorises to 3-4x more instructions per
// block) and the AVX-512 passes over the vocabulary (exp512.c).
//
// Activations are rounded to 16-bit integers per 32-value block: x[i] ~= qx[i] * dx[b], with
// sx[b] = the exact float sum of the block (for the Q4_1 offset term). 8 bits, as llama.cpp
// uses, cost this model 5x llama.cpp's own KL to an exact forward pass (outlier channels before
// the attention projections); 16 bits stay within 1e-5 and cost one extra widening per block.
// Weights are in their GGUF block layout (ad_gemm_q16) or repacked 16 rows at a time for
// AVX-512 VNNI (ad_gemm_packed16, packed16.c).
#ifndef AUTODECO_CKERNELS_H
#define AUTODECO_CKERNELS_H
#include <stdint.h>

/// Rounds n floats (n a multiple of 32) to int16 per 32-block: qx, scales dx[n/32], sums sx[n/32].
void ad_quantize_q16(const float *x, int n, int16_t *qx, float *dx, float *sx);

/// y[t * ldy + r] = dot(W[r], X[t]) for rows r0 ..< r1 and tokens 0 ..< tokens, where W is
/// Q4_1 (format 1) or Q8_0 (format 2) with `row_bytes` per row, X is int16 activations with
/// `cols` values per token (qx row stride cols, dx/sx row stride cols/32).
void ad_gemm_q16(int format, const void *w, long row_bytes, int cols, int r0, int r1,
                 const int16_t *qx, const float *dx, const float *sx, int tokens,
                 float *y, long ldy);

/// maxima[t] = max(maxima[t], y[t * ldy + r] for r0 <= r < r1) for every token, NaN never
/// winning: the largest logits that a product's kernel did not take as it wrote them (the
/// packed VNNI kernels do, from their registers).
void ad_rows_maxima(const float *y, long ldy, int r0, int r1, int tokens, float *maxima);

/// Asks for the `bytes` bytes at p to be brought into the L1 cache (prefetcht0 per 64-byte line):
/// Swift has no prefetch instruction. Prefetches never fault, so p may run past an allocation.
static inline void ad_prefetch(const void *p, long bytes) {
    for (long o = 0; o < bytes; o += 64) __builtin_prefetch((const char *)p + o, 0, 3);
}

/// One arrival at a barrier whose counter only grows: adds one to *counter, then waits until it
/// reaches `target` (the arrivals of every part so far, all uses included). Spins, yielding the
/// core now and then (a pool may have more threads than free cores).
void ad_barrier_arrive_and_wait(long *counter, long target);

/// Asks for rows r0..<r1 of a row-major array (`row_bytes` apart).
static inline void ad_prefetch_rows(const void *w, long row_bytes, int r0, int r1) {
    if (r1 > r0) ad_prefetch((const char *)w + (long)r0 * row_bytes, (long)(r1 - r0) * row_bytes);
}

/// How far ahead the AutoDeco heads' bf16 row kernel asks for its rows (~5 KB: 4 of SmolLM2's
/// rows). The rows are read from memory every token, and without these requests the hardware
/// prefetcher alone left the heads' rows at 8-21 µs a token per thread instead of 7-8.5
/// (docs/performance.md, "AutoDeco overhead").
#define AD_BF16_ROWS_AHEAD 4

/// 1 when the AVX2 kernels run on this CPU, 0 when the portable ones do.
int ad_kernels_use_avx2(void);

/// Forces the portable kernels (1) or lets the fastest run (0) on the calling thread only, for
/// tests comparing both paths; -1 only reads the setting. Returns the previous setting.
int ad_kernels_force_portable(int on);

/// Forces the portable kernels on every thread (AUTODECO_KERNELS=portable).
void ad_kernels_force_portable_everywhere(void);

/// 1 when the portable kernels are forced on the calling thread (by either of the above).
int ad_kernels_portable_forced(void);

// MARK: - 16-row packed weights (packed16.c): the AVX-512 VNNI layout

/// Bytes of the packed form of a rows x cols Q4_1 (format 1) or Q8_0 (format 2) matrix.
long ad_packed16_bytes(int format, int rows, int cols);

/// Packs row groups g0 ..< g1 (rows 16 g ..< 16 g + 16) of a GGUF-layout matrix into `packed`
/// (which holds ad_packed16_bytes); rows past `rows` are zero.
void ad_pack16(int format, const void *w, long row_bytes, int rows, int cols, int g0, int g1, void *packed);

/// y[t * ldy + r] = dot(W[r], X[t]) for rows r0 ..< r1 and tokens 0 ..< tokens over packed
/// weights; X as in ad_gemm_q16. AVX-512 VNNI when the CPU has it (and the portable kernels are
/// not forced), else a portable loop with the same arithmetic (bit-identical results). With
/// `maxima` ([tokens], or NULL), maxima[t] becomes the largest of itself and token t's outputs:
/// the VNNI path takes each 16-row group's while it is in L1 (the LM head's maxima, which the
/// AutoDeco statistics need, would otherwise cost a pass of their own over the logits).
void ad_gemm_packed16(int format, const void *packed, int cols, int r0, int r1,
                      const int16_t *qx, const float *dx, const float *sx, int tokens, float *y, long ldy,
                      float *maxima);

// MARK: - 8-bit activations with an outlier per block (packed8.c): `vpdpbusd`

/// Integer activations, rows of `cols` values per token (ad_quantize_q8x writes one row):
/// q16/q8 [tokens, cols], the rest [tokens, cols / 32]. Layout and rule in packed8.c.
typedef struct {
    const int16_t *q16;
    const int8_t *q8;
    const float *dx;
    const float *sx;
    const int8_t *outlier;
    const int32_t *qsum;
} ad_q8x;

/// Rounds n floats (n a multiple of 32) to 8 bits per 32-block, keeping each block's outlier
/// (largest |x| above 1.5 times the second largest) at 16 bits: x[i] ~= q16[i] * dx[i / 32].
void ad_quantize_q8x(const float *x, int n, int16_t *q16, int8_t *q8, float *dx, float *sx,
                     int8_t *outlier, int32_t *qsum);

/// Bytes of the 8-bit packed form of a rows x cols Q4_1 (format 1) or Q8_0 (format 2) matrix.
long ad_packed8_bytes(int format, int rows, int cols);

/// Packs row groups g0 ..< g1 of a GGUF-layout matrix for ad_gemm_packed8.
void ad_pack8(int format, const void *w, long row_bytes, int rows, int cols, int g0, int g1, void *packed);

/// y[t * ldy + r] = dot(W[r], X[t]) for rows r0 ..< r1 and tokens 0 ..< tokens over 8-bit packed
/// weights: AVX-512 VNNI when the CPU has it (and the portable kernels are not forced), else a
/// portable loop with the same arithmetic (bit-identical results). `maxima` as in ad_gemm_packed16.
void ad_gemm_packed8(int format, const void *packed, int cols, int r0, int r1, const ad_q8x *x, int tokens,
                     float *y, long ldy, float *maxima);

/// 1 when this CPU runs the AVX-512 VNNI kernels.
int ad_kernels_have_vnni(void);

/// Multiply-adds per second of 512-bit `vpdpwssd` (bits 16) or `vpdpbusd` (bits 8) on the calling
/// thread, register operands only, over `rounds` x 12 instructions; 0 without AVX-512 VNNI.
double ad_vnni_peak_macs(int bits, long rounds);

// MARK: - Passes over the vocabulary, and SwiGLU (exp512.c): AVX-512 when the CPU has it

/// 1 when this CPU has AVX-512F, which the functions below require.
int ad_kernels_have_avx512f(void);

/// out[i] = exp((x[i] - shift) * scale) for i < n (exactly 0 where the argument is below -87);
/// returns their sum. `out` may be `x`. Meanwhile it asks for the `ahead_bytes` bytes at `ahead`
/// (may be NULL) to be brought into the caches, for work that reads them next.
float ad_store_exp_avx512(const float *x, int n, float shift, float scale, float *out,
                          const void *ahead, long ahead_bytes);

/// ad_store_exp_avx512 that also merges the five largest x into top[5] (descending; start it at
/// -inf), reading x once: where the exponentials' shift (the largest logit) is known beforehand,
/// from the LM head's kernel, this replaces a separate pass over the logits. The x are asked for
/// 4 KB ahead (the first pass over them after the forward pass).
float ad_store_exp_top5_avx512(const float *x, int n, float shift, float scale, float *out,
                               const void *ahead, long ahead_bytes, float *top);

/// With q = e[i] * inv_z: *sum_sq_dev = sum (q - mean)^2, *sum_q_log_q = sum q ln(q + eps);
/// meanwhile asks for the `ahead_bytes` bytes at `ahead` (NULL for none), a little every
/// iteration: the pass is bound by its logarithms, so memory delivers them for free.
void ad_probability_moments_avx512(const float *e, int n, float inv_z, float mean, float eps,
                                   float *sum_sq_dev, float *sum_q_log_q, const void *ahead, long ahead_bytes);


/// gate[i] = silu(gate[i]) * up[i] for i < n (SwiGLU).
void ad_swiglu_avx512(float *gate, const float *up, int n);

// MARK: - Attention (attention512.c): AVX-512F

/// One chunk of attention for the g query heads q[g][d] that share a KV head: for each head j,
/// scores[j * chunk + p] = exp((q_j . K[p]) * scale - m_j) for the n rows K[p] (`stride`
/// elements apart, float16 when `half`, else float32; V alike), and part[j * (d + 2) ...] =
/// (m_j, sum of those exponentials, their weighted sum of V rows[d]); K is prefetched `ahead` rows
/// on. Returns 0, doing nothing, unless the CPU has AVX-512F and d is 64 or 128.
int ad_attend_chunk_avx512(int half, const float *q, int g, const void *k, const void *v, long stride, int n, int d,
                           float scale, int ahead, float *scores, int chunk, float *part);

// MARK: - The AutoDeco heads' first layers (bf16rows.c): AVX-512F

/// pairs[32b + j] = x[32b + 2j], pairs[32b + 16 + j] = x[32b + 2j + 1] for each block b of 32
/// (zero past n): room for 32 * ceil(n / 32) floats.
void ad_bf16_split_pairs(const float *x, int n, float *pairs);

/// out[r] = bias[r] + sum_{c < n} bf16(w[r * stride + c]) * x[c] for r0 <= r < r1, with `pairs` from
/// ad_bf16_split_pairs(x, n). `stride` must be even; each row is read in whole blocks of 32
/// weights, so up to 31 weights past column n (times the zero padding) and past the last row
/// must be readable.
void ad_bf16_rows_avx512(const uint16_t *w, long stride, int r0, int r1, int n, const float *pairs,
                         const float *bias, float *out);

#endif
