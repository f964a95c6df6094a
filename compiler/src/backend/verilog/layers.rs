//! The combinational logic of each compute layer, one lane per tensor element.

use super::netlist::{literal, signed_residue, wrap_list, Bit, ModuleBody, Signal};
use super::views::{comment_lines, render_file, unused_sink, InstanceView, LaneView, LaneWireView};
use super::BackendError;
use aecc_ir::{Interval, LinearMap, Op, Quantizer, TensorInfo};

use std::collections::BTreeMap;

/// The logic of one layer before it is wrapped into a module.
pub struct LayerLogic {
    pub body: ModuleBody,
    pub instances: Vec<InstanceView>,
    /// Names of the output lane wires, lane 0 first.
    pub lanes: Vec<String>,
    /// Extra modules this layer instantiates: `(module name, Verilog text)`.
    pub submodules: Vec<(String, String)>,
}

/// `[0][3][1][2]`: the multi-index of flat element `flat` of a row-major tensor.
pub fn coords(flat: usize, shape: &[usize]) -> String {
    let mut idx = vec![0; shape.len()];
    let mut rest = flat;
    for (a, &d) in shape.iter().enumerate().rev() {
        idx[a] = rest % d.max(1);
        rest /= d.max(1);
    }
    idx.iter().map(|i| format!("[{i}]")).collect()
}

/// Splits the input bus `port` into one wire per lane, `{prefix}{i}`.
pub fn input_lanes(
    body: &mut ModuleBody,
    port: &str,
    prefix: &str,
    info: &TensorInfo,
) -> Vec<Signal> {
    let w = info.ty.width;
    let n = info.len() as u32;
    let bus = body.port(port, w * n, false, Interval::point(0));
    (0..n)
        .map(|i| {
            let expr = body.slice(&bus, (i + 1) * w - 1, i * w);
            body.wire_of_width(
                &format!("{prefix}{i}"),
                w,
                info.ty.signed,
                info.interval,
                expr,
                None,
            )
        })
        .collect()
}

/// Sum of `±text` terms of `width` bits, four per line.
pub fn sum_text(terms: &[(bool, String)], width: u32) -> String {
    if terms.is_empty() {
        return format!("{width}'d0");
    }
    let mut s = String::new();
    for (k, (negative, t)) in terms.iter().enumerate() {
        if k == 0 {
            if *negative {
                s.push('-');
            }
        } else {
            if k % 4 == 0 {
                s.push_str("\n     ");
            }
            s.push_str(if *negative { " - " } else { " + " });
        }
        s.push_str(t);
    }
    s
}

/// `Dense`/`Conv`: each output lane is `sum_k x[i_k] * w_k (+ bias)`, at the output width.
pub fn linear(map: &LinearMap, x: &TensorInfo, out: &TensorInfo) -> LayerLogic {
    let mut body = ModuleBody::new();
    let xs = input_lanes(&mut body, "in_data", "x", x);
    let w = out.ty.width;
    // Each input lane once at the output width (sign- or zero-extended, or truncated:
    // the sums are exact modulo 2^w and fit in w bits).
    let mut extended: BTreeMap<usize, Signal> = BTreeMap::new();
    let mut lanes = Vec::with_capacity(map.rows.len());
    let mut rows = Vec::with_capacity(map.rows.len());
    for row in &map.rows {
        let mut terms = Vec::new();
        for &(i, weight) in &row.terms {
            let c = signed_residue((weight as i128) << map.grid.product_shift, w);
            if c == 0 {
                continue;
            }
            let xe = match extended.get(&i) {
                Some(v) => v.clone(),
                None if xs[i].width == w => xs[i].clone(),
                None => {
                    let expr = body.field(&xs[i], 0, w);
                    let v = body.wire_of_width(
                        &format!("xe{i}"),
                        w,
                        out.ty.signed,
                        xs[i].interval,
                        expr,
                        None,
                    );
                    extended.insert(i, v.clone());
                    v
                }
            };
            let operand = body.slice(&xe, w - 1, 0);
            let text = if c.abs() == 1 {
                operand
            } else {
                format!("{operand} * {}", literal(c.abs(), w))
            };
            terms.push((c < 0, text));
        }
        let b = signed_residue((row.bias as i128) << map.grid.bias_shift, w);
        if b != 0 {
            terms.push((b < 0, literal(b.abs(), w)));
        }
        rows.push(terms);
    }
    for (j, terms) in rows.iter().enumerate() {
        let name = format!("y{j}");
        let comment = format!("y{}", coords(j, &out.shape));
        let y = body.wire_of_width(
            &name,
            w,
            out.ty.signed,
            out.interval,
            sum_text(terms, w),
            Some(comment),
        );
        lanes.push(body.slice(&y, w - 1, 0));
    }
    LayerLogic {
        body,
        instances: Vec::new(),
        lanes,
        submodules: Vec::new(),
    }
}

