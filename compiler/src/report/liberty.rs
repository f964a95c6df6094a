//! A Liberty (.lib) reader: cells with area, leakage, pins (direction, capacitance,
//! logic function), internal-power and transition tables, flip-flop groups, and the
//! library's units and wire-load model. Enough for area, a zero-delay gate-level
//! simulation and table-based power (see [`super::power`]).

use super::tools::ReportError;
use std::collections::BTreeMap;
use std::path::Path;

/// A generic Liberty group: `kind (args) { attributes; groups }`.
#[derive(Debug, Clone, Default)]
struct Group {
    kind: String,
    args: Vec<String>,
    /// `name : value ;` and `name (v, ...) ;` (complex attributes as their values).
    attrs: Vec<(String, Vec<String>)>,
    groups: Vec<Group>,
}

impl Group {
    fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(n, _)| n == name)
            .and_then(|(_, v)| v.first())
            .map(String::as_str)
    }
    fn attr_f64(&self, name: &str) -> Option<f64> {
        self.attr(name).and_then(|v| v.trim().parse().ok())
    }
    fn complex(&self, name: &str) -> Option<&Vec<String>> {
        self.attrs.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }
    fn groups<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = &'a Group> + 'a {
        self.groups.iter().filter(move |g| g.kind == kind)
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Str(String),
    Punct(u8),
    Eof,
}

struct Lexer<'a> {
    s: &'a [u8],
    pos: usize,
    line: usize,
}

impl<'a> Lexer<'a> {
    fn next(&mut self) -> Tok {
        loop {
            match self.s.get(self.pos) {
                None => return Tok::Eof,
                Some(b'\n') => {
                    self.line += 1;
                    self.pos += 1;
                }
                Some(b'\\') => self.pos += 1, // line continuation
                Some(c) if c.is_ascii_whitespace() => self.pos += 1,
                Some(b'/') if self.s.get(self.pos + 1) == Some(&b'*') => {
                    self.pos += 2;
                    while self.pos + 1 < self.s.len()
                        && !(self.s[self.pos] == b'*' && self.s[self.pos + 1] == b'/')
                    {
                        if self.s[self.pos] == b'\n' {
                            self.line += 1;
                        }
                        self.pos += 1;
                    }
                    self.pos += 2;
                }
                Some(b'/') if self.s.get(self.pos + 1) == Some(&b'/') => {
                    while self.pos < self.s.len() && self.s[self.pos] != b'\n' {
                        self.pos += 1;
                    }
                }
                Some(&c @ (b'(' | b')' | b'{' | b'}' | b':' | b';' | b',')) => {
                    self.pos += 1;
                    return Tok::Punct(c);
                }
                Some(b'"') => {
                    self.pos += 1;
                    let start = self.pos;
                    while self.pos < self.s.len() && self.s[self.pos] != b'"' {
                        if self.s[self.pos] == b'\n' {
                            self.line += 1;
                        }
                        self.pos += 1;
                    }
                    let text = String::from_utf8_lossy(&self.s[start..self.pos]).into_owned();
                    self.pos += 1;
                    return Tok::Str(text);
                }
                Some(_) => {
                    let start = self.pos;
                    while let Some(&c) = self.s.get(self.pos) {
                        if c.is_ascii_whitespace()
                            || matches!(c, b'(' | b')' | b'{' | b'}' | b':' | b';' | b',' | b'"')
                        {
                            break;
                        }
                        self.pos += 1;
                    }
                    return Tok::Word(
                        String::from_utf8_lossy(&self.s[start..self.pos]).into_owned(),
                    );
                }
            }
        }
    }
}

struct Parser<'a> {
    lex: Lexer<'a>,
    tok: Tok,
}

