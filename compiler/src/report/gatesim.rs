//! A zero-delay, cycle-based simulator of a mapped gate-level netlist (yosys JSON of
//! Liberty cells), counting every net's rising and falling transitions: the switching
//! activity the power estimate uses ([`super::power`]).
//!
//! Each cycle: the clock edge loads every flip-flop from the settled values of the
//! previous cycle, the new input vector is applied, the combinational cells are evaluated
//! once in topological order (each output from its cell's truth table, compiled from the
//! Liberty `function`), and every net whose settled value changed counts one transition.
//! Zero delay means glitches (transient transitions inside a cycle) are not counted: the
//! activity is the functional minimum. The clock net is not simulated; it has two
//! transitions per cycle.

use super::liberty::{BoolExpr, Cell, Direction, Library};
use super::tools::ReportError;
use std::collections::{BTreeMap, HashMap};

/// A connection: a net or a constant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NetRef {
    Net(u32),
    Const(bool),
}

/// One cell instance of the netlist.
#[derive(Debug, Clone)]
pub struct GateCell {
    pub name: String,
    pub cell: String,
    /// `(pin, connection)`.
    pub pins: Vec<(String, NetRef)>,
    /// Output pins, when the netlist says (yosys internal cells); library cells take
    /// directions from the Liberty file.
    pub outputs: Vec<String>,
    /// yosys `src` attribute (`file:line.col-line.col|...`, outermost instance first).
    pub src: Option<String>,
}

impl GateCell {
    pub fn pin(&self, name: &str) -> Option<NetRef> {
        self.pins.iter().find(|(p, _)| p == name).map(|(_, n)| *n)
    }
}

/// A flat netlist of library (or yosys internal) cells.
#[derive(Debug, Clone)]
pub struct Netlist {
    pub top: String,
    pub net_count: u32,
    /// A public name of each net, where it has one (`name[bit]`).
    pub net_names: Vec<Option<String>>,
    /// Every name of every net bit (`name` or `name[bit]`), as yosys lists them.
    pub aliases: Vec<(String, NetRef)>,
    pub cells: Vec<GateCell>,
    /// Port name -> bits (LSB first).
    pub inputs: BTreeMap<String, Vec<NetRef>>,
    pub outputs: BTreeMap<String, Vec<NetRef>>,
}

// The parts of yosys' `write_json` format this reader needs (typed, so a large netlist
// does not become a tree of generic values).
#[derive(serde::Deserialize)]
struct JsonNetlist {
    modules: BTreeMap<String, JsonModule>,
}

#[derive(serde::Deserialize)]
struct JsonModule {
    #[serde(default)]
    ports: BTreeMap<String, JsonPort>,
    #[serde(default)]
    cells: BTreeMap<String, JsonCell>,
    #[serde(default)]
    netnames: BTreeMap<String, JsonNet>,
}

/// The same without net names (they are most of a large netlist's memory).
#[derive(serde::Deserialize)]
struct JsonNetlistCells {
    modules: BTreeMap<String, JsonModuleCells>,
}

#[derive(serde::Deserialize)]
struct JsonModuleCells {
    #[serde(default)]
    ports: BTreeMap<String, JsonPort>,
    #[serde(default)]
    cells: BTreeMap<String, JsonCell>,
}

#[derive(serde::Deserialize)]
struct JsonPort {
    direction: String,
    bits: Vec<JsonBit>,
}

#[derive(serde::Deserialize)]
struct JsonCell {
    #[serde(rename = "type")]
    ty: String,
    #[serde(default)]
    port_directions: BTreeMap<String, String>,
    #[serde(default)]
    connections: BTreeMap<String, Vec<JsonBit>>,
    #[serde(default)]
    attributes: JsonAttributes,
}

#[derive(serde::Deserialize, Default)]
struct JsonAttributes {
    src: Option<String>,
}

#[derive(serde::Deserialize)]
struct JsonNet {
    bits: Vec<JsonBit>,
    #[serde(default)]
    hide_name: u8,
}

#[derive(serde::Deserialize, Clone)]
#[serde(untagged)]
enum JsonBit {
    Net(i64),
    Const(String),
}

