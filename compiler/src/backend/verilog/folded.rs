//! Folded layers (`--reuse N`): the adders of one linear layer are shared between the
//! `N` cycles of an input.
//!
//! The lowering splits the layer's outputs into `N` groups, builds each group's adder
//! network (shared sub-expressions within the group) and binds the `i`-th adder of
//! every group to shared adder ("slot") `i`. In hardware:
//!
//! - the layer's inputs are captured into hold registers `l<L>_h<k>` at the end of
//!   stage `h` (enable `valid_pipe[h]`) and stay there for the `N` phases: inputs are at
//!   least `N` cycles apart, so the next sample overwrites them only after that;
//! - in stage `h + 1 + p` (phase `p`, one-hot `valid_pipe[h + 1 + p]`) every slot adds
//!   the operands of its group-`p` adder, selected by a multiplexer; a subtraction in
//!   some phases only is `a + (b ^ {W{sub}}) + sub`; each slot is as wide as its widest
//!   phase, and every phase's value is exact in that width;
//! - the results of group `p` are captured into the output bank `l<L>_y<k>` at the end
//!   of phase `p`; the bank is complete (and read by the rest of the design) in stage
//!   `h + 1 + N`, before the next sample's phase 0 overwrites it.

use super::lowered::{Printer, Val};
use super::netlist::Signal;
use crate::lower::dfg::{signal_prefix, CellOp, SigId, Term};
use std::collections::{BTreeMap, BTreeSet};

/// Prints fold `f`: hold registers, slots, bank. Called when the fold's first cell is
/// reached (all its inputs are printed by then).
pub fn print_fold(p: &mut Printer, f: usize) {
    let low = p.low;
    let dfg = &low.dfg;
    let (layer, phases) = dfg.folds[f];
    let cells = dfg.fold_cells(f);
    let inputs = dfg.fold_inputs(f);
    let h = inputs.iter().map(|&x| p.home[x]).max().unwrap_or(0);
    let bank_stage = h + 1 + phases;
    let sel = |phase: u32| format!("valid_pipe[{}]", h + 1 + phase);

    // hold registers
    let mut held: BTreeMap<SigId, Signal> = BTreeMap::new();
    for (k, &x) in inputs.iter().enumerate() {
        let c = dfg.cell(x);
        // the bits the input is built with: a truncated input (see
        // `lower::bitwidth`) is exact only modulo 2^w and has no sign to extend
        let w = p.width(x);
        let v = p.at(x, h);
        let src = p.bits(&v, 0, 0, w);
        let name = format!("{}h{k}", signal_prefix(layer));
        let s = p.register(&name, w, c.signed() && w == c.width(), c.interval);
        p.load_enabled(h + 1, &sel_text(h), &name, src);
        held.insert(x, s);
    }

    // which bound cells are read outside the fold (they get a bank register)
    let bound: BTreeSet<SigId> = cells.iter().copied().collect();
    let mut outside: BTreeSet<SigId> = BTreeSet::new();
    for (id, c) in dfg.cells.iter().enumerate() {
        if bound.contains(&id) {
            continue;
        }
        for o in c.operands() {
            if bound.contains(&o) {
                outside.insert(o);
            }
        }
    }
    for o in &dfg.outputs {
        if bound.contains(&o.sig) {
            outside.insert(o.sig);
        }
    }

    // slots: slot -> phase -> cell
    let mut slots: BTreeMap<u32, BTreeMap<u32, SigId>> = BTreeMap::new();
    for &c in &cells {
        let fs = dfg.cell(c).fold.unwrap();
        slots.entry(fs.slot).or_default().insert(fs.phase, c);
    }
    let mut slot_name: BTreeMap<u32, (String, u32)> = BTreeMap::new();
    // narrower views of slots (`l<L>_s<k>_w<bits>`), see `operand`
    let mut aliases: BTreeSet<String> = BTreeSet::new();
    let mut first = true;
    for (&slot, by_phase) in &slots {
        let w = by_phase.values().map(|&c| p.width(c)).max().unwrap();
        // operands per phase, with the negated one second
        let mut a_terms: Vec<(u32, String)> = Vec::new();
        let mut b_terms: Vec<(u32, String)> = Vec::new();
        let mut subs: Vec<(u32, bool)> = Vec::new();
        for (&phase, &c) in by_phase {
            let CellOp::Add { a, b } = dfg.cell(c).op else {
                unreachable!("only adders are bound")
            };
            let (a, b) = if a.neg { (b, a) } else { (a, b) };
            let ea = operand(p, &a, w, &held, &slot_name, &mut aliases, f);
            let eb = operand(p, &b, w, &held, &slot_name, &mut aliases, f);
            a_terms.push((phase, ea));
            b_terms.push((phase, eb));
            subs.push((phase, b.neg));
        }
        let paren = |e: String| if e.contains('?') { format!("({e})") } else { e };
        let ma = paren(mux(&a_terms, &sel));
        let mb = paren(mux(&b_terms, &sel));
        let sub_phases: Vec<u32> = subs.iter().filter(|s| s.1).map(|s| s.0).collect();
        let expr = if sub_phases.is_empty() {
            format!("{ma} + {mb}")
        } else if sub_phases.len() == subs.len() {
            format!("{ma} - {mb}")
        } else {
            // the last listed phase is the multiplexers' default: derive `sub` so that
            // it is right in that phase too
            let default_is_sub = subs.last().unwrap().1;
            let listed: Vec<String> = subs
                .iter()
                .filter(|s| s.1 != default_is_sub)
                .map(|s| sel(s.0))
                .collect();
            let any = if listed.len() == 1 {
                listed[0].clone()
            } else {
                format!("({})", listed.join(" | "))
            };
            let sub = if default_is_sub {
                format!("~{any}")
            } else {
                any
            };
            let one = if w == 1 {
                sub.clone()
            } else {
                format!("{{{}'d0, {sub}}}", w - 1)
            };
            format!("{ma} + ({mb} ^ {{{w}{{{sub}}}}}) + {one}")
        };
        let name = format!("{}s{slot}", signal_prefix(layer));
        let comment = first.then(|| {
            let l = &dfg.layers[layer];
            format!(
                "layer l{layer} = {} ({}), from {}: folded over {phases} cycles, {} shared adders; \
                 inputs held from stage {h}, phase p in stage {}+p, results in stage {bank_stage}",
                l.name,
                l.op,
                super::one_line(&l.origin),
                slots.len(),
                h + 1
            )
        });
        first = false;
        p.body
            .wire_of_width(&name, w, false, aecc_ir::Interval::point(0), expr, comment);
        slot_name.insert(slot, (name, w));
    }

    // output bank
    for &c in &outside {
        let fs = dfg.cell(c).fold.unwrap();
        let cell = dfg.cell(c);
        let w = p.width(c);
        let (sname, sw) = slot_name[&fs.slot].clone();
        let view = Signal {
            name: sname,
            width: sw,
            signed: cell.signed(),
            interval: cell.interval,
        };
        let src = p.body.field(&view, 0, w);
        let name = format!("{}y{c}", signal_prefix(layer));
        let s = p.register(&name, w, cell.signed() && w == cell.width(), cell.interval);
        p.load_enabled(h + 2 + fs.phase, &sel(fs.phase), &name, src);
        debug_assert_eq!(p.home[c], bank_stage);
        p.base[c] = Some(s);
    }
}