impl<'a> Parser<'a> {
    fn err(&self, m: &str) -> ReportError {
        ReportError::parse("Liberty file", format!("line {}: {m}", self.lex.line))
    }
    fn bump(&mut self) -> Tok {
        let t = self.lex.next();
        std::mem::replace(&mut self.tok, t)
    }
    fn text(t: Tok) -> String {
        match t {
            Tok::Word(s) | Tok::Str(s) => s,
            Tok::Punct(c) => (c as char).to_string(),
            Tok::Eof => String::new(),
        }
    }
    /// Inside a group: statements until `}`.
    fn body(&mut self, g: &mut Group) -> Result<(), ReportError> {
        loop {
            match self.bump() {
                Tok::Punct(b'}') => return Ok(()),
                Tok::Punct(b';') => {}
                Tok::Eof => return Err(self.err("unexpected end of file")),
                Tok::Word(name) | Tok::Str(name) => match self.bump() {
                    Tok::Punct(b':') => {
                        // simple attribute: value up to ';' (or a new line-ish next name)
                        let mut parts = Vec::new();
                        loop {
                            match &self.tok {
                                Tok::Punct(b';') => {
                                    self.bump();
                                    break;
                                }
                                Tok::Punct(b'}') | Tok::Eof => break,
                                _ => parts.push(Self::text(self.bump())),
                            }
                        }
                        g.attrs.push((name, vec![parts.join(" ")]));
                    }
                    Tok::Punct(b'(') => {
                        let mut args = Vec::new();
                        let mut depth = 0;
                        loop {
                            match self.bump() {
                                Tok::Punct(b')') if depth == 0 => break,
                                Tok::Punct(b')') => depth -= 1,
                                Tok::Punct(b'(') => depth += 1,
                                Tok::Punct(b',') => {}
                                Tok::Eof => return Err(self.err("unbalanced parentheses")),
                                t => args.push(Self::text(t)),
                            }
                        }
                        if self.tok == Tok::Punct(b'{') {
                            self.bump();
                            let mut sub = Group {
                                kind: name,
                                args,
                                ..Group::default()
                            };
                            self.body(&mut sub)?;
                            g.groups.push(sub);
                        } else {
                            if self.tok == Tok::Punct(b';') {
                                self.bump();
                            }
                            g.attrs.push((name, args));
                        }
                    }
                    t => return Err(self.err(&format!("unexpected {t:?} after {name}"))),
                },
                t => return Err(self.err(&format!("unexpected {t:?}"))),
            }
        }
    }
}

fn parse_groups(text: &str) -> Result<Group, ReportError> {
    let mut p = Parser {
        lex: Lexer {
            s: text.as_bytes(),
            pos: 0,
            line: 1,
        },
        tok: Tok::Eof,
    };
    p.bump();
    let mut root = Group::default();
    // the file is `library (name) { ... }`: parse as the body of a virtual root
    loop {
        match &p.tok {
            Tok::Eof => break,
            _ => {
                // wrap: statements until EOF
                let name = Parser::text(p.bump());
                if p.tok != Tok::Punct(b'(') {
                    return Err(p.err("expected '(' after the library keyword"));
                }
                p.bump();
                let mut args = Vec::new();
                loop {
                    match p.bump() {
                        Tok::Punct(b')') => break,
                        Tok::Punct(b',') => {}
                        Tok::Eof => return Err(p.err("unexpected end of file")),
                        t => args.push(Parser::text(t)),
                    }
                }
                if p.bump() != Tok::Punct(b'{') {
                    return Err(p.err("expected '{'"));
                }
                let mut g = Group {
                    kind: name,
                    args,
                    ..Group::default()
                };
                p.body(&mut g)?;
                root.groups.push(g);
            }
        }
    }
    root.groups
        .into_iter()
        .find(|g| g.kind == "library")
        .ok_or_else(|| ReportError::parse("Liberty file", "no library group"))
}

/// A 1-D or 2-D lookup table (`index_1` x `index_2`, values row-major).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Table {
    /// Input transition (ns) axis.
    pub slew: Vec<f64>,
    /// Output load (pF) axis (empty for a 1-D table).
    pub load: Vec<f64>,
    /// `values[i * load.len() + j]` at (slew[i], load[j]).
    pub values: Vec<f64>,
}

