//! Power from Liberty tables and simulated per-net transitions.
//!
//! For a mapped netlist, the Liberty library and the transitions of every net over a
//! simulation ([`super::gatesim`]):
//! - **switching**: each transition of a net charges or discharges its load,
//!   `E = 1/2 C V^2`; `C` = the input capacitance of every pin it drives plus the
//!   library's default wire-load model for its fanout (the same model OpenSTA uses
//!   without placement);
//! - **internal**: each rising (falling) transition of a cell output costs the
//!   `rise_power` (`fall_power`) table of its `internal_power` groups at the output load
//!   and the input transition time, the related input pins weighted by how often each
//!   toggled (state-dependent `when` groups averaged); each transition of an input pin with
//!   its own `internal_power` (flip-flop clock and data pins, for example) costs that
//!   pin's table at its transition time;
//! - **clock**: the clock net makes two transitions per cycle (switching of its load,
//!   and the clock pins' internal energy);
//! - **leakage**: each cell's `cell_leakage_power`.
//!
//! Transition times come from propagating the `rise_transition`/`fall_transition`
//! tables in topological order from ideal (0 ns) primary inputs and clock, as an STA tool
//! does. Energies are summed per cycle and divided by the clock period.

use super::gatesim::{Activity, NetRef, Netlist};
use super::liberty::{Direction, Library, Table};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

/// Power in mW by component: `total = internal + switching + leakage`; `clock` is the
/// part of internal and switching power spent on the clock net and the flip-flops'
/// clock pins.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct PowerBreakdown {
    pub internal_mw: f64,
    pub switching_mw: f64,
    pub leakage_mw: f64,
    pub total_mw: f64,
    pub clock_mw: f64,
}

impl PowerBreakdown {
    fn finish(mut self) -> PowerBreakdown {
        self.total_mw = self.internal_mw + self.switching_mw + self.leakage_mw;
        self
    }
}

/// The power estimate of a netlist.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PowerEstimate {
    pub clock_ns: f64,
    pub voltage: f64,
    pub cycles: u64,
    pub total: PowerBreakdown,
    /// Per instance of the top module (`top` for its own cells).
    pub by_instance: BTreeMap<String, PowerBreakdown>,
    /// Mean transitions per cycle over all non-clock nets (what OpenSTA's `-global`
    /// activity takes).
    pub mean_activity: f64,
    /// Total load capacitance of all nets (pF) and of the clock net.
    pub net_capacitance_pf: f64,
    pub clock_capacitance_pf: f64,
    /// Switching power of the clock net alone (an ideal clock in OpenSTA has none).
    pub clock_net_switching_mw: f64,
}

fn avg_table(t: &Table, slew: f64, load: f64) -> f64 {
    t.lookup(slew, load)
}

/// Load (pF) and fanout of every net.
pub fn net_loads(netlist: &Netlist, lib: &Library) -> (Vec<f64>, Vec<u32>) {
    let n = netlist.net_count as usize;
    let mut cap = vec![0.0; n];
    let mut fanout = vec![0u32; n];
    for c in &netlist.cells {
        let Some(cell) = lib.cells.get(&c.cell) else {
            continue;
        };
        for (pin, r) in &c.pins {
            let NetRef::Net(k) = r else { continue };
            if let Some(p) = cell.pin(pin) {
                if matches!(p.direction, Direction::Input | Direction::Inout) {
                    cap[*k as usize] += p.capacitance;
                    fanout[*k as usize] += 1;
                }
            }
        }
    }
    if let Some(wl) = &lib.wire_load {
        for k in 0..n {
            cap[k] += wl.capacitance(fanout[k]);
        }
    }
    (cap, fanout)
}