fn sel_text(stage: u32) -> String {
    format!("valid_pipe[{stage}]")
}

/// The operand `t` of a phase-`phase` adder as a `w`-bit expression (magnitude; the
/// sign is the slot's add/subtract).
fn operand(
    p: &mut Printer,
    t: &Term,
    w: u32,
    held: &BTreeMap<SigId, Signal>,
    slots: &BTreeMap<u32, (String, u32)>,
    aliases: &mut BTreeSet<String>,
    f: usize,
) -> String {
    let c = p.low.dfg.cell(t.sig);
    if c.is_const() {
        return p.term_bits(t, &Val::Const(c.interval.lo), 0, w);
    }
    let v = match c.fold {
        Some(fs) if fs.fold == f => {
            // the slot is as wide as its widest phase; this phase's cell is exact in
            // its own built width only (its operands are read the same way), so
            // read no more than that and extend only a cell that is not truncated
            let (slot, sw) = slots[&fs.slot].clone();
            let bw = p.width(t.sig).min(sw);
            let name = if bw == sw {
                slot
            } else {
                let alias = format!("{slot}_w{bw}");
                if !aliases.contains(&alias) {
                    let view = Signal {
                        name: slot,
                        width: sw,
                        signed: false,
                        interval: aecc_ir::Interval::point(0),
                    };
                    let low = p.body.field(&view, 0, bw);
                    p.body
                        .wire_of_width(&alias, bw, false, aecc_ir::Interval::point(0), low, None);
                    aliases.insert(alias.clone());
                }
                alias
            };
            Val::Sig(Signal {
                name,
                width: bw,
                signed: c.signed() && bw == c.width(),
                interval: c.interval,
            })
        }
        _ => Val::Sig(held[&t.sig].clone()),
    };
    p.term_bits(t, &v, 0, w)
}

/// A phase multiplexer: `sel(p0) ? e0 : sel(p1) ? e1 : ... : e_last` (equal
/// expressions merged; the last phase is the default).
fn mux(terms: &[(u32, String)], sel: &dyn Fn(u32) -> String) -> String {
    let last = &terms.last().unwrap().1;
    if terms.iter().all(|t| &t.1 == last) {
        return last.clone();
    }
    let mut s = String::new();
    for (phase, e) in &terms[..terms.len() - 1] {
        if e == last {
            continue;
        }
        s.push_str(&format!("{} ? {e} : ", sel(*phase)));
    }
    s.push_str(last);
    s
}
