//! A small builder for the body of a generated module: declared wires, exact-width
//! expressions, and bookkeeping of which bits of every signal are read.
//!
//! Arithmetic convention: every signal holds an integer in two's complement (when its
//! interval has negative values) or unsigned; its width is the tightest for its
//! interval. Every operand of an arithmetic operator is first brought to the width of
//! the result (sign- or zero-extended, or truncated): addition, subtraction, constant
//! multiplication and left shifts are then exact modulo `2^width`, and exact because the
//! interval analysis guarantees the result fits. So every expression has an explicit
//! width (no Verilator WIDTH warnings) and only comparisons need `$signed`.
//!
//! Bits that no expression reads are collected into one `unused_*` wire (Verilator's
//! convention for intentionally unused signals), so the module lints clean without
//! `lint_off`.

use aecc_ir::fixed::bits_for_interval;
use aecc_ir::Interval;
use std::collections::BTreeMap;

/// A signal of the body: a port or a declared wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signal {
    pub name: String,
    pub width: u32,
    /// Two's complement when true, unsigned otherwise.
    pub signed: bool,
    /// Every value the signal can hold.
    pub interval: Interval,
}

impl Signal {
    /// Width this value needs as a two's complement number.
    fn signed_width(&self) -> u32 {
        self.width + u32::from(!self.signed)
    }
}

/// A one-bit condition, folded when it is a constant. The bits it reads are marked as
/// read only when the condition is printed ([`ModuleBody::use_bit`]), so a condition that
/// folds away leaves its bits to the unused sink.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bit {
    Const(bool),
    Expr {
        text: String,
        /// `(signal, hi, lo)` ranges read by `text`.
        reads: Vec<(String, u32, u32)>,
    },
}

impl Bit {
    pub fn and(self, other: Bit) -> Bit {
        self.combine(other, false)
    }
    pub fn or(self, other: Bit) -> Bit {
        self.combine(other, true)
    }
    fn combine(self, other: Bit, is_or: bool) -> Bit {
        match (self, other) {
            // the absorbing constant: 0 for AND, 1 for OR
            (Bit::Const(c), _) | (_, Bit::Const(c)) if c == is_or => Bit::Const(c),
            (Bit::Const(_), b) | (b, Bit::Const(_)) => b,
            (
                Bit::Expr {
                    text: a,
                    reads: mut ra,
                },
                Bit::Expr { text: b, reads: rb },
            ) => {
                ra.extend(rb);
                Bit::Expr {
                    text: format!("({a} {} {b})", if is_or { "|" } else { "&" }),
                    reads: ra,
                }
            }
        }
    }
}

impl std::ops::Not for Bit {
    type Output = Bit;
    fn not(self) -> Bit {
        match self {
            Bit::Const(c) => Bit::Const(!c),
            Bit::Expr { text, reads } => Bit::Expr {
                text: format!("~{text}"),
                reads,
            },
        }
    }
}

/// `width` in the smallest exact type of `interval` (unsigned if it has no negatives).
pub fn tight(interval: Interval) -> (u32, bool) {
    (bits_for_interval(interval), interval.lo < 0)
}

/// Two's complement pattern of `value` in `width` bits, as an unsigned number.
fn pattern(value: i128, width: u32) -> u128 {
    if width >= 128 {
        value as u128
    } else {
        (value as u128) & ((1u128 << width) - 1)
    }
}

/// An unsigned sized literal of `value mod 2^width`.
pub fn literal(value: i128, width: u32) -> String {
    format!("{width}'d{}", pattern(value, width))
}

/// A signed sized literal of `value` (which must fit `width` bits as two's complement):
/// `8'sd5`, `-8'sd5`, and `8'sh80` for the most negative value.
pub fn signed_literal(value: i128, width: u32) -> String {
    let min = -(1i128 << (width - 1));
    if value >= 0 {
        format!("{width}'sd{value}")
    } else if value > min {
        format!("-{width}'sd{}", -value)
    } else {
        format!("{width}'sh{:x}", pattern(value, width))
    }
}

