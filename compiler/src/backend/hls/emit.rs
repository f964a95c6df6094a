//! From the IR graph to the files of an HLS project.

use super::names::{check_top_name, layer_ident};
use super::pragmas::{multiplier_limit, Pragmas};
use super::quant::{plan, QuantPlan};
use super::templates::*;
use super::types::{spell, HlsFlavor};
use super::{HlsError, HlsOptions, HlsProject};
use aecc_ir::{ConstTensor, Graph, Interval, Node, NodeId, Op, Overflow, TensorInfo};
use askama::Template;
use std::collections::HashMap;
use std::path::PathBuf;

/// Constants per line in weight arrays and index tables.
const VALUES_PER_ROW: usize = 8;

/// Where a node's value lives in the top function.
#[derive(Debug, Clone)]
struct Storage {
    array: String,
    type_name: String,
    len: usize,
}

/// A layer ready for the templates, and what the top function needs to call it.
struct EmittedLayer {
    view: LayerView,
    /// Typedefs of the layer's constants.
    const_types: Vec<TypeDecl>,
    call: String,
    local: LocalArray,
    weights: Option<(PathBuf, String)>,
}

pub(super) fn emit(graph: &Graph, opts: &HlsOptions) -> Result<HlsProject, HlsError> {
    check_top_name(&opts.top_name).map_err(HlsError::Option)?;
    if opts.reuse == Some(0) {
        return Err(HlsError::Option(
            "the reuse factor must be at least 1".into(),
        ));
    }
    aecc_ir::verify::verify(graph)?;
    let graph_error = |message: String| HlsError::Graph {
        graph: graph.name.clone(),
        message,
    };
    if graph.inputs().len() != 1 {
        return Err(graph_error(format!(
            "the HLS top function takes one input array, the graph has {} inputs",
            graph.inputs().len()
        )));
    }
    if graph.outputs().len() != 1 {
        return Err(graph_error(format!(
            "the HLS top function writes one output array, the graph has {} outputs",
            graph.outputs().len()
        )));
    }
    let top = opts.top_name.as_str();
    let flavor = opts.flavor;
    let ii = opts.reuse.unwrap_or(1);
    let pragmas = Pragmas { flavor, ii };
    let types_header = format!("{top}_types.h");
    let upper = top.to_ascii_uppercase();

    let input_id = graph.inputs()[0];
    let input = graph.node(input_id);
    let (output_name, output_id) = graph.outputs()[0].clone();
    let output = graph.node(output_id);

    let mut storage: HashMap<NodeId, Storage> = HashMap::new();
    storage.insert(
        input_id,
        Storage {
            array: "x".into(),
            type_name: "input_t".into(),
            len: input.out.len(),
        },
    );
    let mut types = vec![TypeDecl {
        comment: vec![format!(
            "input '{}': shape {:?}, {}, values {}",
            input.name, input.out.shape, input.out.ty, input.out.interval
        )],
        name: "input_t".into(),
        spelled: spell(flavor, &input.out.ty, false),
    }];

    let mut layers = Vec::new();
    let mut products = 0usize;
    for id in graph.compute_nodes()? {
        let node = graph.node(id);
        let operands: Vec<Storage> = graph
            .operands(id)
            .iter()
            .map(|o| storage[o].clone())
            .collect();
        if let Op::Reshape { .. } = node.op {
            // Row-major data is unchanged: the flat array is reused.
            storage.insert(id, operands[0].clone());
            continue;
        }
        let ident = layer_ident(layers.len() + 1, &node.name, node.op.name());
        let (spelled, mut comment) = type_of_node(flavor, node);
        comment.insert(
            0,
            format!(
                "{ident} ({}, from {}): shape {:?}, {}, values {}",
                node.op.name(),
                node.origin,
                node.out.shape,
                node.out.ty,
                node.out.interval
            ),
        );
        let out_decl = TypeDecl {
            comment,
            name: format!("{ident}_t"),
            spelled,
        };
        let operand_infos: Vec<&TensorInfo> = graph
            .operands(id)
            .iter()
            .map(|&o| &graph.node(o).out)
            .collect();
        if let Some(map) = node.op.linear_map(operand_infos[0]) {
            products += map.nonzero_terms();
        }
        let layer = emit_layer(
            flavor,
            &pragmas,
            top,
            &ident,
            node,
            &operands,
            &operand_infos,
        )?;
        types.extend(layer.const_types.iter().map(|t| TypeDecl {
            comment: t.comment.clone(),
            name: t.name.clone(),
            spelled: t.spelled.clone(),
        }));
        types.push(out_decl);
        storage.insert(
            id,
            Storage {
                array: layer.local.name.clone(),
                type_name: format!("{ident}_t"),
                len: node.out.len(),
            },
        );
        layers.push(layer);
    }
    types.push(TypeDecl {
        comment: vec![format!(
            "output '{}': shape {:?}, {}, values {}",
            output_name, output.out.shape, output.out.ty, output.out.interval
        )],
        name: "output_t".into(),
        spelled: storage[&output_id].type_name.clone(),
    });

    let doc_of = |info: &TensorInfo, symmetric: bool| {
        format!(
            "{} = {}, integers in {}",
            info.ty,
            spell(flavor, &info.ty, symmetric),
            info.interval
        )
    };
    let input_doc = doc_of(&input.out, false);
    let output_doc = doc_of(&output.out, is_symmetric(output));
    let input_shape = format!("{:?}", input.out.shape);
    let output_shape = format!("{:?}", output.out.shape);
    let multipliers = (ii > 1).then(|| multiplier_limit(products, ii));
    let schedule = match multipliers {
        None => "II = 1: fully parallel and pipelined, one new input every clock.".to_string(),
        Some(limit) => format!(
            "Reuse factor {ii}: pipelined with II = {ii}, at most {limit} multipliers \
             for {products} products."
        ),
    };
    let tool = match flavor {
        HlsFlavor::Vitis => "Vitis HLS / Vivado HLS",
        HlsFlavor::Catapult => "Catapult HLS",
    };

    let render = |template: &'static str, r: Result<String, askama::Error>| {
        r.map(|mut s| {
            if !s.ends_with('\n') {
                s.push('\n');
            }
            s
        })
        .map_err(|source| HlsError::Template { template, source })
    };

    let mut files: Vec<(PathBuf, String)> = Vec::new();
    let support = match flavor {
        HlsFlavor::Vitis => VitisSupport.render(),
        HlsFlavor::Catapult => CatapultSupport.render(),
    };
    files.push((
        "firmware/aecc_support.h".into(),
        render("aecc_support.h", support)?,
    ));
    files.push((
        format!("firmware/{types_header}").into(),
        render(
            "types.h",
            TypesHeader {
                top,
                graph: &graph.name,
                guard: format!("{upper}_TYPES_H"),
                types,
                input_len: input.out.len(),
                output_len: output.out.len(),
            }
            .render(),
        )?,
    ));
    files.push((
        format!("firmware/{top}.h").into(),
        render(
            "top.h",
            TopHeader {
                top,
                graph: &graph.name,
                guard: format!("{upper}_H"),
                types_header: types_header.clone(),
                input_name: &input.name,
                input_shape: &input_shape,
                input_doc: &input_doc,
                output_name: &output_name,
                output_shape: &output_shape,
                output_doc: &output_doc,
            }
            .render(),
        )?,
    ));
    let mut weight_headers = Vec::new();
    let mut views = Vec::new();
    let mut arrays = Vec::new();
    let mut calls = Vec::new();
    for layer in layers {
        if let Some((path, text)) = layer.weights {
            weight_headers.push(
                path.strip_prefix("firmware")
                    .expect("weights live in firmware/")
                    .to_string_lossy()
                    .into_owned(),
            );
            files.push((path, text));
        }
        views.push(layer.view);
        arrays.push(layer.local);
        calls.push(layer.call);
    }
    files.push((
        format!("firmware/{top}_layers.h").into(),
        render(
            "layers.h",
            LayersHeader {
                top,
                graph: &graph.name,
                guard: format!("{upper}_LAYERS_H"),
                types_header: types_header.clone(),
                layers: views,
                loop_head: pragmas.loop_head(),
                loop_body: pragmas.loop_body(),
            }
            .render(),
        )?,
    ));
    files.push((
        format!("firmware/{top}.cpp").into(),
        render(
            "top.cpp",
            TopSource {
                top,
                graph: &graph.name,
                tool,
                schedule: schedule.clone(),
                top_header: format!("{top}.h"),
                layers_header: format!("{top}_layers.h"),
                weight_headers,
                before_top: pragmas.before_top(),
                top_pragmas: pragmas.top(multipliers),
                arrays,
                calls,
                loop_head: pragmas.loop_head(),
                loop_body: pragmas.loop_body(),
                result: storage[&output_id].array.clone(),
            }
            .render(),
        )?,
    ));
    files.push((
        format!("tb/{top}_tb.cpp").into(),
        render(
            "tb.cpp",
            Testbench {
                top,
                graph: &graph.name,
                top_header: format!("{top}.h"),
                input_doc: &input_doc,
                input_frac: input.out.ty.frac,
                output_doc: &output_doc,
                output_frac: output.out.ty.frac,
            }
            .render(),
        )?,
    ));
    let (script, synth_command) = match flavor {
        HlsFlavor::Vitis => {
            let text = VitisScript {
                top,
                graph: &graph.name,
                part: "xcvu13p-flga2577-2-e",
                clock_ns: "5.0",
            }
            .render();
            files.push((super::VITIS_SCRIPT.into(), render("build.tcl", text)?));
            (
                super::VITIS_SCRIPT,
                "vitis_hls -f build_vitis.tcl    # or: vivado_hls -f build_vitis.tcl",
            )
        }
        HlsFlavor::Catapult => {
            let text = CatapultScript {
                top,
                graph: &graph.name,
                clock_ns: "5.0",
                tech_lib: "nangate-45nm_beh",
                ii,
            }
            .render();
            files.push((super::CATAPULT_SCRIPT.into(), render("build.tcl", text)?));
            (
                super::CATAPULT_SCRIPT,
                "catapult -shell -file build_catapult.tcl",
            )
        }
    };
    files.push((
        "README.md".into(),
        render(
            "README.md",
            ProjectReadme {
                top,
                graph: &graph.name,
                tool,
                library: flavor.header_library(),
                script,
                synth_command,
                schedule: &schedule,
                input_doc: &input_doc,
                input_shape: &input_shape,
                input_frac: input.out.ty.frac,
                input_len: input.out.len(),
                output_doc: &output_doc,
                output_shape: &output_shape,
                output_frac: output.out.ty.frac,
                output_len: output.out.len(),
            }
            .render(),
        )?,
    ));
    Ok(HlsProject {
        flavor,
        top: top.to_string(),
        files,
    })
}

