// Weights repacked 16 rows at a time for AVX-512 VNNI, and the matrix product over them.
//
// Why repack: in the GGUF layout one block of one row is a dot product whose 32 products must be
// summed across the vector's lanes before its scale applies, so every block and token pays for a
// horizontal reduction (~8 instructions per 32 multiply-adds in q16.c). Here a vector lane is a
// row: lane r of `vpdpwssd` accumulates w[r][2k] * x[2k] + w[r][2k + 1] * x[2k + 1] with the
// activation pair broadcast from memory, so 16 instructions finish a block for 16 rows, the
// per-block scale is one vector multiply-add for 16 rows, and nothing is ever reduced across
// lanes. Each unpacked weight vector is reused for up to 8 tokens from registers.
//
// A unit is (16-row group, 32-column block); units are stored group by group, block by block:
//   Q4_1 unit (320 bytes): d[16] f16, m[16] f16, q[256]: for chunk c in 0..<8, byte 2r + j holds
//        w[r][2c + j] in its low nibble and w[r][16 + 2c + j] in its high nibble.
//   Q8_0 unit (544 bytes): d[16] f16, q[512]: for pair k in 0..<16, byte 32k + 2r + j = w[r][2k + j].
// Same size as the GGUF blocks. Rows past the end of the matrix are zero.
#include "CKernels.h"
#include "half.h"
#include "row_groups.h"
#include <math.h>
#include <string.h>

static long unit_bytes(int format) { return format == FORMAT_Q4_1 ? 320 : 544; }

long ad_packed16_bytes(int format, int rows, int cols) {
    return (long)((rows + 15) / 16) * (cols / 32) * unit_bytes(format);
}

void ad_pack16(int format, const void *w, long row_bytes, int rows, int cols, int g0, int g1, void *packed) {
    const int nb = cols / 32;
    const long ub = unit_bytes(format), gguf_block = gguf_block_bytes(format);
    for (int g = g0; g < g1; g++) {
        for (int b = 0; b < nb; b++) {
            uint8_t *u = (uint8_t *)packed + ((long)g * nb + b) * ub;
            memset(u, 0, (size_t)ub);
            for (int r = 0; r < 16 && 16 * g + r < rows; r++) {
                const uint8_t *blk = (const uint8_t *)w + (long)(16 * g + r) * row_bytes + b * gguf_block;
                memcpy(u + 2 * r, blk, 2);  // d
                if (format == FORMAT_Q4_1) {
                    memcpy(u + 32 + 2 * r, blk + 2, 2);  // m
                    for (int v = 0; v < 32; v++) {
                        const uint8_t q = (uint8_t)gguf_block_value(format, blk, v);
                        int k = v / 2, i = 2 * r + v % 2;
                        if (k < 8) u[64 + 32 * k + i] |= q;
                        else u[64 + 32 * (k - 8) + i] |= (uint8_t)(q << 4);
                    }
                } else {
                    for (int v = 0; v < 32; v++) u[32 + 32 * (v / 2) + 2 * r + v % 2] = (uint8_t)gguf_block_value(format, blk, v);
                }
            }
        }
    }
}


// MARK: - portable (the same arithmetic as the VNNI path, lane by lane: bit-identical results)

static void gemm_packed16_portable(int format, const uint8_t *packed, int cols, int r0, int r1,
                                   const int16_t *qx, const float *dx, const float *sx, int tokens,
                                   float *y, long ldy) {
    const int nb = cols / 32;
    const long ub = unit_bytes(format);
    for (int t = 0; t < tokens; t++) {
        for (int row = r0; row < r1; row++) {
            const int g = row / 16, r = row % 16;
            float acc = 0;
            for (int b = 0; b < nb; b++) {
                const uint8_t *u = packed + ((long)g * nb + b) * ub;
                const int16_t *x = qx + (long)t * cols + 32 * b;
                int32_t s = 0;
                for (int v = 0; v < 32; v++) {
                    int k = v / 2, i = 2 * r + v % 2, q;
                    if (format == FORMAT_Q4_1) q = k < 8 ? (u[64 + 32 * k + i] & 0x0f) : (u[64 + 32 * (k - 8) + i] >> 4);
                    else q = (int8_t)u[32 + 32 * k + i];
                    s += q * x[v];
                }
                acc = accumulate_block(format, acc, s, u + 2 * r, u + 32 + 2 * r, dx[(long)t * nb + b], sx[(long)t * nb + b]);
            }
            y[(long)t * ldy + row] = acc;
        }
    }
}