/// `value mod 2^width` as the residue closest to zero: the constant a term prints.
pub fn signed_residue(value: i128, width: u32) -> i128 {
    let p = pattern(value, width) as i128;
    if width < 127 && p >= 1i128 << (width - 1) {
        p - (1i128 << width)
    } else {
        p
    }
}

/// One wire declaration (or an assignment to an already declared port).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wire {
    /// Comment line(s) printed above the declaration (without `//`).
    pub comment: Option<String>,
    pub name: String,
    pub width: u32,
    /// `None` for a wire driven by an instance.
    pub expr: Option<String>,
}

struct Usage {
    width: u32,
    used: Vec<bool>,
}

/// The body of one module under construction.
#[derive(Default)]
pub struct ModuleBody {
    pub wires: Vec<Wire>,
    usage: BTreeMap<String, Usage>,
    /// Signal names in order of registration (the order of the unused sink).
    order: Vec<String>,
}

impl ModuleBody {
    pub fn new() -> ModuleBody {
        ModuleBody::default()
    }

    fn track(&mut self, name: &str, width: u32) {
        assert!(
            self.usage
                .insert(
                    name.to_string(),
                    Usage {
                        width,
                        used: vec![false; width as usize],
                    },
                )
                .is_none(),
            "signal {name} declared twice"
        );
        self.order.push(name.to_string());
    }

    /// Registers a signal declared elsewhere (an input port).
    pub fn port(&mut self, name: &str, width: u32, signed: bool, interval: Interval) -> Signal {
        self.track(name, width);
        Signal {
            name: name.to_string(),
            width,
            signed,
            interval,
        }
    }

    /// Declares `wire [width-1:0] name = expr;` holding values of `interval` (tight width).
    pub fn wire(
        &mut self,
        name: &str,
        interval: Interval,
        expr: String,
        comment: Option<String>,
    ) -> Signal {
        let (width, signed) = tight(interval);
        self.wire_of_width(name, width, signed, interval, expr, comment)
    }

    /// Declares a wire of an explicit width.
    pub fn wire_of_width(
        &mut self,
        name: &str,
        width: u32,
        signed: bool,
        interval: Interval,
        expr: String,
        comment: Option<String>,
    ) -> Signal {
        self.track(name, width);
        self.wires.push(Wire {
            comment,
            name: name.to_string(),
            width,
            expr: Some(expr),
        });
        Signal {
            name: name.to_string(),
            width,
            signed,
            interval,
        }
    }

    /// Declares a wire driven by an instance output.
    pub fn instance_output(&mut self, name: &str, width: u32, comment: Option<String>) {
        self.wires.push(Wire {
            comment,
            name: name.to_string(),
            width,
            expr: None,
        });
    }

    fn mark(&mut self, v: &Signal, hi: u32, lo: u32) {
        let u = self.usage.get_mut(&v.name).expect("signal is registered");
        for b in lo..=hi {
            u.used[b as usize] = true;
        }
    }

    /// The text of `v[hi:lo]` (or `v[i]`, or `v` for the whole signal), not yet marked.
    fn text(v: &Signal, hi: u32, lo: u32) -> String {
        debug_assert!(lo <= hi && hi < v.width);
        if lo == 0 && hi + 1 == v.width {
            v.name.clone()
        } else if hi == lo {
            format!("{}[{}]", v.name, lo)
        } else {
            format!("{}[{}:{}]", v.name, hi, lo)
        }
    }

    /// `v[hi:lo]` (or `v[i]`, or `v` when it is the whole signal), marked as read.
    pub fn slice(&mut self, v: &Signal, hi: u32, lo: u32) -> String {
        self.mark(v, hi, lo);
        ModuleBody::text(v, hi, lo)
    }

    fn read_bit(v: &Signal, hi: u32, lo: u32, text: String) -> Bit {
        Bit::Expr {
            text,
            reads: vec![(v.name.clone(), hi, lo)],
        }
    }

