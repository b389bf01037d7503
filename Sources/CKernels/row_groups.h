// What the packed kernels (packed16.c, packed8.c) share: their AVX-512 VNNI target, the
// dispatch of a tile's token count, and how they walk a matrix product over 16-row packed
// weights: token chunks of 64 keep their activations in L2 while every row group passes; within
// a chunk, a group's weights (<= 16 KB for 1536 columns) stay in L1 across its tiles of up to 8
// tokens. The first tile of a group prefetches the next group: batches are bound by
// instructions, and waiting for the first tile's weights cost a quarter of the speed (measured);
// one token, bound by memory, decodes 18-20% faster with it on a Zen 5 instance, four sequences
// 12-17% (the hardware prefetcher alone leaves gaps in the stream; docs/performance.md, item 18).
#ifndef AUTODECO_ROW_GROUPS_H
#define AUTODECO_ROW_GROUPS_H
#include <stdint.h>

#if defined(__x86_64__)
#include <immintrin.h>
/// The packed kernels' vector code (ad_kernels_have_vnni checks for exactly these features).
#define VNNI __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,f16c,fma")))
#define ALWAYS_INLINE inline __attribute__((always_inline))

/// maxima[t] = max(maxima[t], the lanes of out[t] in `mask`) for a tile's nt tokens, from the
/// registers before the store (a pass over the stored outputs, reading each back right after
/// its vector store, made the LM head 12-20% slower: 16 narrow loads behind one wide store).
/// NaN never wins against a number already there.
VNNI static ALWAYS_INLINE void tile_maxima(float *maxima, const __m512 *out, int nt, __mmask16 mask) {
    for (int t = 0; t < nt; t++) {
        const float m = _mm512_mask_reduce_max_ps(mask, out[t]);
        if (m > maxima[t]) maxima[t] = m;
    }
}
#endif

/// Calls TILE(n) for the tile's token count n = nt (1 ... 8) as a constant, so that an
/// always-inline tile is compiled once per count and its per-token arrays become registers.
#define FOR_TILE_SIZE(nt, TILE)                 \
    switch (nt) {                               \
    case 1: TILE(1); break;                     \
    case 2: TILE(2); break;                     \
    case 3: TILE(3); break;                     \
    case 4: TILE(4); break;                     \
    case 5: TILE(5); break;                     \
    case 6: TILE(6); break;                     \
    case 7: TILE(7); break;                     \
    default: TILE(8); break;                    \
    }

/// One tile: rows 16 g + i for the bits i of `mask` (those inside the product's row range),
/// tokens t0 ..< t0 + nt; `prefetch_next` asks it to fetch the next group's weights.
typedef void (*row_group_tile)(const void *job, int g, int t0, int nt, int prefetch_next, uint16_t mask);

/// Calls `tile` for every tile of rows r0 ..< r1 and tokens 0 ..< tokens.
static inline void for_each_row_group_tile(int r0, int r1, int tokens, const void *job, row_group_tile tile) {
    const int g1 = (r1 + 15) / 16;
    for (int c0 = 0; c0 < tokens; c0 += 64) {
        const int c1 = tokens - c0 < 64 ? tokens : c0 + 64;
        for (int g = r0 / 16; g < g1; g++) {
            const int lo = r0 > 16 * g ? r0 - 16 * g : 0, hi = r1 < 16 * g + 16 ? r1 - 16 * g : 16;
            const uint16_t mask = (uint16_t)(((1u << hi) - 1) & ~((1u << lo) - 1));
            for (int t0 = c0; t0 < c1; t0 += 8)
                tile(job, g, t0, c1 - t0 < 8 ? c1 - t0 : 8, t0 == c0 && g + 1 < g1, mask);
        }
    }
}

#endif
