// What q16.c, packed16.c and packed8.c share about GGUF blocks: the format codes, a block's
// bytes and stored values, IEEE half to float, exactly (subnormals, infinities and NaNs
// included), the portable loops' conversion of the f16 block scales, and how the packed portable
// loops apply them.
#ifndef AUTODECO_HALF_H
#define AUTODECO_HALF_H
#include <stdint.h>
#include <string.h>
#include <math.h>

enum { FORMAT_Q4_1 = 1, FORMAT_Q8_0 = 2 };

/// Bytes of one 32-value GGUF block: Q4_1 f16 scale + f16 min + 16 nibble bytes; Q8_0 f16 scale + 32 bytes.
static inline int gguf_block_bytes(int format) { return format == FORMAT_Q4_1 ? 20 : 34; }

/// Value v (0 ..< 32) of a GGUF block as stored: Q4_1's nibble (0 ... 15; values 0-15 in the
/// low nibbles of bytes 4-19, 16-31 in their high nibbles), Q8_0's signed byte.
static inline int gguf_block_value(int format, const uint8_t *blk, int v) {
    if (format == FORMAT_Q4_1) return v < 16 ? (blk[4 + v] & 0x0f) : (blk[4 + v - 16] >> 4);
    return (int8_t)blk[2 + v];
}

static inline uint16_t load_u16(const uint8_t *p) { uint16_t v; memcpy(&v, p, 2); return v; }

static inline float f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, mant = h & 0x3ff, bits;
    if (exp == 0) {
        if (mant == 0) { bits = sign; }
        else {  // subnormal: normalise
            int e = -1;
            do { e++; mant <<= 1; } while (!(mant & 0x400));
            bits = sign | ((uint32_t)(127 - 15 - e) << 23) | ((mant & 0x3ff) << 13);
        }
    } else if (exp == 31) { bits = sign | 0x7f800000 | (mant << 13); }
    else { bits = sign | ((exp + 127 - 15) << 23) | (mant << 13); }
    float f; memcpy(&f, &bits, 4); return f;
}

/// A block's integer dot product s into a portable loop's accumulator: scale d_w * d_x, then
/// Q4_1's offset term m_w * (exact block sum of x). The VNNI kernels do the same two fmas per
/// lane in this order, which is what keeps their results bit-identical to the portable loops'.
static inline float accumulate_block(int format, float acc, int32_t s, const uint8_t *scale, const uint8_t *min,
                                     float dx, float sx) {
    acc = fmaf((float)s, f16_to_f32(load_u16(scale)) * dx, acc);
    return format == FORMAT_Q4_1 ? fmaf(f16_to_f32(load_u16(min)), sx, acc) : acc;
}

#endif