    /// Prints a condition, marking the bits it reads (`1'b0`/`1'b1` for constants).
    pub fn use_bit(&mut self, bit: &Bit) -> String {
        match bit {
            Bit::Const(c) => format!("1'b{}", u8::from(*c)),
            Bit::Expr { text, reads } => {
                for (name, hi, lo) in reads {
                    let u = self.usage.get_mut(name).expect("signal is registered");
                    for b in *lo..=*hi {
                        u.used[b as usize] = true;
                    }
                }
                text.clone()
            }
        }
    }

    /// Bit `i` of the infinite two's complement (or zero) extension of `v`.
    pub fn bit(&self, v: &Signal, i: u32) -> Bit {
        if i < v.width {
            ModuleBody::read_bit(v, i, i, ModuleBody::text(v, i, i))
        } else {
            self.sign(v)
        }
    }

    /// The sign of `v` (true when negative), folded when the interval decides it.
    pub fn sign(&self, v: &Signal) -> Bit {
        if v.interval.lo >= 0 || !v.signed {
            Bit::Const(false)
        } else if v.interval.hi < 0 {
            Bit::Const(true)
        } else {
            let msb = v.width - 1;
            ModuleBody::read_bit(v, msb, msb, ModuleBody::text(v, msb, msb))
        }
    }

    /// OR of bits `[n-1:0]` of `v` (bits beyond the width are copies of the sign, which
    /// cannot be set alone: `v[n-1:0] != 0` iff the value's low `n` bits are not zero).
    pub fn any_low_bits(&self, v: &Signal, n: u32) -> Bit {
        if n == 0 {
            return Bit::Const(false);
        }
        let hi = n.min(v.width) - 1;
        let s = ModuleBody::text(v, hi, 0);
        ModuleBody::read_bit(v, hi, 0, if hi == 0 { s } else { format!("(|{s})") })
    }

    /// Bits `[lo + width - 1 : lo]` of the infinite two's complement (signed) or zero
    /// (unsigned) extension of `v`, as an expression of exactly `width` bits.
    /// `field(v, 0, w)` resizes `v`; `field(v, s, w)` is `floor(v / 2^s)`.
    pub fn field(&mut self, v: &Signal, lo: u32, width: u32) -> String {
        let fill = |body: &mut ModuleBody, n: u32| -> String {
            match body.sign(v) {
                Bit::Const(false) => format!("{n}'d0"),
                Bit::Const(true) => format!("{{{n}{{1'b1}}}}"),
                sign if n == 1 => body.use_bit(&sign),
                sign => format!("{{{n}{{{}}}}}", body.use_bit(&sign)),
            }
        };
        if lo >= v.width {
            return fill(self, width);
        }
        let top = (lo + width - 1).min(v.width - 1);
        let part = self.slice(v, top, lo);
        let have = top - lo + 1;
        if have == width {
            part
        } else {
            format!("{{{}, {part}}}", fill(self, width - have))
        }
    }

    /// `v << shift` as `width` bits (exact when the result fits).
    pub fn shift_left(&mut self, v: &Signal, shift: u32, width: u32) -> String {
        if shift == 0 {
            self.field(v, 0, width)
        } else if shift >= width {
            format!("{width}'d0")
        } else {
            let high = self.field(v, 0, width - shift);
            format!("{{{high}, {shift}'d0}}")
        }
    }

    /// `$signed(v) < c` (`less = true`) or `$signed(v) > c`, at a width holding both.
    pub fn compare(&mut self, v: &Signal, c: i128, less: bool) -> String {
        let cw = tight(Interval::point(c)).0 + 1;
        let w = v.signed_width().max(cw);
        let operand = self.field(v, 0, w);
        format!(
            "($signed({operand}) {} {})",
            if less { "<" } else { ">" },
            signed_literal(c, w)
        )
    }

