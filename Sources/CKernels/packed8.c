// 8-bit activations with one outlier per block, and weights repacked 16 rows at a time for
// AVX-512 VNNI `vpdpbusd` (64 multiply-adds per instruction, twice `vpdpwssd`'s 32).
//
// Why an outlier: this model's activations have channels far larger than their neighbours; one
// scale for 32 values rounded to 8 bits then leaves the rest of the block a few levels, and the
// forward pass drifts 5-10x further from exact than llama.cpp's (docs/performance.md). Here a
// block whose largest |x| exceeds 1.5 times the second largest is scaled by the second largest,
// and its largest value keeps 16 bits: it is zero in the 8-bit vector and added back by one
// 16-bit multiply-add per token and 16 rows. About a third of the blocks have one on this model.
// (A threshold of 2, a fifth of the blocks, missed the reference's hidden-state cosine >= 0.995
// at two positions of P2: 0.9943 and 0.9949.)
//
// Activations per 32-value block b of a token row:
//   q16[32 b + i]  the integers (8-bit range except the outlier), x[i] ~= q16[32 b + i] * dx[b];
//   q8[32 b + i]   the same as int8 with the outlier's place 0;
//   outlier[b]     the outlier's index in the block, -1 for none;
//   qsum[b]        the sum of q16 over the block (Q8_0 weights are stored +128 as bytes);
//   sx[b]          the block's exact float sum (Q4_1's offset term).
// The integer sums equal the int16 kernels' over q16 exactly, so any kernel over q16 gives the
// same numbers (the portable loop below is bit-identical to the VNNI one).
//
// Weights are stored per 16-row group, the groups one after the other; same size as the GGUF
// blocks (Q8_0 groups padded to 64 bytes). Quad k (columns 4k ..< 4k + 4) of row r is lane r of
// a 64-byte vector, and every vector load is 64-byte aligned:
//   Q4_1: per 32-column block b a 320-byte unit at 320 b: d[16] f16, m[16] f16, q[256]: byte
//         64 + 64 i + 4 r + j holds w[r][4 i + j] in its low nibble (quad i) and w[r][16 + 4 i + j]
//         in its high nibble (quad i + 4).
//   Q8_0: blocks in pairs, a 1088-byte unit at 1088 (b / 2): the quads q[512] of block b, then of
//         block b + 1 (byte 64 k + 4 r + j = w[r][32 b + 4 k + j] + 128), then the two blocks'
//         scales d[16] f16; an odd last block is a 576-byte unit (quads, scales, 32 bytes of
//         padding). Scales inside 544-byte units would put every other block's vectors across two
//         cache lines (measured twice as slow); all scales at the group's end made one token
//         stream the weights at half the speed (13-15 against 28 GB/s: a second stream per group
//         that the hardware prefetcher did not follow), pairs stream like the GGUF rows.
#include "CKernels.h"
#include "half.h"
#include "row_groups.h"
#include <math.h>
#include <string.h>

/// Bytes of one 16-row group of nb blocks.
static long group_bytes(int format, int nb) {
    return format == FORMAT_Q4_1 ? 320L * nb : 1088L * (nb / 2) + 576L * (nb % 2);
}
/// Block b's 16 f16 scales (and, for Q4_1, its 16 f16 minimums right after) in a group.
static inline const uint8_t *block_scales(int format, const uint8_t *group, int nb, int b) {
    if (format == FORMAT_Q4_1) return group + 320L * b;
    const int paired = b - b % 2 + 1 < nb;  // a pair's scales follow two blocks' quads, a lone block's its own
    return group + 1088L * (b / 2) + (paired ? 1024 + 32 * (b % 2) : 512);
}
/// Block b's 8 quad vectors (Q4_1: as 4 vectors of nibble pairs) in a group.
static inline const uint8_t *block_quads(int format, const uint8_t *group, int b) {
    return format == FORMAT_Q4_1 ? group + 320L * b + 64 : group + 1088L * (b / 2) + 512 * (b % 2);
}
/// Block b's share of the group's bytes in streaming order (what a tile prefetches for it).
static inline long block_stream_bytes(int format, int nb, int b, long *offset) {
    if (format == FORMAT_Q4_1) { *offset = 320L * b; return 320; }
    *offset = 1088L * (b / 2) + 544L * (b % 2);
    return b - b % 2 + 1 < nb ? 544 : 576;
}

