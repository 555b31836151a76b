/* The softmax family's numeric constants, each stated once (docs/softmax.md).
 * One swappable block: a generated header of fastact/_constants.py may replace it,
 * keeping the names.  Per-type values end in _F32 / _F64; the kernels pick them
 * with FA_SM_K(NAME) (softmax.h). */
#ifndef FASTACT_SOFTMAX_CONSTANTS_H
#define FASTACT_SOFTMAX_CONSTANTS_H

/* ---- BEGIN softmax constants ------------------------------------------------ */
#define FA_SM_BLOCK 2048 /* elements per block: the unit of sums, tasks, scratch */
#define FA_SM_LANES 16   /* double lanes of a block sum; 64 elements = 4 per lane */
#define FA_SM_GROUP 64   /* elements per step of the summing loops (4 * LANES) */
#define FA_SM_TILE 16    /* columns per tile of a non-last axis */
#define FA_SM_LINE 64    /* bytes per cache line */
#define FA_SM_PAGE 4096  /* bytes per page (load/store aliasing distance) */

/* range reduction t = n ln2 + r, n = round(t log2e) by the rounding shift 1.5 * 2^p */
#define FA_SM_LOG2E_F32 1.44269504088896341f
#define FA_SM_LOG2E_F64 1.4426950408889634
#define FA_SM_LN2_HI_F32 0.693145751953125f
#define FA_SM_LN2_HI_F64 6.93147180369123816490e-01
#define FA_SM_LN2_LO_F32 1.42860676533e-06f
#define FA_SM_LN2_LO_F64 1.90821492927058770002e-10
#define FA_SM_SHIFT_F32 12582912.0f                /* 1.5 * 2^23 */
#define FA_SM_SHIFT_F64 6755399441055744.0         /* 1.5 * 2^52 */
#define FA_SM_SHIFT_BITS_F32 0x4B400000u           /* bits of the shift */
#define FA_SM_SHIFT_BITS_F64 0x4338000000000000ull
#define FA_SM_MANT_BITS_F32 23
#define FA_SM_MANT_BITS_F64 52
#define FA_SM_EXP_BIAS_F32 127
#define FA_SM_EXP_BIAS_F64 1023

/* exp(r) = 1 + r + r^2 Q(r) on |r| <= ln2/2, Q a Chebyshev fit by the softmax exp
   fitting script (relative error of the sum 0.08 eps in either type); highest
   degree first, the last two the unit coefficients of Horner's scheme */
#define FA_SM_POLY_F32 {0.0013926175888627768f, 0.008363173343241215f, \
    0.041666556149721146f, 0.16666577756404877f, 0.5f, 1.0f, 1.0f}
#define FA_SM_POLY_F64 {2.5100375832561234e-08, 2.7620075879983367e-07, \
    2.7557268480310024e-06, 2.4801521322368692e-05, 0.00019841269863040545, \
    0.0013888888917196719, 0.008333333333330065, 0.041666666666624164, \
    0.16666666666666669, 0.5000000000000001, 1.0, 1.0}

/* softmax's exp(t), t <= 0: t clamped here (2^n = 0 below: flushed results) */
#define FA_SM_EXPNEG_CLAMP_F32 (-88.0f)
#define FA_SM_EXPNEG_CLAMP_F64 (-709.0)
/* log_softmax_backward: a block with every y in [EXPNEG_LO, 0] takes that exp */
#define FA_SM_EXPNEG_LO_F32 (-87.0f)
#define FA_SM_EXPNEG_LO_F64 (-708.0)
/* log_softmax/logsumexp's exp is scaled by 2^SCALE_LOG2; below CLAMP it is 0 */
#define FA_SM_SCALE_LOG2_F32 64
#define FA_SM_SCALE_LOG2_F64 128
#define FA_SM_EXP_CLAMP_F32 (-132.5f)              /* n = -191: 2^(n + 64) = 0 */
#define FA_SM_EXP_CLAMP_F64 (-797.5)               /* n = -1151: 2^(n + 128) = 0 */
#define FA_SM_UNSCALE_F32 5.42101086242752217e-20  /* 2^-64 */
#define FA_SM_UNSCALE_F64 2.9387358770557188e-39   /* 2^-128 */
/* ---- END softmax constants -------------------------------------------------- */

#endif