fn interp_axis(axis: &[f64], x: f64) -> (usize, usize, f64) {
    if axis.len() <= 1 {
        return (0, 0, 0.0);
    }
    // the segment holding x, extrapolating linearly beyond the ends (as OpenSTA does)
    let mut i = 0;
    while i + 2 < axis.len() && x > axis[i + 1] {
        i += 1;
    }
    let (a, b) = (axis[i], axis[i + 1]);
    let t = if b != a { (x - a) / (b - a) } else { 0.0 };
    (i, i + 1, t)
}

impl Table {
    /// Bilinear interpolation (linear extrapolation outside the table).
    pub fn lookup(&self, slew: f64, load: f64) -> f64 {
        if self.values.is_empty() {
            return 0.0;
        }
        let nl = self.load.len().max(1);
        let (i0, i1, ti) = interp_axis(&self.slew, slew);
        let (j0, j1, tj) = if self.load.is_empty() {
            (0, 0, 0.0)
        } else {
            interp_axis(&self.load, load)
        };
        let v = |i: usize, j: usize| self.values.get(i * nl + j).copied().unwrap_or(0.0);
        let a = v(i0, j0) + (v(i0, j1) - v(i0, j0)) * tj;
        let b = v(i1, j0) + (v(i1, j1) - v(i1, j0)) * tj;
        a + (b - a) * ti
    }
}

/// Internal energy of one transition (`internal_power` group).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct InternalPower {
    pub related_pin: Option<String>,
    pub when: Option<String>,
    pub rise: Table,
    pub fall: Table,
}

/// A timing arc to an output pin (for transition times).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TimingArc {
    pub related_pin: String,
    pub rise_transition: Table,
    pub fall_transition: Table,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Input,
    Output,
    Inout,
    Internal,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Pin {
    pub name: String,
    pub direction: Direction,
    /// Input capacitance (pF).
    pub capacitance: f64,
    pub function: Option<String>,
    pub clock: bool,
    pub internal_power: Vec<InternalPower>,
    pub timing: Vec<TimingArc>,
}

/// A flip-flop (`ff (IQ, IQN) { clocked_on; next_state; clear; preset }`) or a latch
/// (`enable` instead of `clocked_on`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StateElement {
    pub iq: String,
    pub iqn: String,
    /// Clock (flip-flop) or enable (latch) expression.
    pub clocked_on: String,
    /// Next-state (flip-flop) or data (latch) expression.
    pub next_state: String,
    pub clear: Option<String>,
    pub preset: Option<String>,
    pub latch: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Cell {
    pub name: String,
    pub area: f64,
    /// nW (the library's leakage unit converted).
    pub leakage_nw: f64,
    pub dont_use: bool,
    pub pins: Vec<Pin>,
    pub state: Option<StateElement>,
}

impl Cell {
    pub fn pin(&self, name: &str) -> Option<&Pin> {
        self.pins.iter().find(|p| p.name == name)
    }
}

/// The wire-load model (`wire_load`): capacitance per unit length and the length by
/// fanout.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct WireLoad {
    pub name: String,
    pub capacitance: f64,
    pub slope: f64,
    pub fanout_length: Vec<(u32, f64)>,
}

impl WireLoad {
    /// Wire capacitance (pF) of a net with `fanout` sinks: the length from the table,
    /// extrapolated past its end with `slope`, times the capacitance per length.
    pub fn capacitance(&self, fanout: u32) -> f64 {
        if fanout == 0 || self.fanout_length.is_empty() {
            return 0.0;
        }
        let length = match self.fanout_length.iter().find(|(f, _)| *f == fanout) {
            Some((_, l)) => *l,
            None => {
                let &(last_f, last_l) = self.fanout_length.last().unwrap();
                if fanout > last_f {
                    last_l + self.slope * (fanout - last_f) as f64
                } else {
                    // interpolate between neighbours
                    let mut below = self.fanout_length[0];
                    for &(f, l) in &self.fanout_length {
                        if f < fanout {
                            below = (f, l);
                        } else {
                            let t = (fanout - below.0) as f64 / (f - below.0).max(1) as f64;
                            return (below.1 + (l - below.1) * t) * self.capacitance;
                        }
                    }
                    below.1
                }
            }
        };
        length * self.capacitance
    }
}