struct NetMap {
    map: HashMap<i64, u32>,
    count: u32,
}

impl NetMap {
    fn get(&mut self, b: &JsonBit) -> NetRef {
        match b {
            JsonBit::Net(id) => {
                let next = self.count;
                let k = *self.map.entry(*id).or_insert(next);
                if k == next {
                    self.count += 1;
                }
                NetRef::Net(k)
            }
            JsonBit::Const(s) => NetRef::Const(s == "1"),
        }
    }
}

impl Netlist {
    /// Reads a yosys `write_json` netlist without its net names (`net_names` and
    /// `aliases` stay empty): cells, ports and connections only.
    pub fn from_yosys_json_cells(text: &str, top: &str) -> Result<Netlist, ReportError> {
        let j: JsonNetlistCells = serde_json::from_str(text)
            .map_err(|e| ReportError::parse("yosys JSON netlist", e.to_string()))?;
        let only = j.modules.len() == 1;
        let (name, m) = j
            .modules
            .into_iter()
            .find(|(n, _)| n == top || only)
            .ok_or_else(|| ReportError::parse("yosys JSON netlist", format!("no module {top}")))?;
        Netlist::build(
            name,
            JsonModule {
                ports: m.ports,
                cells: m.cells,
                netnames: BTreeMap::new(),
            },
        )
    }

    /// Reads a yosys `write_json` netlist (module `top`, or the only module).
    pub fn from_yosys_json(text: &str, top: &str) -> Result<Netlist, ReportError> {
        let j: JsonNetlist = serde_json::from_str(text)
            .map_err(|e| ReportError::parse("yosys JSON netlist", e.to_string()))?;
        let only = j.modules.len() == 1;
        let (name, m) = j
            .modules
            .into_iter()
            .find(|(n, _)| n == top || only)
            .ok_or_else(|| ReportError::parse("yosys JSON netlist", format!("no module {top}")))?;
        Netlist::build(name, m)
    }

    fn build(name: String, m: JsonModule) -> Result<Netlist, ReportError> {
        let mut nets = NetMap {
            map: HashMap::new(),
            count: 0,
        };
        let mut inputs = BTreeMap::new();
        let mut outputs = BTreeMap::new();
        for (pname, p) in &m.ports {
            let bits: Vec<NetRef> = p.bits.iter().map(|b| nets.get(b)).collect();
            if p.direction == "input" {
                inputs.insert(pname.clone(), bits);
            } else {
                outputs.insert(pname.clone(), bits);
            }
        }
        let mut cells = Vec::with_capacity(m.cells.len());
        for (cname, c) in m.cells {
            let mut pins = Vec::new();
            for (pin, bits) in &c.connections {
                if bits.len() == 1 {
                    pins.push((pin.clone(), nets.get(&bits[0])));
                } else {
                    for (i, b) in bits.iter().enumerate() {
                        pins.push((format!("{pin}[{i}]"), nets.get(b)));
                    }
                }
            }
            let outputs: Vec<String> = c
                .port_directions
                .iter()
                .filter(|(_, d)| d.as_str() == "output")
                .flat_map(|(p, _)| {
                    let n = c.connections.get(p).map_or(1, Vec::len);
                    if n == 1 {
                        vec![p.clone()]
                    } else {
                        (0..n).map(|i| format!("{p}[{i}]")).collect()
                    }
                })
                .collect();
            cells.push(GateCell {
                name: cname,
                cell: c.ty,
                pins,
                outputs,
                src: c.attributes.src,
            });
        }
        let mut net_names: Vec<Option<String>> = vec![None; nets.count as usize];
        let mut aliases = Vec::new();
        for (n, info) in &m.netnames {
            let hidden = info.hide_name == 1;
            let single = info.bits.len() == 1;
            for (i, b) in info.bits.iter().enumerate() {
                let r = nets.get(b);
                // a split single-bit wire keeps its `name[k]` name
                let alias = if single {
                    n.clone()
                } else {
                    format!("{n}[{i}]")
                };
                if let NetRef::Net(k) = r {
                    let k = k as usize;
                    if k >= net_names.len() {
                        net_names.resize(k + 1, None);
                    }
                    let better = match &net_names[k] {
                        None => true,
                        Some(old) => !hidden && (old.starts_with('$') || alias.len() < old.len()),
                    };
                    if better {
                        net_names[k] = Some(alias.clone());
                    }
                }
                aliases.push((alias, r));
            }
        }
        net_names.resize(nets.count as usize, None);
        Ok(Netlist {
            top: name,
            net_count: nets.count,
            net_names,
            aliases,
            cells,
            inputs,
            outputs,
        })
    }