/// `max(x, 0)` per lane: the low bits of `x`, cleared when `x` is negative.
pub fn relu(x: &TensorInfo, out: &TensorInfo) -> LayerLogic {
    let mut body = ModuleBody::new();
    let xs = input_lanes(&mut body, "in_data", "x", x);
    let w = out.ty.width;
    let mut lanes = Vec::with_capacity(xs.len());
    for (i, xv) in xs.iter().enumerate() {
        let expr = if x.interval.hi <= 0 {
            format!("{w}'d0")
        } else {
            let low = body.field(xv, 0, w);
            match body.sign(xv) {
                Bit::Const(false) => low,
                Bit::Const(true) => format!("{w}'d0"),
                sign if w == 1 => format!("~{} & {low}", body.use_bit(&sign)),
                sign => format!("{{{w}{{~{}}}}} & {low}", body.use_bit(&sign)),
            }
        };
        let y = body.wire_of_width(&format!("y{i}"), w, false, out.interval, expr, None);
        lanes.push(body.slice(&y, w - 1, 0));
    }
    LayerLogic {
        body,
        instances: Vec::new(),
        lanes,
        submodules: Vec::new(),
    }
}

/// `a + b` per lane, each operand shifted onto the finer grid.
pub fn add(a: &TensorInfo, b: &TensorInfo, out: &TensorInfo) -> LayerLogic {
    let mut body = ModuleBody::new();
    let as_ = input_lanes(&mut body, "a_data", "a", a);
    let bs = input_lanes(&mut body, "b_data", "b", b);
    let w = out.ty.width;
    let (sa, sb) = (
        (out.ty.frac - a.ty.frac) as u32,
        (out.ty.frac - b.ty.frac) as u32,
    );
    let mut lanes = Vec::with_capacity(as_.len());
    for (i, (av, bv)) in as_.iter().zip(&bs).enumerate() {
        let ta = body.shift_left(av, sa, w);
        let tb = body.shift_left(bv, sb, w);
        let y = body.wire_of_width(
            &format!("y{i}"),
            w,
            out.ty.signed,
            out.interval,
            format!("{ta} + {tb}"),
            None,
        );
        lanes.push(body.slice(&y, w - 1, 0));
    }
    LayerLogic {
        body,
        instances: Vec::new(),
        lanes,
        submodules: Vec::new(),
    }
}