/// Transition time (ns) of every net: ideal primary inputs, then the worst of each
/// output's `rise_transition`/`fall_transition` arcs at its load, in topological order.
pub fn net_slews(netlist: &Netlist, lib: &Library, cap: &[f64]) -> Vec<f64> {
    let n = netlist.net_count as usize;
    let mut slew = vec![0.0f64; n];
    // driver of each net: (cell index, pin)
    let mut driver: HashMap<u32, (usize, String)> = HashMap::new();
    for (i, c) in netlist.cells.iter().enumerate() {
        let Some(cell) = lib.cells.get(&c.cell) else {
            continue;
        };
        for (pin, r) in &c.pins {
            if let (NetRef::Net(k), Some(p)) = (r, cell.pin(pin)) {
                if p.direction == Direction::Output {
                    driver.insert(*k, (i, pin.clone()));
                }
            }
        }
    }
    let mut done = vec![false; n];
    let mut visiting = vec![false; n];
    #[allow(clippy::too_many_arguments)]
    fn visit(
        k: u32,
        netlist: &Netlist,
        lib: &Library,
        cap: &[f64],
        driver: &HashMap<u32, (usize, String)>,
        slew: &mut [f64],
        done: &mut [bool],
        visiting: &mut [bool],
    ) {
        // iterative DFS over the fan-in of combinational arcs
        let mut stack = vec![(k, false)];
        while let Some((net, expanded)) = stack.pop() {
            let ni = net as usize;
            if done[ni] {
                continue;
            }
            let Some((ci, pin)) = driver.get(&net) else {
                done[ni] = true;
                continue;
            };
            let c = &netlist.cells[*ci];
            let cell = &lib.cells[&c.cell];
            let p = cell.pin(pin).unwrap();
            let sequential = cell.state.is_some();
            if !expanded {
                visiting[ni] = true;
                stack.push((net, true));
                if !sequential {
                    for arc in &p.timing {
                        if let Some(NetRef::Net(m)) = c.pin(&arc.related_pin) {
                            if !done[m as usize] && !visiting[m as usize] {
                                stack.push((m, false));
                            }
                        }
                    }
                }
                continue;
            }
            let mut worst = 0.0f64;
            for arc in &p.timing {
                let s_in = match c.pin(&arc.related_pin) {
                    Some(NetRef::Net(m)) if !sequential => slew[m as usize],
                    _ => 0.0,
                };
                let r = arc.rise_transition.lookup(s_in, cap[ni]);
                let f = arc.fall_transition.lookup(s_in, cap[ni]);
                worst = worst.max(r).max(f);
            }
            slew[ni] = worst * lib.time_unit_ns;
            done[ni] = true;
            visiting[ni] = false;
        }
    }
    for k in 0..n as u32 {
        visit(
            k,
            netlist,
            lib,
            cap,
            &driver,
            &mut slew,
            &mut done,
            &mut visiting,
        );
    }
    slew
}