    /// Which layer (top-level instance) each cell belongs to, for a flattened netlist:
    /// a flip-flop by its `src` attribute (its outermost part is the top-level instance
    /// statement it came through; `instance_at_line` maps that line to the instance), and
    /// every combinational cell by the first flip-flop (in cell order) whose input cone
    /// reaches it. Cells no flip-flop reaches belong to `top`. `is_output(cell, pin)` tells
    /// output pins; `is_ff(cell)` tells flip-flops.
    pub fn attribute(
        &self,
        is_ff: &dyn Fn(&GateCell) -> bool,
        is_output: &dyn Fn(&GateCell, &str) -> bool,
        instance_at_line: &dyn Fn(usize) -> Option<String>,
    ) -> Vec<String> {
        let mut driver: HashMap<u32, usize> = HashMap::new();
        for (i, c) in self.cells.iter().enumerate() {
            for (pin, r) in &c.pins {
                if let NetRef::Net(k) = r {
                    if is_output(c, pin) {
                        driver.insert(*k, i);
                    }
                }
            }
        }
        let mut owner: Vec<Option<String>> = vec![None; self.cells.len()];
        let ff_owner = |c: &GateCell| -> String {
            c.src
                .as_deref()
                .filter(|s| s.contains('|'))
                .and_then(|s| s.split('|').next())
                .and_then(|first| {
                    // file:line.col-line.col
                    let after = first.rsplit_once(':')?.1;
                    after.split('.').next()?.parse::<usize>().ok()
                })
                .and_then(instance_at_line)
                .unwrap_or_else(|| "top".to_string())
        };
        for (i, c) in self.cells.iter().enumerate() {
            if !is_ff(c) {
                continue;
            }
            let o = ff_owner(c);
            owner[i] = Some(o.clone());
            // the input cone, up to other flip-flops and primary inputs
            let mut stack: Vec<u32> = c
                .pins
                .iter()
                .filter(|(p, _)| !is_output(c, p))
                .filter_map(|(_, r)| match r {
                    NetRef::Net(k) => Some(*k),
                    _ => None,
                })
                .collect();
            while let Some(n) = stack.pop() {
                let Some(&d) = driver.get(&n) else { continue };
                if owner[d].is_some() || is_ff(&self.cells[d]) {
                    continue;
                }
                owner[d] = Some(o.clone());
                let dc = &self.cells[d];
                for (p, r) in &dc.pins {
                    if let NetRef::Net(k) = r {
                        if !is_output(dc, p) {
                            stack.push(*k);
                        }
                    }
                }
            }
        }
        owner
            .into_iter()
            .map(|o| o.unwrap_or_else(|| "top".to_string()))
            .collect()
    }
}

/// A compiled combinational output: a truth table over input nets.
struct CombOut {
    out: u32,
    inputs: Vec<u32>,
    table: Vec<u64>,
}

/// A compiled sequential cell.
struct Seq {
    /// Nets read by next_state/clear/preset (input pins).
    inputs: Vec<u32>,
    /// Truth tables over (inputs..., IQ): next state, clear, preset.
    next: Vec<u64>,
    clear: Option<Vec<u64>>,
    preset: Option<Vec<u64>>,
    /// Outputs as tables over (IQ, IQN=!IQ) and inputs: `(net, table over inputs + IQ)`.
    outs: Vec<(u32, Vec<u64>)>,
    state: bool,
}