/// A parsed Liberty library.
#[derive(Debug, Clone, PartialEq)]
pub struct Library {
    pub name: String,
    /// Supply voltage (V), from the default operating conditions (or `nom_voltage`).
    pub voltage: f64,
    /// Units: one table time unit in ns, one capacitance unit in pF, leakage in nW.
    pub time_unit_ns: f64,
    pub cap_unit_pf: f64,
    /// Internal-power table energies in pJ (voltage unit x capacitance unit).
    pub energy_unit_pj: f64,
    pub wire_load: Option<WireLoad>,
    pub cells: BTreeMap<String, Cell>,
}

fn parse_list(s: &str) -> Vec<f64> {
    s.split(|c: char| c == ',' || c.is_whitespace())
        .filter(|t| !t.is_empty())
        .filter_map(|t| t.parse().ok())
        .collect()
}

fn unit_value(s: &str, units: &[(&str, f64)]) -> Option<f64> {
    let s = s.trim().trim_matches('"').to_ascii_lowercase();
    for (suffix, scale) in units {
        if let Some(num) = s.strip_suffix(suffix) {
            let n: f64 = if num.trim().is_empty() {
                1.0
            } else {
                num.trim().parse().ok()?
            };
            return Some(n * scale);
        }
    }
    None
}

/// Template name -> whether variable_1 is the load (then the axes are swapped).
fn templates(lib: &Group) -> BTreeMap<String, bool> {
    let mut out = BTreeMap::new();
    for kind in ["lu_table_template", "power_lut_template"] {
        for t in lib.groups(kind) {
            let v1 = t.attr("variable_1").unwrap_or("");
            let load_first = v1.contains("capacitance");
            if let Some(name) = t.args.first() {
                out.insert(name.clone(), load_first);
            }
        }
    }
    out
}

fn table(g: &Group, swapped: &BTreeMap<String, bool>) -> Table {
    let i1 = g
        .complex("index_1")
        .map(|v| parse_list(&v.join(",")))
        .unwrap_or_default();
    let i2 = g
        .complex("index_2")
        .map(|v| parse_list(&v.join(",")))
        .unwrap_or_default();
    let values = g
        .complex("values")
        .map(|v| parse_list(&v.join(",")))
        .unwrap_or_default();
    let load_first = g
        .args
        .first()
        .and_then(|t| swapped.get(t))
        .copied()
        .unwrap_or(false);
    if values.len() == 1 && i1.is_empty() {
        // scalar table
        return Table {
            slew: Vec::new(),
            load: Vec::new(),
            values,
        };
    }
    if !load_first {
        Table {
            slew: i1,
            load: i2,
            values,
        }
    } else if i2.is_empty() {
        // 1-D table over load only: store as a 1 x n table
        Table {
            slew: vec![0.0],
            load: i1,
            values,
        }
    } else {
        // transpose to (slew, load)
        let (n1, n2) = (i1.len(), i2.len());
        let mut t = vec![0.0; values.len()];
        for a in 0..n1 {
            for b in 0..n2 {
                if let Some(&v) = values.get(a * n2 + b) {
                    t[b * n1 + a] = v;
                }
            }
        }
        Table {
            slew: i2,
            load: i1,
            values: t,
        }
    }
}