/// A signed narrow saturating quantizer's output saturates symmetrically.
fn is_symmetric(node: &Node) -> bool {
    match &node.op {
        Op::Quantize(q) => q.narrow && q.signed && q.overflow == Overflow::Saturate,
        _ => false,
    }
}

/// The spelled type of a node's output and extra comment lines about it.
fn type_of_node(flavor: HlsFlavor, node: &Node) -> (String, Vec<String>) {
    let spelled = spell(flavor, &node.out.ty, is_symmetric(node));
    let mut comment = Vec::new();
    if let Op::Quantize(q) = &node.op {
        if super::types::rounding_mode_name(flavor, q.rounding).is_none() {
            comment.push(format!(
                "rounding {} has no {} mode: the layer rounds with explicit integer code and \
                 the truncation spelled here never acts",
                q.rounding.qonnx_name(),
                flavor.header_library()
            ));
        }
    }
    (spelled, comment)
}

fn emit_layer(
    flavor: HlsFlavor,
    pragmas: &Pragmas,
    top: &str,
    ident: &str,
    node: &Node,
    operands: &[Storage],
    operand_infos: &[&TensorInfo],
) -> Result<EmittedLayer, HlsError> {
    let out_type = format!("{ident}_t");
    let out_array = format!("{ident}_out");
    let len = node.out.len();
    let x = &operands[0];
    let x_param = format!("const {} x[{}]", x.type_name, x.len);
    let y_param = format!("{out_type} y[{len}]");
    let mut doc = vec![format!(
        "{ident}: {} (from {}) -> {:?} {}",
        node.op.name(),
        node.origin,
        node.out.shape,
        node.out.ty
    )];
    let mut weights = None;
    let mut const_types = Vec::new();
    let mut const_arrays: Vec<&str> = Vec::new();
    let mut params = vec![x_param.clone(), y_param.clone()];
    let mut args = vec![x.array.clone(), out_array.clone()];
    let body = match &node.op {
        Op::Dense(d) => {
            let (k, m) = (d.weight.shape[0], d.weight.shape[1]);
            doc.push(format!(
                "y[o, j] = sum_k x[o, k] * w[k, j]{}, x {:?} {}, w [{k}, {m}] on 2^-{}",
                if d.bias.is_some() { " + b[j]" } else { "" },
                operand_infos[0].shape,
                operand_infos[0].ty,
                d.weight.frac
            ));
            let LayerConstants {
                header,
                consts,
                decls,
            } = weights_header(top, ident, node, &d.weight, d.bias.as_ref(), flavor)?;
            push_const_params(&mut params, &mut args, &consts);
            const_types = decls;
            const_arrays = if d.bias.is_some() {
                vec!["w", "b"]
            } else {
                vec!["w"]
            };
            weights = Some(header);
            LayerBody::Dense(DenseBody {
                w_type: consts[0].fixed_type.clone(),
                b_type: consts
                    .get(1)
                    .map_or(String::new(), |b| b.fixed_type.clone()),
                outer: x.len / k,
                k,
                m,
                bias: d.bias.is_some(),
            })
        }
        Op::Conv(c) => {
            let xs = &operand_infos[0].shape;
            let ws = &c.weight.shape;
            doc.push(format!(
                "{}x{} kernel, stride {:?}, pads {:?} (top, left, bottom, right), dilation {:?}, \
                 group {}: x {:?} {} -> {:?}",
                ws[2],
                ws[3],
                c.strides,
                c.pads,
                c.dilations,
                c.group,
                xs,
                operand_infos[0].ty,
                node.out.shape
            ));
            let LayerConstants {
                header,
                consts,
                decls,
            } = weights_header(top, ident, node, &c.weight, c.bias.as_ref(), flavor)?;
            push_const_params(&mut params, &mut args, &consts);
            const_types = decls;
            const_arrays = if c.bias.is_some() {
                vec!["w", "b"]
            } else {
                vec!["w"]
            };
            weights = Some(header);
            LayerBody::Conv(ConvBody {
                w_type: consts[0].fixed_type.clone(),
                b_type: consts
                    .get(1)
                    .map_or(String::new(), |b| b.fixed_type.clone()),
                n: xs[0],
                c: xs[1],
                h: xs[2],
                w: xs[3],
                m: ws[0],
                cg: ws[1],
                m_per_group: ws[0] / c.group,
                kh: ws[2],
                kw: ws[3],
                oh: node.out.shape[2],
                ow: node.out.shape[3],
                stride_h: c.strides[0],
                stride_w: c.strides[1],
                dilation_h: c.dilations[0],
                dilation_w: c.dilations[1],
                pad_top: c.pads[0],
                pad_left: c.pads[1],
                bias: c.bias.is_some(),
            })
        }
        Op::Relu => LayerBody::Relu,
        Op::Add => {
            let b = &operands[1];
            params = vec![
                format!("const {} a[{}]", x.type_name, x.len),
                format!("const {} b[{}]", b.type_name, b.len),
                y_param.clone(),
            ];
            args = vec![x.array.clone(), b.array.clone(), out_array.clone()];
            LayerBody::Add
        }
        Op::Transpose { perm } => {
            doc.push(format!(
                "axes permuted by {perm:?}: {:?} -> {:?}",
                operand_infos[0].shape, node.out.shape
            ));
            let source = transpose_sources(&operand_infos[0].shape, perm);
            LayerBody::Transpose(TransposeBody {
                rows: rows(source.iter().map(|s| s.to_string())),
            })
        }
        Op::Quantize(q) => {
            let scales: Vec<String> = q.channels.iter().map(|c| c.scale.to_string()).collect();
            let zps: Vec<String> = q
                .channels
                .iter()
                .map(|c| c.zero_point.to_string())
                .collect();
            doc.push(format!(
                "QONNX Quant: {} bits, {}{}, scale {}, zero point {}, rounding {}, {}",
                q.bit_width,
                if q.signed { "signed" } else { "unsigned" },
                if q.narrow { ", narrow" } else { "" },
                join_distinct(&scales),
                join_distinct(&zps),
                q.rounding.qonnx_name(),
                match q.overflow {
                    Overflow::Saturate => "saturating",
                    Overflow::Wrap => "wrapping",
                }
            ));
            match plan(flavor, q, operand_infos[0]) {
                QuantPlan::TypeConversion => {
                    doc.push(format!(
                        "= the conversion into {}",
                        spell(flavor, &node.out.ty, is_symmetric(node))
                    ));
                    LayerBody::QuantCast
                }
                QuantPlan::Explicit(e) => {
                    doc.push(format!(
                        "exact integer code (aecc::quantize_int), because of: {}",
                        e.reason
                    ));
                    let count = e.channels.len();
                    LayerBody::QuantExplicit(QuantBody {
                        work_width: e.work_width,
                        mode: e.mode,
                        saturate: e.saturate,
                        bipolar: e.bipolar,
                        channels: e
                            .channels
                            .iter()
                            .map(|c| {
                                format!(
                                    "{{{}, {}LL, {}LL, {}LL, {}LL, {}}}",
                                    c.shift,
                                    c.numerator,
                                    c.divisor,
                                    c.zero_point,
                                    c.multiplier,
                                    c.out_shift
                                )
                            })
                            .collect(),
                        range: format!("{{{}, {}, {}}}", e.bits, e.signed, e.narrow),
                        channel_index: if count == 1 {
                            "0".into()
                        } else {
                            format!("(i / {}) % {}", e.stride, count)
                        },
                    })
                }
            }
        }
        Op::Sub => {
            let b = &operands[1];
            params = vec![
                format!("const {} a[{}]", x.type_name, x.len),
                format!("const {} b[{}]", b.type_name, b.len),
                y_param.clone(),
            ];
            args = vec![x.array.clone(), b.array.clone(), out_array.clone()];
            LayerBody::Sub
        }
        Op::Affine(a) => {
            doc.push(format!(
                "y = x * mul[c] + add[c] on integers (mul {:?}, add {:?}), output grid {}*2^{}",
                a.mul, a.add, a.out_unit, -a.out_frac
            ));
            let xi = operand_infos[0];
            let iv = Interval::new(
                a.mul
                    .iter()
                    .map(|&m| xi.interval.scale(m as i128).lo)
                    .min()
                    .unwrap_or(0),
                a.mul
                    .iter()
                    .map(|&m| xi.interval.scale(m as i128).hi)
                    .max()
                    .unwrap_or(0),
            );
            let consts = a
                .mul
                .iter()
                .chain(&a.add)
                .map(|&v| Interval::point(v as i128));
            let width = int_width(
                [xi.interval, iv, node.out.interval]
                    .into_iter()
                    .chain(consts),
            );
            let list = |v: &[i64]| v.iter().map(|&k| c_int_literal(k)).collect::<Vec<_>>();
            LayerBody::IntMap(IntMapBody {
                work_width: width,
                statics: vec![
                    format!(
                        "static const long long mul[{}] = {{{}}};",
                        a.mul.len(),
                        list(&a.mul).join(", ")
                    ),
                    format!(
                        "static const long long add[{}] = {{{}}};",
                        a.add.len(),
                        list(&a.add).join(", ")
                    ),
                ],
                expr: "W(v * W(mul[c])) + W(add[c])".into(),
                channel_index: channel_expr(a.axis, a.mul.len(), &xi.shape),
            })
        }
        Op::Clip { lo, hi } => {
            let xi = operand_infos[0];
            let width = int_width([xi.interval, Interval::new(*lo as i128, *hi as i128)]);
            LayerBody::IntMap(IntMapBody {
                work_width: width,
                statics: Vec::new(),
                expr: format!(
                    "v < W({lo}) ? W({lo}) : (v > W({hi}) ? W({hi}) : v)",
                    lo = c_int_literal(*lo),
                    hi = c_int_literal(*hi)
                ),
                channel_index: "0".into(),
            })
        }
        Op::LeakyRelu { pos, neg, .. } => {
            let xi = operand_infos[0];
            let width = int_width([
                xi.interval,
                node.out.interval,
                Interval::point(*pos as i128),
                Interval::point(*neg as i128),
            ]);
            LayerBody::IntMap(IntMapBody {
                work_width: width,
                statics: Vec::new(),
                expr: format!(
                    "v >= 0 ? W(v * W({})) : W(v * W({}))",
                    c_int_literal(*pos),
                    c_int_literal(*neg)
                ),
                channel_index: "0".into(),
            })
        }
        Op::Lut(l) => {
            let xi = operand_infos[0];
            let len = l.tables[0].len();
            let mut statics = vec![format!(
                "static const long long table[{}][{len}] = {{",
                l.tables.len()
            )];
            for t in &l.tables {
                statics.push(format!(
                    "    {{{}}},",
                    t.iter()
                        .map(|&v| c_int_literal(v))
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
            statics.push("};".into());
            let width = int_width([xi.interval, node.out.interval]);
            doc.push(format!(
                "lookup table of {len} entries from input integer {}",
                l.in_lo
            ));
            LayerBody::IntMap(IntMapBody {
                work_width: width,
                statics,
                expr: format!("table[c][(v - W({})).to_int()]", c_int_literal(l.in_lo)),
                channel_index: channel_expr(l.axis, l.tables.len(), &xi.shape),
            })
        }
        Op::Select(sel) => LayerBody::Select(SelectBody {
            rows: rows(sel.index.iter().map(|i| match i {
                Some(i) => i.to_string(),
                None => "-1".to_string(),
            })),
            fill: sel
                .fills()
                .then(|| format!("aecc::from_raw<{out_type}>({})", c_int_literal(sel.fill))),
        }),
        Op::MaxPool(p) | Op::AvgPool(p) => {
            let xi = operand_infos[0];
            let windows = p.windows(&xi.shape);
            let max = matches!(node.op, Op::MaxPool(_));
            let mult: Vec<u64> = if max {
                Vec::new()
            } else {
                aecc_ir::pool::average_scale(&windows, xi.unit)
                    .map_err(|m| HlsError::Unsupported {
                        node: node.origin.clone(),
                        op: node.op.name(),
                        message: m,
                    })?
                    .multipliers
            };
            let mut starts = vec![0usize];
            let mut taps = Vec::new();
            let mut widest = Interval::point(0);
            for (o, w) in windows.iter().enumerate() {
                taps.extend(w.taps.iter().map(|t| t.to_string()));
                starts.push(taps.len());
                let mut sum = Interval::point(0);
                for _ in &w.taps {
                    sum = sum.add(xi.interval);
                }
                widest = widest.hull(sum);
                if let Some(&m) = mult.get(o) {
                    widest = widest.hull(sum.scale(m as i128));
                }
            }
            doc.push(format!(
                "{} over windows {:?}, strides {:?}, pads {:?}, dilations {:?}",
                if max { "maximum" } else { "average" },
                p.kernel,
                p.strides,
                p.pads,
                p.dilations
            ));
            LayerBody::Pool(PoolBody {
                work_width: int_width([xi.interval, widest, node.out.interval]),
                max,
                starts: rows(starts.iter().map(|s| s.to_string())),
                taps: rows(taps.into_iter()),
                mult: rows(mult.iter().map(|m| format!("{m}LL"))),
                outputs: windows.len(),
            })
        }
        Op::Concat { axis, .. } => {
            params = operands
                .iter()
                .enumerate()
                .map(|(k, o)| format!("const {} x{k}[{}]", o.type_name, o.len))
                .collect();
            params.push(y_param.clone());
            args = operands.iter().map(|o| o.array.clone()).collect();
            args.push(out_array.clone());
            let outer: usize = node.out.shape[..*axis].iter().product();
            let total: usize = node.out.shape[*axis..].iter().product();
            let mut offset = 0;
            let parts = operand_infos
                .iter()
                .enumerate()
                .map(|(k, info)| {
                    let block: usize = info.shape[*axis..].iter().product();
                    let part = ConcatPart {
                        array: format!("x{k}"),
                        block,
                        offset,
                    };
                    offset += block;
                    part
                })
                .collect();
            LayerBody::Concat(ConcatBody {
                outer,
                total,
                parts,
            })
        }
        Op::Softmax(sm) => {
            let xi = operand_infos[0];
            let n = *xi.shape.last().expect("softmax has an axis");
            let e_max = sm.table[0] as i128;
            doc.push(format!(
                "LUT softmax over rows of {n}: exp table of {} entries on 2^-{}, output on \
                 2^-{} up to {}",
                sm.table.len(),
                sm.table_frac,
                sm.out_frac,
                sm.out_max
            ));
            LayerBody::Softmax(SoftmaxBody {
                work_width: int_width([
                    xi.interval,
                    Interval::point(xi.interval.hi - xi.interval.lo),
                    Interval::point(e_max * n as i128 * 2),
                    Interval::point((e_max << sm.out_frac) * 2),
                ]),
                rows: xi.len() / n,
                n,
                table: rows(sm.table.iter().map(|&v| format!("{v}LL"))),
                table_len: sm.table.len(),
                out_frac: sm.out_frac,
                out_max: c_int_literal(sm.out_max),
            })
        }
        Op::Input { .. } | Op::Reshape { .. } => unreachable!("not a layer"),
    };
    let call = format!("{ident}({});", args.join(", "));
    Ok(EmittedLayer {
        view: LayerView {
            name: ident.to_string(),
            doc,
            params,
            pragmas: pragmas.layer(&const_arrays),
            out_type: out_type.clone(),
            len,
            body,
        },
        const_types,
        call,
        local: LocalArray {
            type_name: out_type,
            pragmas: pragmas.local_array(&out_array),
            name: out_array,
            len,
        },
        weights,
    })
}

/// A constant array of a layer, as the layer function takes it.
struct ConstInfo {
    /// C integer type of the stored integers.
    c_type: &'static str,
    /// The fixed-point typedef the layer reads them as.
    fixed_type: String,
    array: String,
    len: usize,
}

fn push_const_params(params: &mut Vec<String>, args: &mut Vec<String>, consts: &[ConstInfo]) {
    for (param, c) in ["w", "b"].iter().zip(consts) {
        params.push(format!("const {} {param}[{}]", c.c_type, c.len));
        args.push(c.array.clone());
    }
}

/// The smallest `<stdint.h>` type that holds every integer of `interval`.
fn c_int_type(interval: aecc_ir::Interval) -> &'static str {
    let fits =
        |bits: u32| interval.lo >= -(1i128 << (bits - 1)) && interval.hi < (1i128 << (bits - 1));
    if fits(8) {
        "int8_t"
    } else if fits(16) {
        "int16_t"
    } else if fits(32) {
        "int32_t"
    } else {
        "int64_t"
    }
}

/// A C integer literal (the most negative 64-bit value has no literal of its own).
fn c_int_literal(v: i64) -> String {
    if v == i64::MIN {
        "(-9223372036854775807LL - 1)".to_string()
    } else if !(-(1i64 << 31)..(1i64 << 31)).contains(&v) {
        format!("{v}LL")
    } else {
        v.to_string()
    }
}

/// A layer's constants: its weights header, the layer's view of the arrays, and their
/// typedefs (which go to the types header).
struct LayerConstants {
    header: (PathBuf, String),
    consts: Vec<ConstInfo>,
    decls: Vec<TypeDecl>,
}

/// The weights header of a layer: the weight and, if any, the bias as integer arrays.
fn weights_header(
    top: &str,
    ident: &str,
    node: &Node,
    weight: &ConstTensor,
    bias: Option<&ConstTensor>,
    flavor: HlsFlavor,
) -> Result<LayerConstants, HlsError> {
    let mut arrays = Vec::new();
    let mut consts = Vec::new();
    let mut decls = Vec::new();
    for (suffix, what, tensor) in [("w", "weight", Some(weight)), ("b", "bias", bias)] {
        let Some(t) = tensor else { continue };
        let ty = t.ty();
        let type_name = format!("{ident}_{suffix}_t");
        let name = format!("{ident}_{suffix}");
        let c_type = c_int_type(t.interval());
        decls.push(TypeDecl {
            comment: vec![format!(
                "{what} {:?} of {}: {}, values {}",
                t.shape,
                node.origin,
                ty,
                t.interval()
            )],
            name: type_name.clone(),
            spelled: spell(flavor, &ty, false),
        });
        arrays.push(ConstArray {
            doc: format!(
                "{what} {:?}: integers n of {type_name} ({ty}), value n * 2^-{}",
                t.shape, t.frac
            ),
            c_type,
            name: name.clone(),
            len: t.data.len(),
            rows: rows(t.data.iter().map(|&v| c_int_literal(v))),
        });
        consts.push(ConstInfo {
            c_type,
            fixed_type: type_name,
            array: name,
            len: t.data.len(),
        });
    }
    let text = WeightsHeader {
        layer: ident,
        origin: &node.origin,
        guard: format!(
            "{}_{}_H",
            top.to_ascii_uppercase(),
            ident.to_ascii_uppercase()
        ),
        types_header: format!("../{top}_types.h"),
        arrays,
    }
    .render()
    .map(|text| text + "\n")
    .map_err(|source| HlsError::Template {
        template: "weights.h",
        source,
    })?;
    Ok(LayerConstants {
        header: (format!("firmware/weights/{ident}.h").into(), text),
        consts,
        decls,
    })
}

/// Comma-terminated lines of at most [`VALUES_PER_ROW`] values.
fn rows(values: impl Iterator<Item = String>) -> Vec<String> {
    let values: Vec<String> = values.collect();
    values
        .chunks(VALUES_PER_ROW)
        .map(|chunk| format!("{},", chunk.join(", ")))
        .collect()
}

/// Width of a signed working integer holding every integer of `intervals`.
fn int_width(intervals: impl IntoIterator<Item = Interval>) -> u32 {
    let all = intervals
        .into_iter()
        .fold(Interval::point(0), |a, b| a.hull(b));
    aecc_ir::fixed::bits_for_interval(all) + 2
}

/// Expression of the channel index of flat element `i` for parameters per channel
/// along `axis` (`0` without one).
fn channel_expr(axis: Option<usize>, channels: usize, shape: &[usize]) -> String {
    match axis {
        Some(a) if channels > 1 => {
            let stride: usize = shape[a + 1..].iter().product();
            format!("(i / {stride}) % {channels}")
        }
        _ => "0".into(),
    }
}

/// `a, b` for distinct values, or the single value when all are equal.
fn join_distinct(values: &[String]) -> String {
    if values.iter().all(|v| v == &values[0]) {
        values[0].clone()
    } else {
        format!("[{}] per channel", values.join(", "))
    }
}

/// For each flat output index of a transpose, the flat input index it reads.
fn transpose_sources(shape: &[usize], perm: &[usize]) -> Vec<usize> {
    let rank = shape.len();
    let mut in_strides = vec![1usize; rank];
    for a in (0..rank.saturating_sub(1)).rev() {
        in_strides[a] = in_strides[a + 1] * shape[a + 1];
    }
    let out_shape: Vec<usize> = perm.iter().map(|&p| shape[p]).collect();
    let total: usize = shape.iter().product();
    let mut idx = vec![0usize; rank];
    let mut sources = Vec::with_capacity(total);
    for _ in 0..total {
        sources.push((0..rank).map(|a| idx[a] * in_strides[perm[a]]).sum());
        for a in (0..rank).rev() {
            idx[a] += 1;
            if idx[a] < out_shape[a] {
                break;
            }
            idx[a] = 0;
        }
    }
    sources
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transpose_sources_match_nchw_to_nhwc() {
        // [1, 2, 1, 2] NCHW -> NHWC: out[0,0,0,:] = (c0, c1) at w=0 -> sources 0, 2
        assert_eq!(
            transpose_sources(&[1, 2, 1, 2], &[0, 2, 3, 1]),
            vec![0, 2, 1, 3]
        );
        assert_eq!(transpose_sources(&[2, 3], &[1, 0]), vec![0, 3, 1, 4, 2, 5]);
    }

    #[test]
    fn rows_are_comma_terminated() {
        let r = rows((0..10).map(|v| v.to_string()));
        assert_eq!(r, vec!["0, 1, 2, 3, 4, 5, 6, 7,", "8, 9,"]);
    }
}
