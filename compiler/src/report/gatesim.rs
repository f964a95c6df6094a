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
}

impl GateCell {
    pub fn pin(&self, name: &str) -> Option<NetRef> {
        self.pins.iter().find(|(p, _)| p == name).map(|(_, n)| *n)
    }
}

/// A flat netlist of library cells.
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

fn net_ref(v: &serde_json::Value, map: &mut HashMap<i64, u32>, count: &mut u32) -> NetRef {
    match v {
        serde_json::Value::Number(n) => {
            let id = n.as_i64().unwrap_or(0);
            let next = *count;
            let k = *map.entry(id).or_insert_with(|| next);
            if k == next {
                *count += 1;
            }
            NetRef::Net(k)
        }
        serde_json::Value::String(s) => NetRef::Const(s == "1"),
        _ => NetRef::Const(false),
    }
}

impl Netlist {
    /// Reads a yosys `write_json` netlist (module `top`, or the only module).
    pub fn from_yosys_json(text: &str, top: &str) -> Result<Netlist, ReportError> {
        let v: serde_json::Value = serde_json::from_str(text)
            .map_err(|e| ReportError::parse("yosys JSON netlist", e.to_string()))?;
        let modules = v
            .get("modules")
            .and_then(|m| m.as_object())
            .ok_or_else(|| ReportError::parse("yosys JSON netlist", "no modules"))?;
        let (name, m) = modules
            .iter()
            .find(|(n, _)| n.as_str() == top)
            .or_else(|| (modules.len() == 1).then(|| modules.iter().next()).flatten())
            .ok_or_else(|| ReportError::parse("yosys JSON netlist", format!("no module {top}")))?;
        let mut map = HashMap::new();
        let mut count = 0u32;
        let mut inputs = BTreeMap::new();
        let mut outputs = BTreeMap::new();
        if let Some(ports) = m.get("ports").and_then(|p| p.as_object()) {
            for (pname, p) in ports {
                let bits: Vec<NetRef> = p
                    .get("bits")
                    .and_then(|b| b.as_array())
                    .map(|a| a.iter().map(|b| net_ref(b, &mut map, &mut count)).collect())
                    .unwrap_or_default();
                match p.get("direction").and_then(|d| d.as_str()) {
                    Some("input") => {
                        inputs.insert(pname.clone(), bits);
                    }
                    _ => {
                        outputs.insert(pname.clone(), bits);
                    }
                }
            }
        }
        let mut cells = Vec::new();
        if let Some(cs) = m.get("cells").and_then(|c| c.as_object()) {
            for (cname, c) in cs {
                let ty = c.get("type").and_then(|t| t.as_str()).unwrap_or("").to_string();
                let mut pins = Vec::new();
                if let Some(conns) = c.get("connections").and_then(|c| c.as_object()) {
                    for (pin, bits) in conns {
                        let bits = bits.as_array().cloned().unwrap_or_default();
                        if bits.len() == 1 {
                            pins.push((pin.clone(), net_ref(&bits[0], &mut map, &mut count)));
                        } else {
                            for (i, b) in bits.iter().enumerate() {
                                pins.push((format!("{pin}[{i}]"), net_ref(b, &mut map, &mut count)));
                            }
                        }
                    }
                }
                cells.push(GateCell {
                    name: cname.clone(),
                    cell: ty,
                    pins,
                });
            }
        }
        let mut net_names: Vec<Option<String>> = vec![None; count as usize];
        let mut aliases = Vec::new();
        if let Some(nn) = m.get("netnames").and_then(|c| c.as_object()) {
            for (n, info) in nn {
                let hidden = info.get("hide_name").and_then(|h| h.as_i64()) == Some(1);
                let bits = info.get("bits").and_then(|b| b.as_array()).cloned().unwrap_or_default();
                let offset = info.get("offset").and_then(|o| o.as_i64()).unwrap_or(0);
                for (i, b) in bits.iter().enumerate() {
                    let r = net_ref(b, &mut map, &mut count);
                    let alias = if bits.len() == 1 {
                        n.clone()
                    } else {
                        format!("{n}[{}]", i as i64 + offset)
                    };
                    aliases.push((alias, r));
                    if let NetRef::Net(k) = r {
                        let k = k as usize;
                        if k >= net_names.len() {
                            net_names.resize(k + 1, None);
                        }
                        let name = if bits.len() == 1 {
                            n.clone()
                        } else {
                            format!("{n}[{}]", i as i64 + offset)
                        };
                        // prefer public names, then the shortest
                        let better = match &net_names[k] {
                            None => true,
                            Some(old) => !hidden && (old.starts_with('$') || name.len() < old.len()),
                        };
                        if better && (!hidden || net_names[k].is_none()) {
                            net_names[k] = Some(name);
                        }
                    }
                }
            }
        }
        net_names.resize(count as usize, None);
        Ok(Netlist {
            top: name.clone(),
            net_count: count,
            net_names,
            aliases,
            cells,
            inputs,
            outputs,
        })
    }
}