// MARK: - activations

static void quantize_q8x_portable(const float *x, int n, int16_t *q16, int8_t *q8, float *dx, float *sx,
                                  int8_t *outlier, int32_t *qsum) {
    for (int b = 0; b < n / 32; b++) {
        const float *v = x + 32 * b;
        float top1 = 0, top2 = 0, sum = 0;
        int at = 0;
        for (int i = 0; i < 32; i++) {
            const float a = fabsf(v[i]);
            sum += v[i];
            if (a > top1) { top2 = top1; top1 = a; at = i; }
            else if (a > top2) top2 = a;
        }
        const int flagged = top1 > 1.5f * top2;
        float d = (flagged ? top2 : top1) / 127.0f;
        if (top1 / 32767.0f > d) d = top1 / 32767.0f;
        const float id = d > 0 ? 1 / d : 0;
        int32_t s = 0;
        for (int i = 0; i < 32; i++) {
            const int q = (int)lrintf(v[i] * id);
            q16[32 * b + i] = (int16_t)q;
            q8[32 * b + i] = (int8_t)(flagged && i == at ? 0 : q);
            s += q;
        }
        dx[b] = d; sx[b] = sum; outlier[b] = (int8_t)(flagged ? at : -1); qsum[b] = s;
    }
}

// MARK: - packing

long ad_packed8_bytes(int format, int rows, int cols) {
    return (long)((rows + 15) / 16) * group_bytes(format, cols / 32);
}

void ad_pack8(int format, const void *w, long row_bytes, int rows, int cols, int g0, int g1, void *packed) {
    const int nb = cols / 32;
    const long gb = group_bytes(format, nb), gguf_block = gguf_block_bytes(format);
    for (int g = g0; g < g1; g++) {
        uint8_t *group = (uint8_t *)packed + g * gb;
        memset(group, 0, (size_t)gb);
        if (format == FORMAT_Q8_0)  // rows past the end: weight 0
            for (int b = 0; b < nb; b++) memset((uint8_t *)block_quads(format, group, b), 128, 512);
        for (int b = 0; b < nb; b++) {
            uint8_t *sc = (uint8_t *)block_scales(format, group, nb, b), *q = (uint8_t *)block_quads(format, group, b);
            for (int r = 0; r < 16 && 16 * g + r < rows; r++) {
                const uint8_t *blk = (const uint8_t *)w + (long)(16 * g + r) * row_bytes + b * gguf_block;
                memcpy(sc + 2 * r, blk, 2);  // d
                if (format == FORMAT_Q4_1) {
                    memcpy(sc + 32 + 2 * r, blk + 2, 2);  // m
                    for (int v = 0; v < 32; v++) {
                        const uint8_t n = (uint8_t)gguf_block_value(format, blk, v);
                        const int c = v % 16;
                        q[64 * (c / 4) + 4 * r + c % 4] |= v < 16 ? n : (uint8_t)(n << 4);
                    }
                } else {
                    for (int v = 0; v < 32; v++) q[64 * (v / 4) + 4 * r + v % 4] = (uint8_t)(gguf_block_value(format, blk, v) + 128);
                }
            }
        }
    }
}

/// Weight (r, v) of a block's quads as a signed integer.
static inline int quad_weight(int format, const uint8_t *q, int r, int v) {
    if (format == FORMAT_Q4_1) {
        const int c = v % 16, byte = q[64 * (c / 4) + 4 * r + c % 4];
        return v < 16 ? (byte & 0x0f) : (byte >> 4);
    }
    return (int)q[64 * (v / 4) + 4 * r + v % 4] - 128;
}

// MARK: - portable (the same arithmetic as the VNNI path, lane by lane: bit-identical results)

