// Innermost int8 dot-product loops, in C because Swift cannot emit them (see
// docs/performance.md: the u8 x s8 multiply-add with pairwise sums, vpmaddubsw, has no
// Swift spelling; the closest Swift code vectorises to 3-4x more instructions per block).
//
// Activations are rounded to 8 bits per 32-value block ("Q8 activations", as llama.cpp
// does): x[i] ~= qx[i] * dx[b], with sx[b] = the exact float sum of the block (for the Q4_1
// offset term). Weights stay in their GGUF block layout.
#ifndef AUTODECO_CKERNELS_H
#define AUTODECO_CKERNELS_H
#include <stdint.h>

/// Rounds n floats (n a multiple of 32) to int8 per 32-block: qx, scales dx[n/32], sums sx[n/32].
void ad_quantize_q8(const float *x, int n, int8_t *qx, float *dx, float *sx);

/// y[t * ldy + r] = dot(W[r], X[t]) for rows r0 ..< r1 and tokens 0 ..< tokens, where W is
/// Q4_1 (format 1) or Q8_0 (format 2) with `row_bytes` per row, X is Q8 activations with
/// `cols` values per token (qx row stride cols, dx/sx row stride cols/32).
void ad_gemm_q8(int format, const void *w, long row_bytes, int cols, int r0, int r1,
                const int8_t *qx, const float *dx, const float *sx, int tokens,
                float *y, long ldy);

/// 1 when the AVX2 kernels run on this CPU, 0 when the portable ones do.
int ad_kernels_use_avx2(void);

/// Forces the portable kernels (for tests comparing both paths); returns the previous setting.
int ad_kernels_force_portable(int on);

#endif