fn pin_of(p: &Group, swapped: &BTreeMap<String, bool>, cap_scale: f64) -> Vec<Pin> {
    let direction = match p.attr("direction").unwrap_or("") {
        "input" => Direction::Input,
        "output" => Direction::Output,
        "inout" => Direction::Inout,
        _ => Direction::Internal,
    };
    let internal_power: Vec<InternalPower> = p
        .groups("internal_power")
        .map(|ip| InternalPower {
            related_pin: ip.attr("related_pin").map(|s| s.trim().to_string()),
            when: ip.attr("when").map(str::to_string),
            rise: ip
                .groups("rise_power")
                .next()
                .map(|t| table(t, swapped))
                .unwrap_or_default(),
            fall: ip
                .groups("fall_power")
                .next()
                .map(|t| table(t, swapped))
                .unwrap_or_default(),
        })
        .collect();
    let timing: Vec<TimingArc> = p
        .groups("timing")
        .filter(|t| {
            matches!(
                t.attr("timing_type").unwrap_or("combinational"),
                "combinational"
                    | "rising_edge"
                    | "falling_edge"
                    | "combinational_rise"
                    | "combinational_fall"
                    | "three_state_enable"
                    | "three_state_disable"
            )
        })
        .filter_map(|t| {
            Some(TimingArc {
                related_pin: t.attr("related_pin")?.trim().to_string(),
                rise_transition: t
                    .groups("rise_transition")
                    .next()
                    .map(|x| table(x, swapped))
                    .unwrap_or_default(),
                fall_transition: t
                    .groups("fall_transition")
                    .next()
                    .map(|x| table(x, swapped))
                    .unwrap_or_default(),
            })
        })
        .collect();
    let capacitance = p
        .attr_f64("capacitance")
        .or_else(|| {
            let r = p.attr_f64("rise_capacitance")?;
            let f = p.attr_f64("fall_capacitance")?;
            Some((r + f) / 2.0)
        })
        .unwrap_or(0.0)
        * cap_scale;
    // `pin (A, B)` declares several pins alike
    p.args
        .iter()
        .map(|name| Pin {
            name: name.trim().to_string(),
            direction,
            capacitance,
            function: p.attr("function").map(str::to_string),
            clock: p.attr("clock") == Some("true"),
            internal_power: internal_power.clone(),
            timing: timing.clone(),
        })
        .collect()
}

impl Library {
    /// Parses a Liberty file.
    pub fn read(path: &Path) -> Result<Library, ReportError> {
        let text = std::fs::read_to_string(path).map_err(ReportError::io(path))?;
        Library::parse(&text)
    }

    pub fn parse(text: &str) -> Result<Library, ReportError> {
        let lib = parse_groups(text)?;
        let swapped = templates(&lib);
        let cap_pf = lib
            .complex("capacitive_load_unit")
            .and_then(|v| {
                let n: f64 = v.first()?.trim().parse().ok()?;
                let unit = v.get(1)?.trim().trim_matches('"').to_ascii_lowercase();
                Some(
                    n * match unit.as_str() {
                        "ff" => 1e-3,
                        "nf" => 1e3,
                        _ => 1.0,
                    },
                )
            })
            .unwrap_or(1.0);
        let time_ns = lib
            .attr("time_unit")
            .and_then(|s| unit_value(s, &[("ps", 1e-3), ("ns", 1.0), ("us", 1e3)]))
            .unwrap_or(1.0);
        let leak_nw = lib
            .attr("leakage_power_unit")
            .and_then(|s| {
                unit_value(
                    s,
                    &[
                        ("pw", 1e-3),
                        ("nw", 1.0),
                        ("uw", 1e3),
                        ("mw", 1e6),
                        ("w", 1e9),
                    ],
                )
            })
            .unwrap_or(1.0);
        let volt = lib
            .attr("voltage_unit")
            .and_then(|s| unit_value(s, &[("mv", 1e-3), ("v", 1.0)]))
            .unwrap_or(1.0);
        let default_op = lib.attr("default_operating_conditions");
        let voltage = lib
            .groups("operating_conditions")
            .find(|g| default_op.is_none() || g.args.first().map(String::as_str) == default_op)
            .and_then(|g| g.attr_f64("voltage"))
            .or_else(|| lib.attr_f64("nom_voltage"))
            .unwrap_or(1.0)
            * volt;
        let default_wl = lib.attr("default_wire_load");
        let wire_load = lib
            .groups("wire_load")
            .find(|g| default_wl.is_none() || g.args.first().map(String::as_str) == default_wl)
            .map(|g| WireLoad {
                name: g.args.first().cloned().unwrap_or_default(),
                capacitance: g.attr_f64("capacitance").unwrap_or(0.0) * cap_pf,
                slope: g.attr_f64("slope").unwrap_or(0.0),
                fanout_length: g
                    .attrs
                    .iter()
                    .filter(|(n, _)| n == "fanout_length")
                    .filter_map(|(_, v)| {
                        Some((
                            v.first()?.trim().parse().ok()?,
                            v.get(1)?.trim().parse().ok()?,
                        ))
                    })
                    .collect(),
            });
        let mut cells = BTreeMap::new();
        for c in lib.groups("cell") {
            let Some(name) = c.args.first() else { continue };
            let leakage = c.attr_f64("cell_leakage_power").unwrap_or_else(|| {
                let states: Vec<f64> = c
                    .groups("leakage_power")
                    .filter_map(|g| g.attr_f64("value"))
                    .collect();
                if states.is_empty() {
                    0.0
                } else {
                    states.iter().sum::<f64>() / states.len() as f64
                }
            }) * leak_nw;
            let mut pins = Vec::new();
            for p in c.groups("pin") {
                pins.extend(pin_of(p, &swapped, cap_pf));
            }
            for b in c.groups("bus").chain(c.groups("bundle")) {
                for p in b.groups("pin") {
                    pins.extend(pin_of(p, &swapped, cap_pf));
                }
            }
            let state = c
                .groups("ff")
                .next()
                .map(|g| (g, false))
                .or_else(|| c.groups("latch").next().map(|g| (g, true)))
                .map(|(g, latch)| StateElement {
                    iq: g.args.first().cloned().unwrap_or_default(),
                    iqn: g.args.get(1).cloned().unwrap_or_default(),
                    clocked_on: g
                        .attr(if latch { "enable" } else { "clocked_on" })
                        .unwrap_or("")
                        .to_string(),
                    next_state: g
                        .attr(if latch { "data_in" } else { "next_state" })
                        .unwrap_or("")
                        .to_string(),
                    clear: g.attr("clear").map(str::to_string),
                    preset: g.attr("preset").map(str::to_string),
                    latch,
                });
            cells.insert(
                name.clone(),
                Cell {
                    name: name.clone(),
                    area: c.attr_f64("area").unwrap_or(0.0),
                    leakage_nw: leakage,
                    dont_use: c.attr("dont_use") == Some("true"),
                    pins,
                    state,
                },
            );
        }
        Ok(Library {
            name: lib.args.first().cloned().unwrap_or_default(),
            voltage,
            time_unit_ns: time_ns,
            cap_unit_pf: cap_pf,
            energy_unit_pj: volt * cap_pf,
            wire_load,
            cells,
        })
    }
}