static void gemm_packed8_portable(int format, const uint8_t *packed, int cols, int r0, int r1, const ad_q8x *x,
                                  int tokens, float *y, long ldy) {
    const int nb = cols / 32;
    const long gb = group_bytes(format, nb);
    for (int t = 0; t < tokens; t++) {
        for (int row = r0; row < r1; row++) {
            const int g = row / 16, r = row % 16;
            const uint8_t *group = packed + g * gb;
            float acc = 0;
            for (int b = 0; b < nb; b++) {
                const uint8_t *sc = block_scales(format, group, nb, b), *w = block_quads(format, group, b);
                const int16_t *q = x->q16 + (long)t * cols + 32 * b;
                int32_t s = 0;
                for (int v = 0; v < 32; v++) s += quad_weight(format, w, r, v) * q[v];
                acc = accumulate_block(format, acc, s, sc + 2 * r, sc + 32 + 2 * r, x->dx[(long)t * nb + b],
                                       x->sx[(long)t * nb + b]);
            }
            y[(long)t * ldy + row] = acc;
        }
    }
}

// MARK: - AVX-512 VNNI

#if defined(__x86_64__)

/// Four activation bytes read as one 32-bit word for the broadcast.
typedef int32_t quad8 __attribute__((may_alias, aligned(1)));

/// One 16-row group times nt tokens (nt and format constant after inlining). acc chains: 4 per
/// token for one token, 2 for two or three, else 1, so that at least four independent chains
/// hide the multiply-add's latency.
VNNI static ALWAYS_INLINE void tile_vnni8(int format, int nt, const uint8_t *group, const uint8_t *next, int nb,
                                          const ad_q8x *x, int cols, float *y, long ldy, __mmask16 mask, float *maxima) {
    const int chains = nt >= 4 ? 1 : (nt >= 2 ? 2 : 4);
    __m512 out[8];
    for (int t = 0; t < nt; t++) out[t] = _mm512_setzero_ps();
    for (int b = 0; b < nb; b++) {
        const uint8_t *sc = block_scales(format, group, nb, b), *q = block_quads(format, group, b);
        if (next) {  // the next group's block b, one group (6-17 KB) ahead (row_groups.h)
            long offset;
            const char *unit = (const char *)next, *end = unit + block_stream_bytes(format, nb, b, &offset) + offset;
            for (const char *at = unit + offset; at < end; at += 64) _mm_prefetch(at, _MM_HINT_T0);
            _mm_prefetch(end - 1, _MM_HINT_T0);
        }
        __m512i w[8];
        if (format == FORMAT_Q4_1) {
            const __m512i low = _mm512_set1_epi8(0x0f);
            for (int i = 0; i < 4; i++) {
                const __m512i raw = _mm512_load_si512((const void *)(q + 64 * i));
                w[i] = _mm512_and_si512(raw, low);
                w[i + 4] = _mm512_and_si512(_mm512_srli_epi16(raw, 4), low);
            }
        } else {
            for (int k = 0; k < 8; k++) w[k] = _mm512_load_si512((const void *)(q + 64 * k));
        }
        __m512i acc[8][4];
        for (int t = 0; t < nt; t++) {
            for (int c = 0; c < chains; c++) acc[t][c] = _mm512_setzero_si512();
            if (format == FORMAT_Q8_0) acc[t][0] = _mm512_set1_epi32(-128 * x->qsum[(long)t * nb + b]);
        }
        for (int k = 0; k < 8; k++)
            for (int t = 0; t < nt; t++) {
                const quad8 *q = (const quad8 *)(x->q8 + (long)t * cols + 32 * b + 4 * k);
                acc[t][k % chains] = _mm512_dpbusd_epi32(acc[t][k % chains], w[k], _mm512_set1_epi32(*q));
            }
        for (int t = 0; t < nt; t++) {
            const int o = x->outlier[(long)t * nb + b];
            if (o >= 0) {
                // Lane r: (w[r][o], 0) as an int16 pair, times (q_o, 0). The quad is read again
                // (from L1) rather than indexed in w[], which would keep w[] on the stack and
                // stall the loads behind the stores (measured: Q8_0 decode at half speed).
                const int k = o >> 2, j = o & 3;
                __m512i wo;
                if (format == FORMAT_Q4_1)
                    wo = _mm512_and_si512(_mm512_srlv_epi32(_mm512_load_si512((const void *)(q + 64 * (k & 3))),
                                                            _mm512_set1_epi32(8 * j + 4 * (k >> 2))),
                                          _mm512_set1_epi32(0x0f));
                else
                    wo = _mm512_and_si512(_mm512_srlv_epi32(_mm512_load_si512((const void *)(q + 64 * k)),
                                                            _mm512_set1_epi32(8 * j)),
                                          _mm512_set1_epi32(0xff));
                const uint16_t qo = (uint16_t)x->q16[(long)t * cols + 32 * b + o];
                acc[t][0] = _mm512_dpwssd_epi32(acc[t][0], wo, _mm512_set1_epi32(qo));
            }
        }
        const __m512 d = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)sc));
        const __m512 m = format == FORMAT_Q4_1 ? _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(sc + 32)))
                                               : _mm512_setzero_ps();
        for (int t = 0; t < nt; t++) {
            __m512i s = acc[t][0];
            for (int c = 1; c < chains; c++) s = _mm512_add_epi32(s, acc[t][c]);
            const __m512 scale = _mm512_mul_ps(d, _mm512_set1_ps(x->dx[(long)t * nb + b]));
            out[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), scale, out[t]);
            if (format == FORMAT_Q4_1) out[t] = _mm512_fmadd_ps(m, _mm512_set1_ps(x->sx[(long)t * nb + b]), out[t]);
        }
    }
    for (int t = 0; t < nt; t++) _mm512_mask_storeu_ps(y + (long)t * ldy, mask, out[t]);
    if (maxima) tile_maxima(maxima, out, nt, mask);
}

