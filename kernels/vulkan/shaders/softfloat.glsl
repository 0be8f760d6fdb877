// IEEE 754 binary32 arithmetic on the bits, in integer instructions only.
//
// WHY: the canonical bytes of a quantizer are the spec's f32 formulas
// evaluated with IEEE round-to-nearest-even, subnormals and all.  Vulkan
// promises less: division within 2.5 ulp, sqrt only as 1/inversesqrt,
// subnormals that may be flushed (lavapipe flushes them), fma contraction
// unless `precise`.  Quantizers therefore compute every f32 operation that
// decides a stored bit here, from the definition: exact result, then one
// rounding.  Values are carried as uint bits; NaN propagation follows x86
// SSE (the first NaN operand, quieted), though the oracle does not judge
// blocks with non-finite inputs.

const uint SF_SIGN = 0x80000000u;
const uint SF_ABS = 0x7fffffffu;
const uint SF_INF = 0x7f800000u;
const uint SF_DEFAULT_NAN = 0xffc00000u; // x86's "real indefinite"

bool sf_isnan(uint a) { return (a & SF_ABS) > SF_INF; }
bool sf_isinf(uint a) { return (a & SF_ABS) == SF_INF; }
bool sf_iszero(uint a) { return (a & SF_ABS) == 0u; }
uint sf_nan2(uint a, uint b) { return (sf_isnan(a) ? a : b) | 0x00400000u; }

// |a| = m * 2^(e - 150), m < 2^24 (implicit bit included; e = 1 for subnormals)
void sf_unpack(uint a, out int e, out uint m)
{
    uint ef = (a >> 23) & 0xffu;
    m = (a & 0x7fffffu) | (ef != 0u ? 0x800000u : 0u);
    e = ef != 0u ? int(ef) : 1;
}

// The binary32 nearest to m * 2^x (ties to even), with sign.  m may carry a
// sticky bit ORed into bit 0; callers keep it at least two bits below the
// rounding position, so it can break ties but never make one.
uint sf_round(uint sign, int x, uint m)
{
    if (m == 0u)
        return sign;
    int p = findMSB(m);
    int sh = max(p - 23, -149 - x); // bits to drop: keep 24, or stop at the subnormal ulp 2^-149
    uint q;
    if (sh <= 0) {
        q = m << uint(-sh);
    } else if (sh > 32) {
        q = 0u; // below half the smallest subnormal
    } else {
        uint kept = sh == 32 ? 0u : m >> uint(sh);
        uint rem = sh == 32 ? m : m & ((1u << uint(sh)) - 1u);
        uint hlf = 1u << uint(sh - 1);
        q = kept + ((rem > hlf || (rem == hlf && (kept & 1u) != 0u)) ? 1u : 0u);
    }
    int xe = x + sh; // value = q * 2^xe
    if (q >= 0x1000000u) { // the rounding carried into a new binade
        q >>= 1;
        xe += 1;
    }
    if (q < 0x800000u)
        return sign | q; // subnormal (xe is -149); a carry to 2^23 is the smallest normal
    int be = xe + 150;
    if (be >= 255)
        return sign | SF_INF;
    return sign | (uint(be) << 23) | (q & 0x7fffffu);
}

uint sf_mul(uint a, uint b)
{
    uint sign = (a ^ b) & SF_SIGN;
    if (sf_isnan(a) || sf_isnan(b))
        return sf_nan2(a, b);
    if (sf_isinf(a) || sf_isinf(b))
        return (sf_iszero(a) || sf_iszero(b)) ? SF_DEFAULT_NAN : (sign | SF_INF);
    if (sf_iszero(a) || sf_iszero(b))
        return sign;
    int ea, eb;
    uint ma, mb, hi, lo;
    sf_unpack(a, ea, ma);
    sf_unpack(b, eb, mb);
    umulExtended(ma, mb, hi, lo); // the exact 48-bit product
    int x = ea + eb - 300;
    uint m = lo;
    if (hi != 0u) {
        int s = findMSB(hi) + 1; // fold to 32 bits, the lost bits as a sticky bit
        m = (hi << uint(32 - s)) | (lo >> uint(s)) | ((lo & ((1u << uint(s)) - 1u)) != 0u ? 1u : 0u);
        x += s;
    }
    return sf_round(sign, x, m);
}

uint sf_add(uint a, uint b)
{
    if (sf_isnan(a) || sf_isnan(b))
        return sf_nan2(a, b);
    if (sf_isinf(a))
        return (sf_isinf(b) && ((a ^ b) & SF_SIGN) != 0u) ? SF_DEFAULT_NAN : a;
    if (sf_isinf(b))
        return b;
    if (sf_iszero(a))
        return sf_iszero(b) ? (a & b) : b; // -0 + -0 = -0, otherwise +0
    if (sf_iszero(b))
        return a;
    if ((a & SF_ABS) < (b & SF_ABS)) { // |a| >= |b| from here on
        uint t = a;
        a = b;
        b = t;
    }
    int ea, eb;
    uint ma, mb;
    sf_unpack(a, ea, ma);
    sf_unpack(b, eb, mb);
    ma <<= 6; // six guard bits; the sum stays below 2^31
    mb <<= 6;
    int d = ea - eb;
    if (d >= 32)
        mb = 1u; // entirely below the guard bits: only its stickiness counts
    else if (d > 0)
        mb = (mb >> uint(d)) | ((mb & ((1u << uint(d)) - 1u)) != 0u ? 1u : 0u);
    uint m = ((a ^ b) & SF_SIGN) == 0u ? ma + mb : ma - mb;
    if (m == 0u)
        return 0u; // exact cancellation gives +0 when rounding to nearest
    return sf_round(a & SF_SIGN, ea - 156, m);
}