/// A quantizer: one lane module per channel (`{module}_ch{c}`, or `{module}_lane` for a
/// per-tensor quantizer), instantiated once per lane.
pub fn quantize(
    q: &Quantizer,
    module: &str,
    x: &TensorInfo,
    out: &TensorInfo,
    node_name: &str,
) -> Result<LayerLogic, BackendError> {
    let mut body = ModuleBody::new();
    let xs = input_lanes(&mut body, "in_data", "x", x);
    let w = out.ty.width;
    let mut submodules = Vec::new();
    let mut lane_modules: BTreeMap<usize, String> = BTreeMap::new();
    let mut instances = Vec::with_capacity(xs.len());
    let mut lanes = Vec::with_capacity(xs.len());
    for (i, xv) in xs.iter().enumerate() {
        let c = q.channel_of(i, &x.shape);
        let lane_module = match lane_modules.get(&c) {
            Some(m) => m.clone(),
            None => {
                let name = if q.channels.len() == 1 {
                    format!("{module}_lane")
                } else {
                    format!("{module}_ch{c}")
                };
                let logic = super::requantize::lane(q, c, x, w).map_err(|message| {
                    BackendError::Unsupported {
                        node: node_name.to_string(),
                        op: "quantize",
                        message,
                    }
                })?;
                let ch = q.channels[c];
                let mut header = vec![
                    format!("{name}: one lane of quantizer {node_name}"),
                    format!(
                        "channel {c}: scale {}, zero point {}; {}",
                        ch.scale,
                        ch.zero_point,
                        aecc_ir::printer::quantizer(q)
                    ),
                ];
                header.push(format!(
                    "x: {} {} -> y: {} {}",
                    x.ty, x.interval, out.ty, out.interval
                ));
                let view = LaneView {
                    header,
                    module: name.clone(),
                    x_msb: x.ty.width - 1,
                    y_msb: w - 1,
                    wires: logic
                        .body
                        .wires
                        .iter()
                        .map(|wire| LaneWireView {
                            comment: wire
                                .comment
                                .as_deref()
                                .map(comment_lines)
                                .unwrap_or_default(),
                            name: wire.name.clone(),
                            msb: wire.width - 1,
                            expr: wire.expr.clone().unwrap_or_default(),
                        })
                        .collect(),
                    unused: unused_sink(&logic.body),
                    y_expr: logic.y,
                };
                submodules.push((name.clone(), render_file(&view)?));
                lane_modules.insert(c, name.clone());
                name
            }
        };
        let x_full = body.slice(xv, xv.width - 1, 0);
        let y = format!("y{i}");
        let comment = if q.channels.len() == 1 {
            None
        } else {
            Some(format!("y{} (channel {c})", coords(i, &x.shape)))
        };
        body.instance_output(&y, w, comment);
        instances.push(InstanceView {
            module: lane_module,
            name: format!("u_y{i}"),
            connections: format!(".x({x_full}), .y({y})"),
        });
        lanes.push(y);
    }
    Ok(LayerLogic {
        body,
        instances,
        lanes,
        submodules,
    })
}

/// The logic of a compute node that is not a weight layer and not wiring (`Relu`,
/// `Add`, `Quantize`, the point-wise ops, pooling, `Concat`, `Select`, `Softmax`), shared
/// by the constant-weight and the reconfigurable backends. `infos` are the operands'
/// tensors, `out` the node's.
pub fn elementwise(
    op: &Op,
    module: &str,
    infos: &[&TensorInfo],
    out: &TensorInfo,
    node_name: &str,
) -> Result<LayerLogic, BackendError> {
    use super::{movement, pointwise, pool, softmax};
    Ok(match op {
        Op::Relu => relu(infos[0], out),
        Op::Add => add(infos[0], infos[1], out),
        Op::Quantize(q) => quantize(q, module, infos[0], out, node_name)?,
        Op::Sub => pointwise::sub(infos[0], infos[1], out),
        Op::Affine(a) => pointwise::affine(a, infos[0], out),
        Op::Clip { lo, hi } => pointwise::clip(*lo, *hi, infos[0], out),
        Op::LeakyRelu { pos, neg, .. } => pointwise::leaky_relu(*pos, *neg, infos[0], out),
        Op::Lut(l) => pointwise::lut(l, module, infos[0], out, node_name)?,
        Op::MaxPool(p) => pool::max_pool(p, infos[0], out),
        Op::AvgPool(p) => pool::avg_pool(p, infos[0], out),
        Op::Concat { axis, .. } => movement::concat(*axis, infos, out),
        Op::Select(sel) => movement::select_layer(sel, infos[0], out),
        Op::Softmax(s) => softmax::softmax(s, module, infos[0], out, node_name)?,
        Op::Input { .. }
        | Op::Reshape { .. }
        | Op::Transpose { .. }
        | Op::Dense(_)
        | Op::Conv(_) => unreachable!("{} is not an element-wise layer", op.name()),
    })
}

/// `{lane_n-1, ..., lane_0}`, eight lanes per line.
pub fn concat_lanes(lanes: &[String]) -> String {
    let rev: Vec<String> = lanes.iter().rev().cloned().collect();
    if rev.len() == 1 {
        rev[0].clone()
    } else {
        format!("{{{}}}", wrap_list(&rev, ", ", 8, "        "))
    }
}