/// The Liberty text with `dont_use : true;` added to the multi-power-domain (`lpflow_`)
/// and probe cells of sky130 (what `../shared/pdk/README.md` recommends, so ABC does not
/// pick them); other libraries pass through unchanged.
pub fn with_dont_use(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 4096);
    for line in text.split_inclusive('\n') {
        out.push_str(line);
        let t = line.trim();
        if t.starts_with("cell (\"") && t.ends_with('{') {
            let name = t
                .trim_start_matches("cell (\"")
                .split('"')
                .next()
                .unwrap_or("");
            if let Some((_, rest)) = name.split_once("__") {
                if rest.starts_with("lpflow_") || rest.starts_with("probe") {
                    if !line.ends_with('\n') {
                        out.push('\n');
                    }
                    out.push_str("        dont_use : true;\n");
                }
            }
        }
    }
    out
}

/// A Boolean expression of a Liberty `function` (`!`, `'`, `&`, `*`, juxtaposition,
/// `|`, `+`, `^`, parentheses, `0`/`1`), compiled over named inputs.
#[derive(Debug, Clone, PartialEq)]
pub enum BoolExpr {
    Const(bool),
    Var(String),
    Not(Box<BoolExpr>),
    And(Box<BoolExpr>, Box<BoolExpr>),
    Or(Box<BoolExpr>, Box<BoolExpr>),
    Xor(Box<BoolExpr>, Box<BoolExpr>),
}

impl BoolExpr {
    pub fn parse(s: &str) -> Result<BoolExpr, ReportError> {
        let toks: Vec<char> = s
            .chars()
            .filter(|c| !c.is_whitespace() || *c == ' ')
            .collect();
        let mut p = BoolParser { t: toks, i: 0 };
        let e = p.or()?;
        p.skip();
        if p.i < p.t.len() {
            return Err(ReportError::parse(
                "Liberty function",
                format!("{s:?}: unexpected {:?}", p.t[p.i]),
            ));
        }
        Ok(e)
    }