fn table_of(expr: &BoolExpr, vars: &[String]) -> Vec<u64> {
    let n = vars.len();
    let size = 1usize << n;
    let mut t = vec![0u64; size.div_ceil(64)];
    for idx in 0..size {
        let val = |name: &str| {
            vars.iter()
                .position(|v| v == name)
                .map(|k| idx >> k & 1 == 1)
                .unwrap_or(false)
        };
        if expr.eval(&val) {
            t[idx >> 6] |= 1 << (idx & 63);
        }
    }
    t
}

#[inline]
fn lookup(table: &[u64], idx: usize) -> bool {
    table[idx >> 6] >> (idx & 63) & 1 == 1
}

/// Transition counts of one simulation.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Activity {
    /// Cycles counted.
    pub cycles: u64,
    pub rises: Vec<u64>,
    pub falls: Vec<u64>,
}

impl Activity {
    pub fn toggles(&self, net: u32) -> u64 {
        self.rises[net as usize] + self.falls[net as usize]
    }
}

/// A netlist compiled for simulation.
pub struct Simulator<'n> {
    netlist: &'n Netlist,
    comb: Vec<CombOut>,
    seq: Vec<Seq>,
    values: Vec<u8>,
    /// The clock net (not simulated).
    pub clock: Option<u32>,
}

const MAX_INPUTS: usize = 16;