uint sf_sub(uint a, uint b) { return sf_add(a, sf_isnan(b) ? b : b ^ SF_SIGN); }

uint sf_div(uint a, uint b)
{
    uint sign = (a ^ b) & SF_SIGN;
    if (sf_isnan(a) || sf_isnan(b))
        return sf_nan2(a, b);
    if (sf_isinf(a))
        return sf_isinf(b) ? SF_DEFAULT_NAN : (sign | SF_INF);
    if (sf_isinf(b))
        return sign;
    if (sf_iszero(b))
        return sf_iszero(a) ? SF_DEFAULT_NAN : (sign | SF_INF);
    if (sf_iszero(a))
        return sign;
    int ea, eb;
    uint ma, mb;
    sf_unpack(a, ea, ma);
    sf_unpack(b, eb, mb);
    int pa = 23 - findMSB(ma), pb = 23 - findMSB(mb); // normalize both to [2^23, 2^24)
    ma <<= uint(pa);
    mb <<= uint(pb);
    ea -= pa;
    eb -= pb;
    // restoring division: q = floor(ma / mb * 2^26), 26 or 27 bits
    uint r = ma, q = 0u;
    [[dont_unroll]] for (int i = 0; i < 27; i++) {
        q <<= 1;
        if (r >= mb) {
            r -= mb;
            q |= 1u;
        }
        r <<= 1;
    }
    return sf_round(sign, ea - eb - 27, (q << 1) | (r != 0u ? 1u : 0u));
}

uint sf_sqrt(uint a)
{
    if (sf_isnan(a))
        return a | 0x00400000u;
    if (sf_iszero(a))
        return a;
    if ((a & SF_SIGN) != 0u)
        return SF_DEFAULT_NAN;
    if (sf_isinf(a))
        return a;
    int e;
    uint m;
    sf_unpack(a, e, m);
    int p = 23 - findMSB(m);
    m <<= uint(p);
    int x = e - p - 150; // a = m * 2^x, m in [2^23, 2^24)
    if ((x & 1) != 0) {
        m <<= 1;
        x -= 1;
    }
    // digit-by-digit square root of X = m * 2^28 (bits 52..0), two bits a step
    uint root = 0u, rem = 0u;
    [[dont_unroll]] for (int i = 0; i < 27; i++) {
        int bit = 53 - 2 * i;
        uint hib = bit >= 28 ? (m >> uint(bit - 28)) & 1u : 0u;
        uint lob = bit - 1 >= 28 ? (m >> uint(bit - 29)) & 1u : 0u;
        rem = (rem << 2) | (hib << 1) | lob;
        uint t = (root << 2) | 1u;
        root <<= 1;
        if (rem >= t) {
            rem -= t;
            root |= 1u;
        }
    }
    return sf_round(0u, (x - 28) / 2 - 1, (root << 1) | (rem != 0u ? 1u : 0u));
}

// Ordered comparisons (false when either is NaN; -0 equals +0).
int sf_key(uint a) { return (a & SF_SIGN) != 0u ? -int(a & SF_ABS) : int(a); }
bool sf_lt(uint a, uint b) { return !sf_isnan(a) && !sf_isnan(b) && sf_key(a) < sf_key(b); }
bool sf_le(uint a, uint b) { return !sf_isnan(a) && !sf_isnan(b) && sf_key(a) <= sf_key(b); }
bool sf_gt(uint a, uint b) { return sf_lt(b, a); }
bool sf_ge(uint a, uint b) { return sf_le(b, a); }

// The low byte of (int32)v as x86 converts (truncation; NaN and |v| >= 2^31
// give the "integer indefinite" 0x80000000, whose low byte is 0): what
// ggml's (int8_t)v and (uint8_t)v store.
uint sf_trunc_byte(uint a)
{
    if (sf_isnan(a) || (a & SF_ABS) >= 0x4f000000u)
        return 0u;
    int e;
    uint m;
    sf_unpack(a, e, m);
    int sh = 150 - e;
    uint ip = sh <= 0 ? m << uint(-sh) : (sh >= 32 ? 0u : m >> uint(sh));
    int v = (a & SF_SIGN) != 0u ? -int(ip) : int(ip);
    return uint(v) & 0xffu;
}

// roundf (half away from zero), then the low byte as above.
uint sf_roundf_byte(uint a)
{
    if (sf_isnan(a) || (a & SF_ABS) >= 0x4f000000u)
        return 0u;
    int e;
    uint m;
    sf_unpack(a, e, m);
    int sh = 150 - e;
    uint ip;
    if (sh <= 0)
        ip = m << uint(-sh);
    else if (sh > 24)
        ip = 0u; // |v| < 1/2
    else
        ip = (m >> uint(sh)) + ((m & ((1u << uint(sh)) - 1u)) >= (1u << uint(sh - 1)) ? 1u : 0u);
    int v = (a & SF_SIGN) != 0u ? -int(ip) : int(ip);
    return uint(v) & 0xffu;
}

// sign-extend a byte
int sf_i8(uint byte) { return int(byte) - (byte >= 128u ? 256 : 0); }

// small integers are exact in binary32; the conversion has no rounding
uint sf_from_int(int i) { return floatBitsToUint(float(i)); }
