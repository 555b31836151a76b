/* fastact: the float32 gelu loops of the AVX-512 builds (included by _kernels.pyx).
 *
 * gelu, gelu' and gelu's backward over contiguous arrays, 16 lanes at a time, then one
 * masked step for the tail: the operations of vmath.h's fa_gelu_f32 and
 * fa_gelu_derivative_f32 (R from the interval table) in the same order, so the same bits
 * as the scalar formulas every other path runs.  Two differences in how, not what: the
 * coefficients of 16 intervals come from a two-register permute (the scalar code loads
 * them; a vectorized load would be a gather), and 2^k is applied by vscalefps, which gives
 * fa__mul_exp_neg_half_f32's value (its scaled product is normal, so rounding it commutes
 * with the scaling, and the last step rounds once in both).
 * FA_GELU_VECTOR_LOOPS is 1 where these loops exist (else 0, and the names are null).
 */
#ifndef FASTACT_GELU_AVX512_H
#define FASTACT_GELU_AVX512_H

#include "vmath.h"

#if FA_NORMCDF_BY_TABLE
#include <immintrin.h>

#define FA_GELU_VECTOR_LOOPS 1
#define FA__SET1(v) _mm512_set1_ps(v)

/* the table's coefficient j of the lanes' intervals (the low 5 bits of idx) */
FA_INLINE __m512 fa__table_coef_x16(int j, __m512i idx) {
    const float *row = fa__normcdf_table_f32 + j * FA_NORMCDF_TABLE_ENTRIES;
    return _mm512_permutex2var_ps(_mm512_load_ps(row), idx, _mm512_load_ps(row + 16));
}

/* fa__gelu_parts_f32 on 16 lanes: *xr = copysign(y, x) R(y), y^2 = *p + *lo; returns
 * y/sqrt(2 pi) - R(y) */
FA_INLINE __m512 fa__gelu_parts_x16(__m512 x, __m512 *xr, __m512 *p, __m512 *lo) {
    const __m512i sign = _mm512_set1_epi32((int)0x80000000u);
    __m512i xb = _mm512_castps_si512(x);
    __m512i yb = _mm512_min_epu32(_mm512_andnot_si512(sign, xb),
                                  _mm512_set1_epi32((int)fa_bits_f32(FA_NORMCDF_ARG_MAX_F32)));
    __m512 y = _mm512_castsi512_ps(yb);
    __m512 t = _mm512_fmadd_ps(y, FA__SET1(FA_NORMCDF_TABLE_INV_STEP_F32),
                               FA__SET1(FA_ROUND_SHIFT_F32));
    __m512 s = _mm512_fmadd_ps(_mm512_sub_ps(t, FA__SET1(FA_ROUND_SHIFT_F32)),
                               FA__SET1(-FA_NORMCDF_TABLE_STEP_F32), y);
    __m512i idx = _mm512_castps_si512(t);
    __m512 r = fa__table_coef_x16(0, idx);
    FA_UNROLL
    for (int j = 1; j <= FA_NORMCDF_TABLE_DEGREE; j++)
        r = _mm512_fmadd_ps(r, s, fa__table_coef_x16(j, idx));
    *p = _mm512_mul_ps(y, y);
    *lo = _mm512_fmsub_ps(y, y, *p);
    /* y | (x & sign): copysign(y, x) */
    *xr = _mm512_mul_ps(_mm512_castsi512_ps(_mm512_ternarylogic_epi32(yb, xb, sign, 0xf8)), r);
    return _mm512_sub_ps(_mm512_mul_ps(y, FA__SET1((float)FA_INV_SQRT_2PI)), r);
}