impl<'n> Simulator<'n> {
    /// Compiles `netlist` against `lib`; `clock` names the clock port.
    pub fn new(
        netlist: &'n Netlist,
        lib: &Library,
        clock: &str,
    ) -> Result<Simulator<'n>, ReportError> {
        let n = netlist.net_count as usize;
        // two extra nets hold the constants
        let const0 = n as u32;
        let const1 = n as u32 + 1;
        let net = |r: NetRef| match r {
            NetRef::Net(k) => k,
            NetRef::Const(false) => const0,
            NetRef::Const(true) => const1,
        };
        let clock_net = netlist
            .inputs
            .get(clock)
            .and_then(|b| b.first())
            .and_then(|r| match r {
                NetRef::Net(k) => Some(*k),
                _ => None,
            });
        let mut comb_unordered: Vec<CombOut> = Vec::new();
        let mut seq = Vec::new();
        for c in &netlist.cells {
            let cell: &Cell = lib.cells.get(&c.cell).ok_or_else(|| {
                ReportError::parse(
                    "mapped netlist",
                    format!(
                        "cell {} has type {}, which is not in the Liberty file",
                        c.name, c.cell
                    ),
                )
            })?;
            let conn = |pin: &str| c.pin(pin).map(net);
            if let Some(st) = &cell.state {
                let mut vars: Vec<String> = cell
                    .pins
                    .iter()
                    .filter(|p| p.direction == Direction::Input && !p.clock)
                    .map(|p| p.name.clone())
                    .collect();
                vars.retain(|v| c.pin(v).is_some());
                if vars.len() + 2 > MAX_INPUTS {
                    return Err(ReportError::parse(
                        "mapped netlist",
                        format!("cell {} has too many inputs", c.cell),
                    ));
                }
                let mut all = vars.clone();
                all.push(st.iq.clone());
                all.push(st.iqn.clone());
                // IQN is always !IQ: tables over (inputs, IQ, IQN) evaluated consistently
                let next = BoolExpr::parse(&st.next_state)?;
                let clear = st.clear.as_deref().map(BoolExpr::parse).transpose()?;
                let preset = st.preset.as_deref().map(BoolExpr::parse).transpose()?;
                let outs = cell
                    .pins
                    .iter()
                    .filter(|p| p.direction == Direction::Output)
                    .filter_map(|p| {
                        let f = p.function.as_deref()?;
                        let out = conn(&p.name)?;
                        Some(BoolExpr::parse(f).map(|e| (out, table_of(&e, &all))))
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                seq.push(Seq {
                    inputs: vars.iter().map(|v| conn(v).unwrap()).collect(),
                    next: table_of(&next, &all),
                    clear: clear.map(|e| table_of(&e, &all)),
                    preset: preset.map(|e| table_of(&e, &all)),
                    outs,
                    state: false,
                });
                continue;
            }
            for p in cell
                .pins
                .iter()
                .filter(|p| p.direction == Direction::Output)
            {
                let (Some(f), Some(out)) = (p.function.as_deref(), conn(&p.name)) else {
                    continue;
                };
                let e = BoolExpr::parse(f)?;
                let mut vars = Vec::new();
                e.vars(&mut vars);
                if vars.len() > MAX_INPUTS {
                    return Err(ReportError::parse(
                        "mapped netlist",
                        format!("cell {} has too many inputs", c.cell),
                    ));
                }
                let inputs = vars.iter().map(|v| conn(v).unwrap_or(const0)).collect();
                comb_unordered.push(CombOut {
                    out,
                    inputs,
                    table: table_of(&e, &vars),
                });
            }
        }
        // topological order of the combinational outputs
        let mut driver: HashMap<u32, usize> = HashMap::new();
        for (i, c) in comb_unordered.iter().enumerate() {
            driver.insert(c.out, i);
        }
        let mut state = vec![0u8; comb_unordered.len()]; // 0 new, 1 visiting, 2 done
        let mut order = Vec::with_capacity(comb_unordered.len());
        for start in 0..comb_unordered.len() {
            if state[start] != 0 {
                continue;
            }
            let mut stack = vec![(start, 0usize)];
            state[start] = 1;
            while let Some(&mut (i, ref mut k)) = stack.last_mut() {
                if *k < comb_unordered[i].inputs.len() {
                    let inp = comb_unordered[i].inputs[*k];
                    *k += 1;
                    if let Some(&j) = driver.get(&inp) {
                        match state[j] {
                            0 => {
                                state[j] = 1;
                                stack.push((j, 0));
                            }
                            1 => {
                                return Err(ReportError::parse(
                                    "mapped netlist",
                                    format!(
                                        "combinational loop through net {}",
                                        netlist
                                            .net_names
                                            .get(inp as usize)
                                            .cloned()
                                            .flatten()
                                            .unwrap_or_else(|| inp.to_string())
                                    ),
                                ))
                            }
                            _ => {}
                        }
                    }
                } else {
                    state[i] = 2;
                    order.push(i);
                    stack.pop();
                }
            }
        }
        let mut slots: Vec<Option<CombOut>> = comb_unordered.into_iter().map(Some).collect();
        let comb = order
            .into_iter()
            .map(|i| slots[i].take().unwrap())
            .collect();
        let mut values = vec![0u8; n + 2];
        values[const1 as usize] = 1;
        Ok(Simulator {
            netlist,
            comb,
            seq,
            values,
            clock: clock_net,
        })
    }

    fn index(&self, nets: &[u32], extra: &[bool]) -> usize {
        let mut idx = 0usize;
        for (k, &n) in nets.iter().enumerate() {
            idx |= (self.values[n as usize] as usize) << k;
        }
        for (k, &b) in extra.iter().enumerate() {
            idx |= (b as usize) << (nets.len() + k);
        }
        idx
    }

    #[inline]
    fn set(&mut self, net: u32, v: u8, activity: Option<&mut Activity>) {
        let old = self.values[net as usize];
        if old != v {
            self.values[net as usize] = v;
            if let Some(a) = activity {
                if (net as usize) < a.rises.len() {
                    if v == 1 {
                        a.rises[net as usize] += 1;
                    } else {
                        a.falls[net as usize] += 1;
                    }
                }
            }
        }
    }

    /// One clock cycle: edge (flip-flops load), then `inputs` applied, then settle.
    /// Transitions are added to `activity` when given.
    pub fn cycle(&mut self, inputs: &[(u32, bool)], mut activity: Option<&mut Activity>) {
        // clock edge
        let mut next = Vec::with_capacity(self.seq.len());
        for s in &self.seq {
            let iq = s.state;
            let idx = self.index(&s.inputs, &[iq, !iq]);
            let mut v = lookup(&s.next, idx);
            if let Some(c) = &s.clear {
                if lookup(c, idx) {
                    v = false;
                }
            }
            if let Some(p) = &s.preset {
                if lookup(p, idx) {
                    v = true;
                }
            }
            next.push(v);
        }
        for (s, v) in self.seq.iter_mut().zip(next) {
            s.state = v;
        }
        for i in 0..self.seq.len() {
            let iq = self.seq[i].state;
            let idx = self.index(&self.seq[i].inputs, &[iq, !iq]);
            for k in 0..self.seq[i].outs.len() {
                let (net, ref table) = self.seq[i].outs[k];
                let v = lookup(table, idx) as u8;
                self.set(net, v, activity.as_deref_mut());
            }
        }
        for &(net, v) in inputs {
            self.set(net, v as u8, activity.as_deref_mut());
        }
        for i in 0..self.comb.len() {
            let c = &self.comb[i];
            let mut idx = 0usize;
            for (k, &n) in c.inputs.iter().enumerate() {
                idx |= (self.values[n as usize] as usize) << k;
            }
            let v = lookup(&c.table, idx) as u8;
            let out = c.out;
            self.set(out, v, activity.as_deref_mut());
        }
        if let Some(a) = activity {
            a.cycles += 1;
        }
    }

    /// The settled value of a net.
    pub fn value(&self, r: NetRef) -> bool {
        match r {
            NetRef::Net(k) => self.values[k as usize] == 1,
            NetRef::Const(b) => b,
        }
    }

    pub fn netlist(&self) -> &Netlist {
        self.netlist
    }

    /// Drives bits of an input port from a little-endian bit vector.
    pub fn port_assignment(&self, port: &str, bits: &[bool]) -> Vec<(u32, bool)> {
        let Some(nets) = self.netlist.inputs.get(port) else {
            return Vec::new();
        };
        nets.iter()
            .zip(bits)
            .filter_map(|(r, &b)| match r {
                NetRef::Net(k) => Some((*k, b)),
                _ => None,
            })
            .collect()
    }
}

/// The `in_data` bus of each input vector (integer lanes), as the bits
/// [`stream_activity`] drives (LSB first).
pub fn bus_bits(values: &[Vec<i64>], lanes: &[aecc_testbench::Lane]) -> Vec<Vec<bool>> {
    let width: usize = lanes.iter().map(|l| l.width as usize).sum();
    values
        .iter()
        .map(|x| {
            let bus = aecc_testbench::pack_lanes(x, lanes);
            (0..width)
                .map(|b| bus[b / 64] >> (b % 64) & 1 == 1)
                .collect()
        })
        .collect()
}

/// Runs the netlist of an aecc design (`clk`, `rst`, `in_valid`, `in_data`) on `vectors`
/// (packed `in_data` buses, LSB first): two reset cycles; then, for a design with a
/// configuration port (`cfg_we`, `cfg_addr`, `cfg_data`: weights in registers), the
/// words of `config` (`(address, word)`), one per cycle with `in_valid` low, as the
/// co-simulation harness loads them; then one vector every `ii` cycles (the design's
/// initiation interval): `in_valid` high with the vector, then `ii - 1` cycles with
/// `in_valid` low and the vector held. Transitions are counted from vector `skip` on (the
/// reset, the configuration and the pipeline fill are left out): `(len - skip) * ii`
/// cycles. `observe` sees the simulator after every cycle of the stream (to read the
/// outputs).
pub fn stream_activity(
    sim: &mut Simulator,
    vectors: &[Vec<bool>],
    config: &[(u64, u64)],
    skip: usize,
    ii: u32,
    mut progress: impl FnMut(usize),
    mut observe: impl FnMut(&Simulator),
) -> Activity {
    let n = sim.netlist().net_count as usize;
    let mut act = Activity {
        cycles: 0,
        rises: vec![0; n],
        falls: vec![0; n],
    };
    let rst_on = sim.port_assignment("rst", &[true]);
    let rst_off = sim.port_assignment("rst", &[false]);
    let valid_on = sim.port_assignment("in_valid", &[true]);
    let valid_off = sim.port_assignment("in_valid", &[false]);
    let zero = vec![false; vectors.first().map_or(0, Vec::len)];
    let we_off = sim.port_assignment("cfg_we", &[false]);
    for _ in 0..2 {
        let mut a = rst_on.clone();
        a.extend(sim.port_assignment("in_data", &zero));
        a.extend(we_off.iter().copied());
        sim.cycle(&a, None);
    }
    let we_on = sim.port_assignment("cfg_we", &[true]);
    let word_bits = |port: &str, x: u64| {
        let n = sim.netlist().inputs.get(port).map_or(0, Vec::len);
        let bits: Vec<bool> = (0..n).map(|b| b < 64 && x >> b & 1 == 1).collect();
        sim.port_assignment(port, &bits)
    };
    let writes: Vec<Vec<(u32, bool)>> = config
        .iter()
        .map(|&(addr, word)| {
            let mut a = rst_off.clone();
            a.extend(valid_off.iter().copied());
            a.extend(we_on.iter().copied());
            a.extend(word_bits("cfg_addr", addr));
            a.extend(word_bits("cfg_data", word));
            a
        })
        .collect();
    for a in &writes {
        sim.cycle(a, None);
    }
    for (i, v) in vectors.iter().enumerate() {
        let data = sim.port_assignment("in_data", v);
        for phase in 0..ii.max(1) {
            let mut a = rst_off.clone();
            a.extend(we_off.iter().copied());
            a.extend(
                if phase == 0 { &valid_on } else { &valid_off }
                    .iter()
                    .copied(),
            );
            a.extend(data.iter().copied());
            sim.cycle(&a, (i >= skip).then_some(&mut act));
            observe(sim);
        }
        if i % 64 == 0 {
            progress(i);
        }
    }
    progress(vectors.len());
    act
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIB: &str = r#"library ("t") {
      cell ("nand2") { area : 1; pin ("A") { direction : "input"; capacitance : 0.002; }
        pin ("B") { direction : "input"; capacitance : 0.002; }
        pin ("Y") { direction : "output"; function : "!(A&B)"; } }
      cell ("dff") { area : 4; ff ("IQ","IQN") { clocked_on : "CLK"; next_state : "D"; }
        pin ("CLK") { direction : "input"; clock : "true"; capacitance : 0.001; }
        pin ("D") { direction : "input"; capacitance : 0.001; }
        pin ("Q") { direction : "output"; function : "IQ"; } }
    }"#;