// MARK: - AVX-512 VNNI

#if defined(__x86_64__)

/// An activation pair (x[2k], x[2k + 1]) read as one 32-bit word for the broadcast.
typedef int32_t pair16 __attribute__((may_alias, aligned(2)));

/// One 16-row group times nt tokens (nt and format constant after inlining: the arrays below
/// become registers). acc chains: 4 per token for one token, else 2, so that at least four
/// independent `vpdpwssd` chains hide its latency (one chain per token for four or more tokens
/// was 7-9% slower for 8-token tiles on Zen 5: 8 chains of 16 dependent instructions a block).
VNNI static ALWAYS_INLINE void tile_vnni(int format, int nt, const uint8_t *units, const uint8_t *next, int nb,
                                         const int16_t *qx, const float *dx, const float *sx, int cols,
                                         float *y, long ldy, __mmask16 mask, float *maxima) {
    const int chains = nt >= 2 ? 2 : 4;
    const long ub = unit_bytes(format);
    __m512 out[8];
    for (int t = 0; t < nt; t++) out[t] = _mm512_setzero_ps();
    for (int b = 0; b < nb; b++) {
        const uint8_t *u = units + b * ub;
        if (next) {  // the next group's unit b, one group ahead (row_groups.h)
            const char *n = (const char *)(next + b * ub);
            for (long at = 0; at < ub; at += 64) _mm_prefetch(n + at, _MM_HINT_T0);
            _mm_prefetch(n + ub - 1, _MM_HINT_T0);
        }
        const pair16 *x[8];
        for (int t = 0; t < nt; t++) x[t] = (const pair16 *)(qx + (long)t * cols + 32 * b);
        __m512i acc[8][4];
        for (int t = 0; t < nt; t++)
            for (int c = 0; c < chains; c++) acc[t][c] = _mm512_setzero_si512();
        if (format == FORMAT_Q4_1) {
#pragma clang loop unroll(full)
            for (int c = 0; c < 8; c++) {
                const __m512i raw = _mm512_cvtepu8_epi16(_mm256_loadu_si256((const __m256i *)(u + 64 + 32 * c)));
                const __m512i lo = _mm512_and_si512(raw, _mm512_set1_epi16(0x0f));
                const __m512i hi = _mm512_srli_epi16(raw, 4);
                for (int t = 0; t < nt; t++) {
                    acc[t][c % chains] = _mm512_dpwssd_epi32(acc[t][c % chains], lo, _mm512_set1_epi32(x[t][c]));
                    acc[t][(c + 1) % chains] = _mm512_dpwssd_epi32(acc[t][(c + 1) % chains], hi, _mm512_set1_epi32(x[t][c + 8]));
                }
            }
        } else {
#pragma clang loop unroll(full)
            for (int k = 0; k < 16; k++) {
                const __m512i wk = _mm512_cvtepi8_epi16(_mm256_loadu_si256((const __m256i *)(u + 32 + 32 * k)));
                for (int t = 0; t < nt; t++)
                    acc[t][k % chains] = _mm512_dpwssd_epi32(acc[t][k % chains], wk, _mm512_set1_epi32(x[t][k]));
            }
        }
        const __m512 d = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)u));
        const __m512 m = format == FORMAT_Q4_1 ? _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(u + 32)))
                                               : _mm512_setzero_ps();
        for (int t = 0; t < nt; t++) {
            __m512i s = acc[t][0];
            for (int c = 1; c < chains; c++) s = _mm512_add_epi32(s, acc[t][c]);
            const __m512 scale = _mm512_mul_ps(d, _mm512_set1_ps(dx[(long)t * nb + b]));
            out[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), scale, out[t]);
            if (format == FORMAT_Q4_1) out[t] = _mm512_fmadd_ps(m, _mm512_set1_ps(sx[(long)t * nb + b]), out[t]);
        }
    }
    for (int t = 0; t < nt; t++) _mm512_mask_storeu_ps(y + (long)t * ldy, mask, out[t]);
    if (maxima) tile_maxima(maxima, out, nt, mask);
}