#define TILE(N) tile_vnni8(format, N, group, next, nb, x, cols, y, ldy, mask, maxima)
VNNI static void tile8_q4_1(int nt, const uint8_t *group, const uint8_t *next, int nb, const ad_q8x *x, int cols, float *y, long ldy,
                            __mmask16 mask, float *maxima) {
    const int format = FORMAT_Q4_1;  // a constant: each tile is specialised
    FOR_TILE_SIZE(nt, TILE)
}
VNNI static void tile8_q8_0(int nt, const uint8_t *group, const uint8_t *next, int nb, const ad_q8x *x, int cols, float *y, long ldy,
                            __mmask16 mask, float *maxima) {
    const int format = FORMAT_Q8_0;  // a constant: each tile is specialised
    FOR_TILE_SIZE(nt, TILE)
}
#undef TILE

/// One packed8 product: what its tiles need.
typedef struct {
    int format, nb, cols;
    long group_bytes, ldy;
    const uint8_t *packed;
    const ad_q8x *x;
    float *y;
    float *maxima;  // [tokens] or NULL
} job8;

static void tile8(const void *job, int g, int t0, int nt, int prefetch_next, uint16_t mask) {
    const job8 *j = (const job8 *)job;
    const ad_q8x *x = j->x;
    const long at = (long)t0 * j->cols, blocks = (long)t0 * j->nb;
    const ad_q8x sub = {x->q16 + at, x->q8 + at, x->dx + blocks, x->sx + blocks, x->outlier + blocks, x->qsum + blocks};
    const uint8_t *group = j->packed + g * j->group_bytes, *next = prefetch_next ? group + j->group_bytes : NULL;
    float *out = j->y + (long)t0 * j->ldy + 16 * g, *maxima = j->maxima ? j->maxima + t0 : NULL;
    if (j->format == FORMAT_Q4_1) tile8_q4_1(nt, group, next, j->nb, &sub, j->cols, out, j->ldy, mask, maxima);
    else tile8_q8_0(nt, group, next, j->nb, &sub, j->cols, out, j->ldy, mask, maxima);
}

static void gemm_packed8_vnni(int format, const uint8_t *packed, int cols, int r0, int r1, const ad_q8x *x,
                              int tokens, float *y, long ldy, float *maxima) {
    const job8 job = {format, cols / 32, cols, group_bytes(format, cols / 32), ldy, packed, x, y, maxima};
    for_each_row_group_tile(r0, r1, tokens, &job, tile8);
}