    // top(clk, a, b) -> q: q <= !(a & b), and a second flip-flop from the instance at
    // line 7 of the top file: r <= !(q & b)
    const NETLIST: &str = r#"{"modules": {"top": {
      "ports": {"clk": {"direction": "input", "bits": [2]}, "a": {"direction": "input", "bits": [3]},
                "b": {"direction": "input", "bits": [4]}, "q": {"direction": "output", "bits": [6]},
                "r": {"direction": "output", "bits": [8]}},
      "cells": {
        "g1": {"type": "nand2", "connections": {"A": [3], "B": [4], "Y": [5]}},
        "f1": {"type": "dff", "attributes": {"src": "top.v:3.1-3.20"}, "connections": {"CLK": [2], "D": [5], "Q": [6]}},
        "g2": {"type": "nand2", "connections": {"A": [6], "B": [4], "Y": [7]}},
        "f2": {"type": "dff", "attributes": {"src": "top.v:7.3-7.40|layer.v:9.1-9.9"}, "connections": {"CLK": [2], "D": [7], "Q": [8]}}
      },
      "netnames": {"n5": {"hide_name": 1, "bits": [5]}, "q": {"bits": [6]}}
    }}}"#;

    #[test]
    fn simulates_cycles_and_counts_transitions() {
        let lib = Library::parse(LIB).unwrap();
        let n = Netlist::from_yosys_json(NETLIST, "top").unwrap();
        let mut sim = Simulator::new(&n, &lib, "clk").unwrap();
        let q = n.outputs["q"][0];
        let r = n.outputs["r"][0];
        let a = sim.port_assignment("a", &[true]);
        let b = sim.port_assignment("b", &[true]);
        let a0 = sim.port_assignment("a", &[false]);
        let mut act = Activity {
            cycles: 0,
            rises: vec![0; n.net_count as usize],
            falls: vec![0; n.net_count as usize],
        };
        // cycle 1: a=b=1 -> nand 0; q still 0 (reset state)
        sim.cycle(&[a[0], b[0]], Some(&mut act));
        assert!(!sim.value(q));
        // cycle 2: q <= 0; a=0 -> nand 1
        sim.cycle(&[a0[0], b[0]], Some(&mut act));
        assert!(!sim.value(q));
        // cycle 3: q <= 1; r <= !(0 & 1) = 1
        sim.cycle(&[a0[0], b[0]], Some(&mut act));
        assert!(sim.value(q) && sim.value(r));
        assert_eq!(act.cycles, 3);
        let NetRef::Net(qn) = q else { panic!() };
        assert_eq!((act.rises[qn as usize], act.falls[qn as usize]), (1, 0));
    }

    // top(clk, rst, in_valid, in_data) -> v: v <= in_valid (a flip-flop on the valid line)
    const VALID_NETLIST: &str = r#"{"modules": {"top": {
      "ports": {"clk": {"direction": "input", "bits": [2]}, "rst": {"direction": "input", "bits": [3]},
                "in_valid": {"direction": "input", "bits": [4]}, "in_data": {"direction": "input", "bits": [5]},
                "v": {"direction": "output", "bits": [6]}},
      "cells": {
        "f1": {"type": "dff", "connections": {"CLK": [2], "D": [4], "Q": [6]}}
      },
      "netnames": {}
    }}}"#;

    /// One vector every `ii` cycles: `in_valid` is high in the first cycle of each,
    /// the data is held for all `ii`, and the fill is left out by vectors.
    #[test]
    fn streams_one_vector_per_initiation_interval() {
        let lib = Library::parse(LIB).unwrap();
        let n = Netlist::from_yosys_json(VALID_NETLIST, "top").unwrap();
        let vectors: Vec<Vec<bool>> = (0..10).map(|i| vec![i % 2 == 1]).collect();
        let net = |port: &str| match n.inputs[port][0] {
            NetRef::Net(k) => k as usize,
            _ => panic!(),
        };
        let (valid, data) = (net("in_valid"), net("in_data"));
        for (ii, skip) in [(1u32, 2usize), (3, 2), (4, 0)] {
            let mut sim = Simulator::new(&n, &lib, "clk").unwrap();
            let act = stream_activity(&mut sim, &vectors, &[], skip, ii, |_| {}, |_| {});
            let counted = (vectors.len() - skip) as u64;
            assert_eq!(act.cycles, counted * ii as u64, "ii {ii}");
            // with ii > 1 valid rises and falls once per counted vector; with ii = 1 it
            // stays high after the first vector
            if ii == 1 {
                assert_eq!(act.rises[valid] + act.falls[valid], 0, "valid stays high");
            } else {
                assert_eq!(act.rises[valid], counted, "ii {ii}");
                assert_eq!(act.falls[valid], counted, "ii {ii}");
            }
            // the data alternates once per vector, never inside one
            let toggles = act.rises[data] + act.falls[data];
            assert_eq!(toggles, counted - u64::from(skip == 0), "ii {ii}");
        }
    }

    #[test]
    fn cells_belong_to_the_layer_of_the_flip_flop_they_feed() {
        let lib = Library::parse(LIB).unwrap();
        let n = Netlist::from_yosys_json(NETLIST, "top").unwrap();
        let owners = n.attribute(
            &|c| lib.cells[&c.cell].state.is_some(),
            &|_, pin| pin == "Y" || pin == "Q",
            &|line| (line == 7).then(|| "u_layer".to_string()),
        );
        let by: BTreeMap<&str, &str> = n
            .cells
            .iter()
            .zip(&owners)
            .map(|(c, o)| (c.name.as_str(), o.as_str()))
            .collect();
        assert_eq!(by["f1"], "top");
        assert_eq!(by["g1"], "top");
        assert_eq!(by["f2"], "u_layer");
        assert_eq!(by["g2"], "u_layer");
    }
}