#define TILE(N) tile_vnni(format, N, units, next, nb, qx, dx, sx, cols, y, ldy, mask, maxima)
VNNI static void tile_q4_1(int nt, const uint8_t *units, const uint8_t *next, int nb, const int16_t *qx, const float *dx, const float *sx,
                           int cols, float *y, long ldy, __mmask16 mask, float *maxima) {
    const int format = FORMAT_Q4_1;  // a constant: each tile is specialised
    FOR_TILE_SIZE(nt, TILE)
}
VNNI static void tile_q8_0(int nt, const uint8_t *units, const uint8_t *next, int nb, const int16_t *qx, const float *dx, const float *sx,
                           int cols, float *y, long ldy, __mmask16 mask, float *maxima) {
    const int format = FORMAT_Q8_0;  // a constant: each tile is specialised
    FOR_TILE_SIZE(nt, TILE)
}
#undef TILE

/// One packed16 product: what its tiles need.
typedef struct {
    int format, nb, cols;
    long group_bytes, ldy;
    const uint8_t *packed;
    const int16_t *qx;
    const float *dx, *sx;
    float *y;
    float *maxima;  // [tokens] or NULL
} job16;

static void tile16(const void *job, int g, int t0, int nt, int prefetch_next, uint16_t mask) {
    const job16 *j = (const job16 *)job;
    const uint8_t *units = j->packed + g * j->group_bytes, *next = prefetch_next ? units + j->group_bytes : NULL;
    const int16_t *q = j->qx + (long)t0 * j->cols;
    const float *dx = j->dx + (long)t0 * j->nb, *sx = j->sx + (long)t0 * j->nb;
    float *out = j->y + (long)t0 * j->ldy + 16 * g, *maxima = j->maxima ? j->maxima + t0 : NULL;
    if (j->format == FORMAT_Q4_1) tile_q4_1(nt, units, next, j->nb, q, dx, sx, j->cols, out, j->ldy, mask, maxima);
    else tile_q8_0(nt, units, next, j->nb, q, dx, sx, j->cols, out, j->ldy, mask, maxima);
}

static void gemm_packed16_vnni(int format, const uint8_t *packed, int cols, int r0, int r1,
                               const int16_t *qx, const float *dx, const float *sx, int tokens, float *y, long ldy,
                               float *maxima) {
    const job16 job = {format, cols / 32, cols, cols / 32 * unit_bytes(format), ldy, packed, qx, dx, sx, y, maxima};
    for_each_row_group_tile(r0, r1, tokens, &job, tile16);
}

static int cpu_has_vnni = -1;
int ad_kernels_have_vnni(void) {
    if (cpu_has_vnni < 0) {
        __builtin_cpu_init();
        cpu_has_vnni = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw")
            && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni")
            && __builtin_cpu_supports("f16c") && __builtin_cpu_supports("fma");
    }
    return cpu_has_vnni;
}
#else
int ad_kernels_have_vnni(void) { return 0; }
#endif

void ad_gemm_packed16(int format, const void *packed, int cols, int r0, int r1,
                      const int16_t *qx, const float *dx, const float *sx, int tokens, float *y, long ldy,
                      float *maxima) {
#if defined(__x86_64__)
    if (ad_kernels_have_vnni() && !ad_kernels_portable_forced()) {
        gemm_packed16_vnni(format, (const uint8_t *)packed, cols, r0, r1, qx, dx, sx, tokens, y, ldy, maxima);
        return;
    }
#endif
    gemm_packed16_portable(format, (const uint8_t *)packed, cols, r0, r1, qx, dx, sx, tokens, y, ldy);
    if (maxima) ad_rows_maxima(y, ldy, r0, r1, tokens, maxima);
}