/// The instance path prefix of a flattened cell name (`$flatten\u_conv.$abc$12$x` ->
/// `u_conv`), or `None` for a cell of the top module.
pub fn instance_of(cell_name: &str) -> Option<String> {
    let s = cell_name.strip_prefix("$flatten").unwrap_or(cell_name);
    let s = s.strip_prefix('\\').unwrap_or(s);
    let (first, _) = s.split_once('.')?;
    let first = first.strip_prefix('\\').unwrap_or(first);
    if first.is_empty() || first.starts_with('$') {
        None
    } else {
        Some(first.to_string())
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
    pub fn new(netlist: &'n Netlist, lib: &Library, clock: &str) -> Result<Simulator<'n>, ReportError> {
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
                    format!("cell {} has type {}, which is not in the Liberty file", c.name, c.cell),
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
                    return Err(ReportError::parse("mapped netlist", format!("cell {} has too many inputs", c.cell)));
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
            for p in cell.pins.iter().filter(|p| p.direction == Direction::Output) {
                let (Some(f), Some(out)) = (p.function.as_deref(), conn(&p.name)) else {
                    continue;
                };
                let e = BoolExpr::parse(f)?;
                let mut vars = Vec::new();
                e.vars(&mut vars);
                if vars.len() > MAX_INPUTS {
                    return Err(ReportError::parse("mapped netlist", format!("cell {} has too many inputs", c.cell)));
                }
                let inputs = vars
                    .iter()
                    .map(|v| conn(v).unwrap_or(const0))
                    .collect();
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
                                        netlist.net_names.get(inp as usize).cloned().flatten().unwrap_or_else(|| inp.to_string())
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
        let comb = order.into_iter().map(|i| slots[i].take().unwrap()).collect();
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

/// Runs the netlist of an aecc design (`clk`, `rst`, `in_valid`, `in_data`) on `vectors`
/// (packed `in_data` buses, LSB first): two reset cycles, then one vector per cycle with
/// `in_valid` high, then `drain` more cycles repeating the last vector. Transitions are
/// counted from cycle `skip` of the streaming phase on (the pipeline fill is left out).
pub fn stream_activity(
    sim: &mut Simulator,
    vectors: &[Vec<bool>],
    skip: usize,
    mut progress: impl FnMut(usize),
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
    let zero = vec![false; vectors.first().map_or(0, Vec::len)];
    for _ in 0..2 {
        let mut a = rst_on.clone();
        a.extend(sim.port_assignment("in_data", &zero));
        sim.cycle(&a, None);
    }
    for (i, v) in vectors.iter().enumerate() {
        let mut a = rst_off.clone();
        a.extend(valid_on.iter().copied());
        a.extend(sim.port_assignment("in_data", v));
        sim.cycle(&a, (i >= skip).then_some(&mut act));
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

    #[test]
    fn flattened_names_give_the_instance() {
        assert_eq!(instance_of("$flatten\\u_conv.$abc$1$x").as_deref(), Some("u_conv"));
        assert_eq!(instance_of("\\u_dense.y_reg").as_deref(), Some("u_dense"));
        assert_eq!(instance_of("$abc$1$auto$x"), None);
        assert_eq!(instance_of("$auto$ff.cc:266:slice$203"), None);
    }
}