/// Computes power from transition counts over `activity.cycles` cycles of `clock_ns`.
/// `clock_net`: the clock (two transitions per cycle, not in `activity`). `owners`: the
/// layer of each cell (see [`Netlist::attribute`]); a net's switching power goes to the
/// layer of its driver.
pub fn estimate(
    netlist: &Netlist,
    lib: &Library,
    activity: &Activity,
    clock_net: Option<u32>,
    clock_ns: f64,
    owners: &[String],
) -> PowerEstimate {
    let (cap, _fanout) = net_loads(netlist, lib);
    let slew = net_slews(netlist, lib, &cap);
    let cycles = activity.cycles.max(1) as f64;
    let v2 = lib.voltage * lib.voltage;
    let e_unit = lib.energy_unit_pj;
    let is_clock = |k: u32| Some(k) == clock_net;
    let rises = |k: u32| -> f64 {
        if is_clock(k) {
            cycles
        } else {
            activity.rises[k as usize] as f64
        }
    };
    let falls = |k: u32| -> f64 {
        if is_clock(k) {
            cycles
        } else {
            activity.falls[k as usize] as f64
        }
    };
    // energies per run (pJ) by instance
    let mut by: BTreeMap<String, PowerBreakdown> = BTreeMap::new();
    let mut driver_instance: HashMap<u32, String> = HashMap::new();
    for (ci, c) in netlist.cells.iter().enumerate() {
        let inst = owners.get(ci).cloned().unwrap_or_else(|| "top".into());
        let Some(cell) = lib.cells.get(&c.cell) else {
            continue;
        };
        let entry = by.entry(inst.clone()).or_default();
        entry.leakage_mw += cell.leakage_nw * 1e-6;
        for (pin, r) in &c.pins {
            let Some(p) = cell.pin(pin) else { continue };
            let NetRef::Net(k) = *r else { continue };
            match p.direction {
                Direction::Output => {
                    driver_instance.insert(k, inst.clone());
                    // weights of the related input pins by their transitions
                    let mut groups: BTreeMap<Option<String>, Vec<&super::liberty::InternalPower>> =
                        BTreeMap::new();
                    for ip in &p.internal_power {
                        groups.entry(ip.related_pin.clone()).or_default().push(ip);
                    }
                    let mut total_w = 0.0;
                    let mut weighted = Vec::new();
                    for (rel, ips) in &groups {
                        let (w, s_in) = match rel.as_deref().and_then(|r| c.pin(r)) {
                            Some(NetRef::Net(m)) => (rises(m) + falls(m), slew[m as usize]),
                            _ => (0.0, 0.0),
                        };
                        total_w += w;
                        weighted.push((w, s_in, ips));
                    }
                    let (mut e_rise, mut e_fall) = (0.0, 0.0);
                    let count = weighted.len() as f64;
                    for (w, s_in, ips) in &weighted {
                        let share = if total_w > 0.0 {
                            w / total_w
                        } else {
                            1.0 / count
                        };
                        let n = ips.len() as f64;
                        let r: f64 = ips
                            .iter()
                            .map(|ip| avg_table(&ip.rise, *s_in, cap[k as usize]))
                            .sum::<f64>()
                            / n;
                        let f: f64 = ips
                            .iter()
                            .map(|ip| avg_table(&ip.fall, *s_in, cap[k as usize]))
                            .sum::<f64>()
                            / n;
                        e_rise += share * r;
                        e_fall += share * f;
                    }
                    let e = (rises(k) * e_rise + falls(k) * e_fall) * e_unit;
                    entry.internal_mw += e;
                }
                Direction::Input | Direction::Inout => {
                    let ips: Vec<_> = p
                        .internal_power
                        .iter()
                        .filter(|ip| ip.related_pin.is_none())
                        .collect();
                    if ips.is_empty() {
                        continue;
                    }
                    let n = ips.len() as f64;
                    let s = if is_clock(k) { 0.0 } else { slew[k as usize] };
                    let r: f64 = ips.iter().map(|ip| ip.rise.lookup(s, 0.0)).sum::<f64>() / n;
                    let f: f64 = ips.iter().map(|ip| ip.fall.lookup(s, 0.0)).sum::<f64>() / n;
                    let e = (rises(k) * r + falls(k) * f) * e_unit;
                    entry.internal_mw += e;
                    if is_clock(k) {
                        entry.clock_mw += e;
                    }
                }
                Direction::Internal => {}
            }
        }
    }
    // switching: nets by their driver's instance (primary inputs: top)
    let mut total_cap = 0.0;
    let mut toggles_sum = 0.0;
    let mut nets = 0u64;
    for k in 0..netlist.net_count {
        let c = cap[k as usize];
        total_cap += c;
        let e = 0.5 * c * v2 * (rises(k) + falls(k));
        let inst = driver_instance
            .get(&k)
            .cloned()
            .unwrap_or_else(|| "top".into());
        let entry = by.entry(inst).or_default();
        entry.switching_mw += e;
        if is_clock(k) {
            entry.clock_mw += e;
        } else {
            toggles_sum += rises(k) + falls(k);
            nets += 1;
        }
    }
    // energies per run (pJ) -> mW: pJ per cycle / ns
    let period = clock_ns;
    let mut total = PowerBreakdown::default();
    for b in by.values_mut() {
        b.internal_mw /= cycles * period;
        b.switching_mw /= cycles * period;
        b.clock_mw /= cycles * period;
        *b = b.finish();
        total.internal_mw += b.internal_mw;
        total.switching_mw += b.switching_mw;
        total.clock_mw += b.clock_mw;
        total.leakage_mw += b.leakage_mw;
    }
    PowerEstimate {
        clock_ns,
        voltage: lib.voltage,
        cycles: activity.cycles,
        total: total.finish(),
        by_instance: by,
        mean_activity: if nets > 0 {
            toggles_sum / nets as f64 / cycles
        } else {
            0.0
        },
        net_capacitance_pf: total_cap,
        clock_capacitance_pf: clock_net.map(|k| cap[k as usize]).unwrap_or(0.0),
        clock_net_switching_mw: clock_net
            .map(|k| 0.5 * cap[k as usize] * v2 * 2.0 / clock_ns)
            .unwrap_or(0.0),
    }
}

/// A uniform activity: every net makes `activity` transitions per cycle (half rising),
/// over `cycles` cycles. What OpenSTA's `set_power_activity -global` assumes; used to
/// compare the two power computations.
pub fn uniform_activity(netlist: &Netlist, activity: f64, cycles: u64) -> Activity {
    let half = (activity * cycles as f64 / 2.0).round() as u64;
    let n = netlist.net_count as usize;
    Activity {
        cycles,
        rises: vec![half; n],
        falls: vec![half; n],
    }
}
