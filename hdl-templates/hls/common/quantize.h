// Rounding modes of QONNX Quant (aecc_ir::Rounding).
enum rounding_mode {
  HALF_EVEN,            // ROUND: nearest, ties to even
  HALF_AWAY_FROM_ZERO,  // HALF_UP: nearest, ties away from zero
  HALF_TOWARD_ZERO,     // HALF_DOWN: nearest, ties toward zero
  FLOOR,                // toward minus infinity
  CEIL,                 // toward plus infinity
  TOWARD_ZERO,          // ROUND_TO_ZERO / DOWN
  AWAY_FROM_ZERO,       // UP
  HALF_ODD              // nearest, ties to odd (ONNX QuantizeLinear with an odd zero point)
};

// One channel of a quantizer with scale mantissa * 2^exponent on an input grid
// (num / den) * 2^-F (num / den: the input's scale unit, 1 / 1 for plain fixed point):
// x / scale = x * numerator * 2^shift / divisor with shift = -F - exponent,
// numerator = num, divisor = mantissa * den.
struct quant_channel {
  int shift;
  long long numerator;
  long long divisor;     // odd, or 1 for a power-of-two scale on a plain grid
  long long zero_point;
  long long multiplier;  // (q - zero_point) * multiplier << out_shift is the output
  int out_shift;
};

// The integer range of q as QONNX defines it: signed [-2^(b-1) + narrow, 2^(b-1) - 1],
// unsigned [0, 2^b - 1 - narrow].
struct quant_range {
  int bits;
  bool is_signed;
  bool narrow;
};

// floor(num / den) and rem = num - floor(num / den) * den in [0, den), for den > 0.
template <int NW>
wide_t<NW> floor_div(const wide_t<NW>& num, const wide_t<NW>& den, wide_t<NW>& rem) {
  wide_t<NW> q = num / den;
  rem = num - q * den;
  if (rem < 0) {
    q -= 1;
    rem += den;
  }
  return q;
}

// QONNX Quant on the integer x of one element, exactly (aecc_ir::Quantizer::quantize_int):
// q = clip(round(x / scale + zero_point), lo, hi) (or wrapped into [lo, hi]),
// result = (q - zero_point) * multiplier << out_shift on the output grid.
// NW is wide enough for every intermediate (aecc sizes it by interval analysis).
template <int NW, rounding_mode MODE, bool SATURATE, bool BIPOLAR>
wide_t<NW> quantize_int(const wide_t<NW>& x, const quant_channel& ch, const quant_range& range) {
  wide_t<NW> num = x * ch.numerator;
  wide_t<NW> den = ch.divisor;
  if (ch.shift >= 0) {
    num <<= ch.shift;
  } else {
    den <<= -ch.shift;
  }
  wide_t<NW> rem;
  wide_t<NW> quotient;
  if (ch.divisor == 1) {
    // den is a power of two: floor division is an arithmetic shift.
    const int s = ch.shift >= 0 ? 0 : -ch.shift;
    quotient = num >> s;
    rem = num - (quotient << s);
  } else {
    quotient = floor_div<NW>(num, den, rem);
  }
  // x / scale + zero_point = int_part + rem / den with 0 <= rem < den
  const wide_t<NW> int_part = quotient + ch.zero_point;
  wide_t<NW> q = int_part;
  if (BIPOLAR) {
    q = int_part >= 0 ? 1 : -1;
  } else {
    if (rem != 0) {
      const bool negative = int_part < 0;
      const wide_t<NW> rest = den - rem;  // rem vs rest: the fraction vs one half
      bool up = false;
      switch (MODE) {
        case FLOOR:
          up = false;
          break;
        case CEIL:
          up = true;
          break;
        case TOWARD_ZERO:
          up = negative;
          break;
        case AWAY_FROM_ZERO:
          up = !negative;
          break;
        default:
          if (rem < rest) {
            up = false;
          } else if (rem > rest) {
            up = true;
          } else if (MODE == HALF_EVEN) {
            up = (int_part & 1) != 0;
          } else if (MODE == HALF_ODD) {
            up = (int_part & 1) == 0;
          } else if (MODE == HALF_AWAY_FROM_ZERO) {
            up = !negative;
          } else {
            up = negative;
          }
      }
      if (up) {
        q += 1;
      }
    }
    const wide_t<NW> one = 1;
    wide_t<NW> lo = 0;
    wide_t<NW> hi = 0;
    if (range.is_signed) {
      lo = -(one << (range.bits - 1)) + (range.narrow ? 1 : 0);
      hi = (one << (range.bits - 1)) - 1;
    } else {
      hi = (one << range.bits) - 1 - (range.narrow ? 1 : 0);
    }
    if (SATURATE) {
      if (q < lo) q = lo;
      if (q > hi) q = hi;
    } else {
      wide_t<NW> offset;
      floor_div<NW>(q - lo, hi - lo + 1, offset);
      q = lo + offset;
    }
  }
  wide_t<NW> result = (q - ch.zero_point) * ch.multiplier;
  result <<= ch.out_shift;
  return result;
}
