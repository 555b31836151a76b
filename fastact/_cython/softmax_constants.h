/* The softmax family's numeric constants under the kernels' names (docs/softmax.md).
 * The numbers live in fastact/_constants.py, which setup.py renders into
 * fa_constants.h.  Per-type names end in _F32 / _F64; the kernels pick them with
 * FA_SM_K(NAME) (softmax.h). */
#ifndef FASTACT_SOFTMAX_CONSTANTS_H
#define FASTACT_SOFTMAX_CONSTANTS_H

#include "fa_constants.h"

/* ---- BEGIN softmax constants ------------------------------------------------ */
#define FA_SM_BLOCK FA_SOFTMAX_BLOCK /* elements per block: the unit of sums, tasks, scratch */
#define FA_SM_LANES FA_SOFTMAX_LANES /* double lanes of a block sum; 64 elements = 4 per lane */
#define FA_SM_GROUP 64   /* elements per step of the summing loops (4 * LANES) */
#define FA_SM_TILE FA_SOFTMAX_TILE   /* columns per tile of a non-last axis */
#define FA_SM_SHORT_BATCH FA_SOFTMAX_SHORT_BATCH /* short rows per batch (logs in one loop) */
#define FA_SM_LINE 64    /* bytes per cache line */
#define FA_SM_PAGE 4096  /* bytes per page (load/store aliasing distance) */

/* range reduction t = n ln2 + r, n = round(t log2e) by the rounding shift 1.5 * 2^p */
#define FA_SM_LOG2E_F32 FA_LOG2E_F32
#define FA_SM_LOG2E_F64 FA_LOG2E
#define FA_SM_LN2_HI_F32 FA_SOFTMAX_LN2_HI_F32
#define FA_SM_LN2_HI_F64 FA_LN2_HI
#define FA_SM_LN2_LO_F32 FA_SOFTMAX_LN2_LO_F32
#define FA_SM_LN2_LO_F64 FA_LN2_LO
#define FA_SM_SHIFT_F32 FA_ROUND_SHIFT_F32
#define FA_SM_SHIFT_F64 FA_ROUND_SHIFT
#define FA_SM_SHIFT_BITS_F32 0x4B400000u           /* bits of FA_ROUND_SHIFT_F32 */
#define FA_SM_SHIFT_BITS_F64 0x4338000000000000ull /* bits of FA_ROUND_SHIFT */
#define FA_SM_MANT_BITS_F32 FA_MANT_BITS_F32
#define FA_SM_MANT_BITS_F64 FA_MANT_BITS
#define FA_SM_EXP_BIAS_F32 FA_EXP_BIAS_F32
#define FA_SM_EXP_BIAS_F64 FA_EXP_BIAS

/* exp(r) = 1 + r + r^2 Q(r) on |r| <= ln2/2 (tools/fit/softmax_exp.py): brace lists,
   highest degree first, the last two the unit coefficients of Horner's scheme */
#define FA_SM_POLY_F32 FA_SOFTMAX_EXP_POLY_F32
#define FA_SM_POLY_F64 FA_SOFTMAX_EXP_POLY_F64

/* softmax's exp(t), t <= 0: t clamped here (2^n = 0 below: flushed results) */
#define FA_SM_EXPNEG_CLAMP_F32 FA_SOFTMAX_EXP_FLUSH_F32
#define FA_SM_EXPNEG_CLAMP_F64 FA_SOFTMAX_EXP_FLUSH_F64
/* log_softmax_backward: a block with every y in [EXPNEG_LO, 0] takes that exp */
#define FA_SM_EXPNEG_LO_F32 FA_SOFTMAX_EXPNEG_LO_F32
#define FA_SM_EXPNEG_LO_F64 FA_SOFTMAX_EXPNEG_LO_F64
/* log_softmax/logsumexp's exp is scaled by 2^SCALE_LOG2; below CLAMP it is 0 */
#define FA_SM_SCALE_LOG2_F32 FA_SOFTMAX_SCALE_EXP_F32
#define FA_SM_SCALE_LOG2_F64 FA_SOFTMAX_SCALE_EXP_F64
#define FA_SM_EXP_CLAMP_F32 FA_SOFTMAX_SCALED_EXP_MIN_F32
#define FA_SM_EXP_CLAMP_F64 FA_SOFTMAX_SCALED_EXP_MIN_F64
#define FA_SM_UNSCALE_F32 ((double)FA_SOFTMAX_UNSCALE_F32)
#define FA_SM_UNSCALE_F64 FA_SOFTMAX_UNSCALE_F64
/* ---- END softmax constants -------------------------------------------------- */

#endif