/* fa__mul_exp_neg_half_f32 on 16 lanes: m e^(-(p + lo)/2) */
FA_INLINE __m512 fa__mul_exp_neg_half_x16(__m512 m, __m512 p, __m512 lo) {
    static const float q_coef[] = FA_NORMCDF_EXP_Q_F32;
    __m512 h = _mm512_mul_ps(FA__SET1(-0.5f), p);
    __m512 t = _mm512_fmadd_ps(h, FA__SET1(FA_LOG2E_F32), FA__SET1(FA_NORMCDF_EXP_SHIFT_F32));
    __m512 k = _mm512_sub_ps(t, FA__SET1(FA_NORMCDF_EXP_SHIFT_F32));
    __m512 r = _mm512_fmadd_ps(k, FA__SET1(-FA_LN2_HI_F32), h);
    r = _mm512_fmadd_ps(k, FA__SET1(-FA_LN2_LO_F32), r);
    r = _mm512_fmadd_ps(lo, FA__SET1(-0.5f), r);
    __m512 q = FA__SET1(q_coef[0]);
    FA_UNROLL
    for (int i = 1; i < (int)(sizeof(q_coef) / sizeof(q_coef[0])); i++)
        q = _mm512_fmadd_ps(q, r, FA__SET1(q_coef[i]));
    __m512 e = _mm512_fmadd_ps(_mm512_mul_ps(r, r), q, r);
    return _mm512_scalef_ps(_mm512_fmadd_ps(m, e, m), k);
}

/* fa_gelu_f32: x <= 0 ? t : x - t (NaN: x - t) */
FA_INLINE __m512 fa_gelu_x16(__m512 x) {
    __m512 xr, p, lo;
    fa__gelu_parts_x16(x, &xr, &p, &lo);
    __m512 t = fa__mul_exp_neg_half_x16(xr, p, lo);
    __mmask16 le0 = _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_LE_OQ);
    return _mm512_mask_blend_ps(le0, _mm512_sub_ps(x, t), t);
}

/* fa_gelu_derivative_f32: x < 0 ? -a : 1 + a; 0 at -inf, x where x is NaN */
FA_INLINE __m512 fa_gelu_derivative_x16(__m512 x) {
    __m512 xr, p, lo;
    __m512 c = fa__gelu_parts_x16(x, &xr, &p, &lo);
    __m512 a = fa__mul_exp_neg_half_x16(c, p, lo);
    __mmask16 neg = _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_LT_OQ);
    __m512 d = _mm512_mask_blend_ps(neg, _mm512_add_ps(FA__SET1(1.0f), a),
                                    _mm512_xor_ps(a, FA__SET1(-0.0f)));
    __mmask16 minus_inf = _mm512_cmp_ps_mask(x, FA__SET1(-__builtin_inff()), _CMP_EQ_OQ);
    __mmask16 nan = _mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q);
    d = _mm512_mask_blend_ps(minus_inf, d, _mm512_setzero_ps());
    return _mm512_mask_blend_ps(nan, d, x);
}

/* out[i] = F(x[i]) (forward, derivative) or g[i] F'(x[i]) (backward); out may be x or g */
#define FA__GELU_LOOP(name, value)                                                          \
    static void name(float *out, const float *x, const float *g, Py_ssize_t n, float p0,    \
                     float p1) {                                                             \
        (void)p0; (void)p1;                                                                  \
        Py_ssize_t i = 0;                                                                    \
        __mmask16 all = (__mmask16)0xffff;                                                   \
        for (; i + 16 <= n; i += 16)                                                         \
            _mm512_storeu_ps(out + i, value(all));                                           \
        if (i < n) {                                                                         \
            __mmask16 tail = (__mmask16)((1u << (n - i)) - 1u);                              \
            _mm512_mask_storeu_ps(out + i, tail, value(tail));                               \
        }                                                                                    \
    }
#define FA__X(mask) _mm512_maskz_loadu_ps(mask, x + i)
#define FA__GELU_FWD(mask) fa_gelu_x16(FA__X(mask))
#define FA__GELU_DER(mask) fa_gelu_derivative_x16(FA__X(mask))
#define FA__GELU_BWD(mask) _mm512_mul_ps(_mm512_maskz_loadu_ps(mask, g + i), FA__GELU_DER(mask))
FA__GELU_LOOP(fa_gelu_forward_loop_f32, FA__GELU_FWD)
FA__GELU_LOOP(fa_gelu_derivative_loop_f32, FA__GELU_DER)
FA__GELU_LOOP(fa_gelu_backward_loop_f32, FA__GELU_BWD)

#else
#define FA_GELU_VECTOR_LOOPS 0
#define fa_gelu_forward_loop_f32 0
#define fa_gelu_derivative_loop_f32 0
#define fa_gelu_backward_loop_f32 0
#endif

#endif