    pub fn eval(&self, v: &dyn Fn(&str) -> bool) -> bool {
        match self {
            BoolExpr::Const(c) => *c,
            BoolExpr::Var(n) => v(n),
            BoolExpr::Not(a) => !a.eval(v),
            BoolExpr::And(a, b) => a.eval(v) && b.eval(v),
            BoolExpr::Or(a, b) => a.eval(v) || b.eval(v),
            BoolExpr::Xor(a, b) => a.eval(v) ^ b.eval(v),
        }
    }

    pub fn vars(&self, out: &mut Vec<String>) {
        match self {
            BoolExpr::Const(_) => {}
            BoolExpr::Var(n) => {
                if !out.contains(n) {
                    out.push(n.clone())
                }
            }
            BoolExpr::Not(a) => a.vars(out),
            BoolExpr::And(a, b) | BoolExpr::Or(a, b) | BoolExpr::Xor(a, b) => {
                a.vars(out);
                b.vars(out)
            }
        }
    }
}

struct BoolParser {
    t: Vec<char>,
    i: usize,
}

impl BoolParser {
    fn skip(&mut self) {
        while self.i < self.t.len() && self.t[self.i] == ' ' {
            self.i += 1;
        }
    }
    fn peek(&mut self) -> Option<char> {
        self.skip();
        self.t.get(self.i).copied()
    }
    fn or(&mut self) -> Result<BoolExpr, ReportError> {
        let mut a = self.xor()?;
        while matches!(self.peek(), Some('|') | Some('+')) {
            self.i += 1;
            let b = self.xor()?;
            a = BoolExpr::Or(Box::new(a), Box::new(b));
        }
        Ok(a)
    }
    fn xor(&mut self) -> Result<BoolExpr, ReportError> {
        let mut a = self.and()?;
        while self.peek() == Some('^') {
            self.i += 1;
            let b = self.and()?;
            a = BoolExpr::Xor(Box::new(a), Box::new(b));
        }
        Ok(a)
    }
    fn and(&mut self) -> Result<BoolExpr, ReportError> {
        let mut a = self.unary()?;
        loop {
            match self.peek() {
                Some('&') | Some('*') => {
                    self.i += 1;
                    let b = self.unary()?;
                    a = BoolExpr::And(Box::new(a), Box::new(b));
                }
                // juxtaposition: `A B` is AND
                Some(c) if c.is_alphanumeric() || c == '_' || c == '(' || c == '!' => {
                    let b = self.unary()?;
                    a = BoolExpr::And(Box::new(a), Box::new(b));
                }
                _ => return Ok(a),
            }
        }
    }
    fn unary(&mut self) -> Result<BoolExpr, ReportError> {
        let mut e = match self.peek() {
            Some('!') => {
                self.i += 1;
                BoolExpr::Not(Box::new(self.unary()?))
            }
            Some('(') => {
                self.i += 1;
                let e = self.or()?;
                if self.peek() != Some(')') {
                    return Err(ReportError::parse("Liberty function", "missing ')'"));
                }
                self.i += 1;
                e
            }
            Some(c) if c.is_alphanumeric() || c == '_' => {
                let start = self.i;
                while self.i < self.t.len()
                    && (self.t[self.i].is_alphanumeric()
                        || matches!(self.t[self.i], '_' | '[' | ']' | '.'))
                {
                    self.i += 1;
                }
                let name: String = self.t[start..self.i].iter().collect();
                match name.as_str() {
                    "0" => BoolExpr::Const(false),
                    "1" => BoolExpr::Const(true),
                    _ => BoolExpr::Var(name),
                }
            }
            other => {
                return Err(ReportError::parse(
                    "Liberty function",
                    format!("unexpected {other:?}"),
                ))
            }
        };
        // postfix complement A'
        while self.t.get(self.i) == Some(&'\'') {
            self.i += 1;
            e = BoolExpr::Not(Box::new(e));
        }
        Ok(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIB: &str = r#"
library ("tiny") {
  time_unit : "1ns";
  voltage_unit : "1V";
  leakage_power_unit : "1nW";
  capacitive_load_unit(1.0000000000, "pf");
  default_operating_conditions : "tt";
  operating_conditions ("tt") { voltage : 1.8; }
  wire_load("Small") { capacitance : 0.001; slope : 5.0; fanout_length( 1, 2.0); fanout_length( 2, 3.0); }
  default_wire_load : "Small" ;
  power_lut_template ("p2") { variable_1 : "input_transition_time"; variable_2 : "total_output_net_capacitance";
    index_1("1, 2"); index_2("1, 2"); }
  cell ("nand2") {
    area : 3.75;
    cell_leakage_power : 2.0;
    pin ("A") { direction : "input"; capacitance : 0.002; }
    pin ("B") { direction : "input"; capacitance : 0.003; }
    pin ("Y") { direction : "output"; function : "(!A) | (!B)";
      internal_power () { related_pin : "A";
        rise_power ("p2") { index_1("0.0, 1.0"); index_2("0.0, 0.1"); values("1.0, 2.0", \
           "3.0, 4.0"); }
        fall_power ("p2") { index_1("0.0, 1.0"); index_2("0.0, 0.1"); values("1.0, 1.0", "1.0, 1.0"); }
      }
    }
  }
  cell ("dff") {
    area : 20.0;
    ff ("IQ","IQ_N") { clocked_on : "CLK"; next_state : "D"; }
    pin ("CLK") { direction : "input"; clock : "true"; capacitance : 0.0018; }
    pin ("D") { direction : "input"; capacitance : 0.0017; }
    pin ("Q") { direction : "output"; function : "IQ"; }
  }
}
"#;

    #[test]
    fn reads_cells_tables_and_units() {
        let lib = Library::parse(LIB).unwrap();
        assert_eq!(lib.voltage, 1.8);
        let n = &lib.cells["nand2"];
        assert_eq!(n.area, 3.75);
        assert_eq!(n.leakage_nw, 2.0);
        let y = n.pin("Y").unwrap();
        assert_eq!(y.function.as_deref(), Some("(!A) | (!B)"));
        let t = &y.internal_power[0].rise;
        assert_eq!(t.lookup(0.0, 0.0), 1.0);
        assert_eq!(t.lookup(1.0, 0.1), 4.0);
        assert!((t.lookup(0.5, 0.05) - 2.5).abs() < 1e-12);
        // linear extrapolation beyond the table
        assert!((t.lookup(2.0, 0.0) - 5.0).abs() < 1e-12);
        let d = &lib.cells["dff"];
        assert_eq!(d.state.as_ref().unwrap().next_state, "D");
        let wl = lib.wire_load.as_ref().unwrap();
        assert!((wl.capacitance(2) - 0.003).abs() < 1e-12);
        assert!((wl.capacitance(4) - (3.0 + 2.0 * 5.0) * 0.001).abs() < 1e-12);
    }

    #[test]
    fn boolean_functions() {
        let e = BoolExpr::parse("(A1&A2) | !(B1 ^ B2)").unwrap();
        let f = |a1, a2, b1, b2| {
            e.eval(&|n: &str| match n {
                "A1" => a1,
                "A2" => a2,
                "B1" => b1,
                _ => b2,
            })
        };
        assert!(f(true, true, true, false));
        assert!(f(false, false, true, true));
        assert!(!f(false, true, true, false));
        let e = BoolExpr::parse("A B' + C").unwrap();
        assert!(e.eval(&|n| n == "A"));
        assert!(!e.eval(&|n| n == "A" || n == "B"));
    }

    #[test]
    fn dont_use_marks_lpflow_and_probe_cells() {
        let text = "  cell (\"sky130_fd_sc_hd__lpflow_inputiso0n_1\") {\n  area : 1;\n  }\n  cell (\"sky130_fd_sc_hd__inv_1\") {\n";
        let out = with_dont_use(text);
        assert_eq!(out.matches("dont_use : true;").count(), 1);
        assert!(out.find("dont_use").unwrap() < out.find("inv_1").unwrap());
    }
}