/// The same rule as quantize_q8x_portable, 32 values in two vectors: the same integers, scales
/// and outliers (the float sums may differ in their last bits: another summation order).
VNNI static void quantize_q8x_avx512(const float *x, int n, int16_t *q16, int8_t *q8, float *dx, float *sx,
                                     int8_t *outlier, int32_t *qsum) {
    for (int b = 0; b < n / 32; b++) {
        const __m512 v0 = _mm512_loadu_ps(x + 32 * b), v1 = _mm512_loadu_ps(x + 32 * b + 16);
        const __m512 a0 = _mm512_abs_ps(v0), a1 = _mm512_abs_ps(v1);
        const float top1 = _mm512_reduce_max_ps(_mm512_max_ps(a0, a1));
        const __m512 t1 = _mm512_set1_ps(top1);
        const uint32_t eq = (uint32_t)_mm512_cmpeq_ps_mask(a0, t1) | ((uint32_t)_mm512_cmpeq_ps_mask(a1, t1) << 16);
        const int at = eq ? __builtin_ctz(eq) : 0;
        // The largest value's lane zeroed (a tie keeps its twin, so top2 = top1 then).
        const __mmask16 keep0 = at < 16 ? (__mmask16)~(1u << at) : 0xffff;
        const __mmask16 keep1 = at >= 16 ? (__mmask16)~(1u << (at - 16)) : 0xffff;
        const float top2 = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_maskz_mov_ps(keep0, a0), _mm512_maskz_mov_ps(keep1, a1)));
        const int flagged = top1 > 1.5f * top2;
        float d = (flagged ? top2 : top1) / 127.0f;
        if (top1 / 32767.0f > d) d = top1 / 32767.0f;
        const float id = d > 0 ? 1 / d : 0;
        const __m512i i0 = _mm512_cvtps_epi32(_mm512_mul_ps(v0, _mm512_set1_ps(id)));
        const __m512i i1 = _mm512_cvtps_epi32(_mm512_mul_ps(v1, _mm512_set1_ps(id)));
        _mm256_storeu_si256((__m256i *)(q16 + 32 * b), _mm512_cvtepi32_epi16(i0));
        _mm256_storeu_si256((__m256i *)(q16 + 32 * b + 16), _mm512_cvtepi32_epi16(i1));
        const __mmask16 k0 = flagged ? keep0 : 0xffff, k1 = flagged ? keep1 : 0xffff;
        _mm_storeu_si128((__m128i *)(q8 + 32 * b), _mm512_cvtepi32_epi8(_mm512_maskz_mov_epi32(k0, i0)));
        _mm_storeu_si128((__m128i *)(q8 + 32 * b + 16), _mm512_cvtepi32_epi8(_mm512_maskz_mov_epi32(k1, i1)));
        dx[b] = d;
        sx[b] = _mm512_reduce_add_ps(_mm512_add_ps(v0, v1));
        outlier[b] = (int8_t)(flagged ? at : -1);
        qsum[b] = _mm512_reduce_add_epi32(_mm512_add_epi32(i0, i1));
    }
}
#endif

void ad_quantize_q8x(const float *x, int n, int16_t *q16, int8_t *q8, float *dx, float *sx,
                     int8_t *outlier, int32_t *qsum) {
#if defined(__x86_64__)
    if (ad_kernels_have_vnni() && !ad_kernels_portable_forced()) {
        quantize_q8x_avx512(x, n, q16, q8, dx, sx, outlier, qsum);
        return;
    }
#endif
    quantize_q8x_portable(x, n, q16, q8, dx, sx, outlier, qsum);
}

void ad_gemm_packed8(int format, const void *packed, int cols, int r0, int r1, const ad_q8x *x, int tokens,
                     float *y, long ldy, float *maxima) {
#if defined(__x86_64__)
    if (ad_kernels_have_vnni() && !ad_kernels_portable_forced()) {
        gemm_packed8_vnni(format, (const uint8_t *)packed, cols, r0, r1, x, tokens, y, ldy, maxima);
        return;
    }
#endif
    gemm_packed8_portable(format, (const uint8_t *)packed, cols, r0, r1, x, tokens, y, ldy);
    if (maxima) ad_rows_maxima(y, ldy, r0, r1, tokens, maxima);
}