    /// The unused bits of every registered signal, as `name[hi:lo]` parts (empty when
    /// every bit is read).
    pub fn unused_parts(&self) -> Vec<String> {
        let mut parts = Vec::new();
        for name in &self.order {
            let u = &self.usage[name];
            if u.used.iter().all(|&b| !b) {
                parts.push(name.clone());
                continue;
            }
            let mut b = u.width as usize;
            while b > 0 {
                if u.used[b - 1] {
                    b -= 1;
                    continue;
                }
                let hi = b - 1;
                while b > 0 && !u.used[b - 1] {
                    b -= 1;
                }
                parts.push(if hi == b {
                    format!("{name}[{hi}]")
                } else {
                    format!("{name}[{hi}:{b}]")
                });
            }
        }
        parts
    }
}

/// Joins items into lines of at most `per_line` items: `a, b, c,\n<indent>d, e`.
pub fn wrap_list(items: &[String], sep: &str, per_line: usize, indent: &str) -> String {
    let mut s = String::new();
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            s.push_str(sep.trim_end());
            if i % per_line == 0 {
                s.push('\n');
                s.push_str(indent);
            } else {
                s.push(' ');
            }
        }
        s.push_str(item);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn val(name: &str, lo: i128, hi: i128) -> Signal {
        let (width, signed) = tight(Interval::new(lo, hi));
        Signal {
            name: name.into(),
            width,
            signed,
            interval: Interval::new(lo, hi),
        }
    }

    #[test]
    fn literals() {
        assert_eq!(literal(-3, 8), "8'd253");
        assert_eq!(signed_literal(-3, 8), "-8'sd3");
        assert_eq!(signed_literal(-128, 8), "8'sh80");
        assert_eq!(signed_literal(127, 8), "8'sd127");
        assert_eq!(signed_residue(255, 8), -1);
        assert_eq!(signed_residue(-129, 8), 127);
    }

    #[test]
    fn fields_extend_and_truncate() {
        let mut b = ModuleBody::new();
        let x = val("x", -8, 7);
        b.port("x", x.width, x.signed, x.interval);
        assert_eq!(b.field(&x, 0, 4), "x");
        assert_eq!(b.field(&x, 0, 6), "{{2{x[3]}}, x}");
        assert_eq!(b.field(&x, 0, 3), "x[2:0]");
        assert_eq!(b.field(&x, 2, 3), "{x[3], x[3:2]}");
        assert_eq!(b.field(&x, 5, 2), "{2{x[3]}}");
        let u = val("u", 0, 15);
        b.port("u", u.width, u.signed, u.interval);
        assert_eq!(b.field(&u, 1, 5), "{2'd0, u[3:1]}");
        assert_eq!(b.shift_left(&u, 2, 6), "{u, 2'd0}");
        assert_eq!(b.shift_left(&u, 2, 7), "{{1'd0, u}, 2'd0}");
        assert!(b.unused_parts().is_empty());
    }

    #[test]
    fn unused_runs() {
        let mut b = ModuleBody::new();
        let x = b.port("x", 8, false, Interval::new(0, 255));
        b.slice(&x, 5, 4);
        b.slice(&x, 0, 0);
        assert_eq!(b.unused_parts(), vec!["x[7:6]", "x[3:1]"]);
        let y = b.port("y", 3, false, Interval::new(0, 7));
        let _ = y;
        assert_eq!(b.unused_parts(), vec!["x[7:6]", "x[3:1]", "y"]);
    }

    #[test]
    fn bits_fold_constants_and_mark_reads_lazily() {
        let mut b = ModuleBody::new();
        let x = b.port("x", 4, true, Interval::new(-8, 7));
        let low = b.any_low_bits(&x, 2);
        let sign = b.sign(&x);
        assert_eq!(low.clone().and(Bit::Const(true)), low);
        assert_eq!(low.clone().and(Bit::Const(false)), Bit::Const(false));
        assert_eq!(low.clone().or(Bit::Const(true)), Bit::Const(true));
        // nothing printed yet: every bit unused
        assert_eq!(b.unused_parts(), vec!["x"]);
        let text = b.use_bit(&(!sign).or(low));
        assert_eq!(text, "(~x[3] | (|x[1:0]))");
        assert_eq!(b.unused_parts(), vec!["x[2]"]);
        assert_eq!(b.bit(&x, 9), b.sign(&x));
    }
}
