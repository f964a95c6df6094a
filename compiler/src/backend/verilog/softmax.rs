//! The LUT softmax ([`aecc_ir::SoftmaxLut`]) of each row: a comparator tree for the
//! maximum, `d = max - x` into an `exp` table (one `case` module shared by every lane),
//! an adder for the sum `S`, and per lane the exact division `e * 2^F / S` (Verilog `/`
//! on unsigned operands) rounded half to even from the remainder, then saturated.

use super::layers::{input_lanes, LayerLogic};
use super::netlist::{literal, tight, ModuleBody, Signal};
use super::views::{render_file, InstanceView, LutEntryView, LutView};
use super::BackendError;
use aecc_ir::{Interval, SoftmaxLut, TensorInfo};

fn max2(body: &mut ModuleBody, a: &Signal, b: &Signal, name: &str) -> Signal {
    let w = a.width.max(b.width);
    let (ta, tb) = (body.field(a, 0, w), body.field(b, 0, w));
    let test = if a.signed || b.signed {
        format!("($signed({ta}) > $signed({tb}))")
    } else {
        format!("({ta} > {tb})")
    };
    let i = a.interval.hull(b.interval);
    let (ta, tb) = (body.field(a, 0, w), body.field(b, 0, w));
    body.wire_of_width(
        name,
        w,
        a.signed || b.signed,
        i,
        format!("{test} ? {ta} : {tb}"),
        None,
    )
}

pub fn softmax(
    s: &SoftmaxLut,
    module: &str,
    x: &TensorInfo,
    out: &TensorInfo,
    node_name: &str,
) -> Result<LayerLogic, BackendError> {
    let mut body = ModuleBody::new();
    let xs = input_lanes(&mut body, "in_data", "x", x);
    let n = *x.shape.last().expect("softmax has an axis");
    let w = out.ty.width;
    let range = (x.interval.hi - x.interval.lo) as usize;
    let d_interval = Interval::new(0, range as i128);
    let (dw, _) = tight(d_interval);
    let last = s.table.len() - 1;
    let e_max = s.table[0] as i128;
    let (ew, _) = tight(Interval::new(0, e_max));
    // the exp table, one module for every lane
    let table_module = format!("{module}_exp");
    let reachable = range.min(last);
    let entries: Vec<LutEntryView> = (0..=reachable)
        .map(|d| LutEntryView {
            key: literal(d as i128, dw),
            value: literal(s.table[d] as i128, ew),
        })
        .collect();
    let view = LutView {
        header: vec![
            format!("{table_module}: exp table of softmax {node_name}"),
            format!(
                "d = max - x in [0, {range}] -> exp(-d * step) on 2^-{} (the last entry beyond)",
                s.table_frac
            ),
        ],
        module: table_module.clone(),
        x_msb: dw - 1,
        y_msb: ew - 1,
        default: literal(s.table[reachable.min(last)] as i128, ew),
        entries,
    };
    let submodules = vec![(table_module.clone(), render_file(&view)?)];
    let mut instances = Vec::new();
    let mut lanes = Vec::with_capacity(xs.len());
    let f = s.out_frac as u32;
    for (r, row) in xs.chunks(n).enumerate() {
        // maximum of the row
        let mut level: Vec<Signal> = row.to_vec();
        let mut depth = 0;
        while level.len() > 1 {
            depth += 1;
            let mut next = Vec::new();
            for (k, pair) in level.chunks(2).enumerate() {
                next.push(match pair {
                    [a, b] => max2(&mut body, a, b, &format!("m{r}_{depth}_{k}")),
                    [a] => a.clone(),
                    _ => unreachable!(),
                });
            }
            level = next;
        }
        let m = level[0].clone();
        let sw = m.width.max(row[0].width) + 1;
        // d_i = m - x_i and e_i = table[d_i]
        let mut es = Vec::with_capacity(n);
        for (i, xv) in row.iter().enumerate() {
            let j = r * n + i;
            let expr = format!("{} - {}", body.field(&m, 0, sw), body.field(xv, 0, sw));
            let diff = body.wire_of_width(&format!("dd{j}"), sw, true, d_interval, expr, None);
            let dexpr = body.field(&diff, 0, dw);
            let d = body.wire(&format!("d{j}"), d_interval, dexpr, None);
            let e_name = format!("e{j}");
            body.instance_output(&e_name, ew, None);
            let d_full = body.slice(&d, d.width - 1, 0);
            instances.push(InstanceView {
                module: table_module.clone(),
                name: format!("u_e{j}"),
                connections: format!(".x({d_full}), .y({e_name})"),
            });
            es.push(body.port(&e_name, ew, false, Interval::new(0, e_max)));
        }
        // S = sum of the row's e
        let s_interval = Interval::new(s.table[last.min(range)] as i128, e_max * n as i128);
        let (sumw, _) = tight(Interval::new(0, s_interval.hi));
        let terms: Vec<String> = es.iter().map(|e| body.field(e, 0, sumw)).collect();
        let sum = body.wire(
            &format!("s{r}"),
            Interval::new(0, s_interval.hi),
            terms.join(" + "),
            Some(format!("row {r}: sum of exp")),
        );
        // y_i = min(round(e_i * 2^F / S), out_max)
        let nw = (ew + f).max(sumw) + 1;
        for (i, e) in es.iter().enumerate() {
            let j = r * n + i;
            let num = body.shift_left(e, f, nw);
            let den = body.field(&sum, 0, nw);
            let qexpr = format!("{num} / {den}");
            let q = body.wire_of_width(
                &format!("q{j}"),
                nw,
                false,
                Interval::new(0, 1 << f),
                qexpr,
                None,
            );
            let num2 = body.shift_left(e, f, nw);
            let qq = body.field(&q, 0, nw);
            let den2 = body.field(&sum, 0, nw);
            let rem = body.wire_of_width(
                &format!("r{j}"),
                nw,
                false,
                Interval::new(0, s_interval.hi),
                format!("{num2} - {qq} * {den2}"),
                None,
            );
            // up: 2r > S, or 2r == S and q odd
            let r2 = format!("{{{}, 1'b0}}", body.slice(&rem, nw - 1, 0));
            let sx = format!("{{1'b0, {}}}", body.field(&sum, 0, nw));
            let q0 = body.slice(&q, 0, 0);
            let up = format!("(({r2} > {sx}) | (({r2} == {sx}) & {q0}))");
            let rw = (f + 2).max(w + 1);
            let qfield = body.field(&q, 0, rw);
            let rounded = body.wire_of_width(
                &format!("qr{j}"),
                rw,
                false,
                Interval::new(0, (1 << f) + 1),
                format!("{qfield} + {{{}'d0, {up}}}", rw - 1),
                None,
            );
            let over = body.compare(&rounded, s.out_max as i128, false);
            let low = body.field(&rounded, 0, w);
            let y = body.wire_of_width(
                &format!("y{j}"),
                w,
                false,
                out.interval,
                format!("{over} ? {} : {low}", literal(s.out_max as i128, w)),
                None,
            );
            lanes.push(body.slice(&y, w - 1, 0));
        }
    }
    Ok(LayerLogic {
        body,
        instances,
        lanes,
        submodules,
    })
}
