//! The binary pipe protocol of the harnesses, and the driver that streams blocks of
//! vectors through a simulator process.
//!
//! Protocol (version 2; `hdl-templates/tb/binary_io.cpp` is the other side). Every
//! number is little-endian; a bus is `ceil(width / 32)` u32 words, least significant
//! first, with the bits above the port's width zero:
//!
//! ```text
//! stdin : "AECCTB2\n", the harness's preamble (the configured harness: u32 WRITES, then
//!         WRITES x (u64 address, u64 data)), then one record per vector:
//!         u32 IDLE (cycles with in_valid = 0 before the vector), in_data bus
//! stdout: one out_data bus per output
//! ```
//!
//! The driver overlaps everything that is not the simulator with it: a writer thread
//! produces blocks (the caller's closure: vectors, and typically the reference outputs),
//! encodes them and writes them; the calling thread reads, decodes and hands each block's
//! outputs, with the block, to the caller's check; a third thread collects stderr. Memory
//! stays bounded: at most [`QUEUED_BLOCKS`] blocks are in flight.

use crate::design::{Lane, Port};
use crate::error::CosimError;
use crate::lanes::{fits, limbs_for, unpack_lanes_into};
use crate::tools::head;
use rand::{Rng, SeedableRng};
use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Instant;

/// The first bytes on the simulator's stdin.
pub(crate) const MAGIC: &[u8; 8] = b"AECCTB2\n";

/// Blocks produced but not yet checked, at most (bounds the memory of a long stream).
pub const QUEUED_BLOCKS: usize = 4;

/// Bytes of a bus of `width` bits on the pipe.
pub(crate) fn bus_bytes(width: u32) -> usize {
    4 * (width as usize).div_ceil(32).max(1)
}

/// The mask of the bits of the most significant u32 word of a bus that belong to it.
pub(crate) fn top_word_mask(width: u32) -> u32 {
    match width % 32 {
        0 => u32::MAX,
        r => (1u32 << r) - 1,
    }
}

/// Packs vectors of one port into pipe records and unpacks records into lane values.
struct Codec<'a> {
    lanes: &'a [Lane],
    /// Per lane: the value range and the width (1 to 64).
    bounds: Vec<(i64, i64, u32)>,
    /// Bytes of the bus (a multiple of 4).
    bytes: usize,
    limbs: Vec<u64>,
}

impl<'a> Codec<'a> {
    fn new(port: &'a Port) -> Codec<'a> {
        let width = port.width();
        let bounds = port
            .lanes
            .iter()
            .map(|l| {
                let w = l.width.clamp(1, 64);
                match (l.signed, w) {
                    (true, 64) => (i64::MIN, i64::MAX, w),
                    (true, _) => (-(1i64 << (w - 1)), (1i64 << (w - 1)) - 1, w),
                    (false, 63..) => (0, i64::MAX, w),
                    (false, _) => (0, (1i64 << w) - 1, w),
                }
            })
            .collect();
        Codec {
            lanes: &port.lanes,
            bounds,
            bytes: bus_bytes(width),
            limbs: vec![0; limbs_for(width).max(bus_bytes(width).div_ceil(8))],
        }
    }

    /// Writes the bus of vector `index` (checked against the lanes) into `out` (exactly
    /// the bus's bytes): the lanes' bits go through a 128-bit accumulator, 32 bits at a
    /// time.
    fn encode(&self, index: usize, v: &[i64], out: &mut [u8]) -> Result<(), CosimError> {
        let mut bad = false;
        let (mut acc, mut bits, mut at) = (0u128, 0u32, 0usize);
        for (&x, &(lo, hi, width)) in v.iter().zip(&self.bounds) {
            bad |= (x < lo) | (x > hi);
            let mask = u64::MAX >> (64 - width);
            acc |= u128::from(x as u64 & mask) << bits;
            bits += width;
            while bits >= 32 {
                out[at..at + 4].copy_from_slice(&(acc as u32).to_le_bytes());
                at += 4;
                acc >>= 32;
                bits -= 32;
            }
        }
        if bits > 0 {
            out[at..at + 4].copy_from_slice(&(acc as u32).to_le_bytes());
            at += 4;
        }
        debug_assert_eq!(at, self.bytes);
        if bad {
            let (lane, (&x, l)) = v
                .iter()
                .zip(self.lanes)
                .enumerate()
                .find(|(_, (&x, &l))| !fits(x, l))
                .expect("a lane is out of range");
            return Err(CosimError::BadVector {
                index,
                message: format!(
                    "lane {lane}: {x} does not fit {} {} bits",
                    if l.signed { "signed" } else { "unsigned" },
                    l.width
                ),
            });
        }
        Ok(())
    }

    /// Appends the lane values of one record to `out`.
    fn decode(&mut self, record: &[u8], out: &mut Vec<i64>) {
        self.limbs.fill(0);
        for (i, chunk) in record.chunks(8).enumerate() {
            let mut b = [0u8; 8];
            b[..chunk.len()].copy_from_slice(chunk);
            self.limbs[i] = u64::from_le_bytes(b);
        }
        unpack_lanes_into(&self.limbs, self.lanes, out);
    }
}

/// Idle cycles before each vector.
#[derive(Debug, Clone)]
pub(crate) enum Idle {
    /// None: one vector per clock.
    None,
    /// Random bubbles from a generator seeded by the seed: 1 vector in 4 gets 1 to 3 idle
    /// cycles, 1 in 64 up to `2 * latency + 2`; on top of `gap` idle cycles before every
    /// vector but the first (the initiation interval minus one).
    Random { seed: u64, latency: u32, gap: u32 },
    /// This many before every vector but the first (an initiation interval above 1).
    Interval(u32),
}

/// One run of a simulator process.
pub(crate) struct Pipe<'a> {
    pub top: &'a str,
    pub exe: &'a Path,
    pub args: Vec<String>,
    /// Bytes after the magic, before the first vector.
    pub preamble: Vec<u8>,
    pub input: &'a Port,
    pub output: &'a Port,
    pub idle: Idle,
    /// One output per input is required (else [`CosimError::OutputCount`]). When false
    /// (fault injection), blocks whose outputs never came are delivered short.
    pub strict: bool,
}

/// The outputs of one block of input vectors, with the block's payload.
#[derive(Debug)]
pub struct Delivered<'b, T> {
    /// Index of the block's first vector in the stream.
    pub first: usize,
    /// Vectors in the block.
    pub vectors: usize,
    /// The output lane values, vector-major: `vectors * output lanes` values, fewer only
    /// when outputs went missing under fault injection.
    pub outputs: &'b [i64],
    pub payload: T,
}

/// What a streamed run measured. The writer thread's and the reader's times overlap the
/// simulator's.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StreamStats {
    /// Input vectors written.
    pub inputs: u64,
    /// Output vectors read.
    pub outputs: u64,
    /// Clock cycles simulated (from the harness's summary).
    pub cycles: u64,
    /// CPU seconds the simulator process used (its own report).
    pub simulator_cpu_s: f64,
    /// Wall seconds from starting the simulator to its exit.
    pub wall_s: f64,
    /// Writer thread: seconds in the caller's block producer.
    pub produce_s: f64,
    /// Writer thread: seconds encoding records.
    pub encode_s: f64,
    /// Reader: seconds decoding records.
    pub decode_s: f64,
    /// Reader: seconds in the caller's check.
    pub check_s: f64,
    /// Bytes written to and read from the simulator.
    pub bytes_in: u64,
    pub bytes_out: u64,
    /// Further numbers of the harness's summary line (e.g. `upsets`, `spurious`).
    pub counters: Vec<(String, f64)>,
}

impl StreamStats {
    /// A counter of the summary line by name.
    pub fn counter(&self, name: &str) -> Option<f64> {
        self.counters
            .iter()
            .find(|(n, _)| n == name)
            .map(|&(_, v)| v)
    }
}

/// A block of input vectors from the producer: `values` holds whole vectors of input
/// lane values, vector-major.
pub type Block<T> = (Vec<i64>, T);

struct Written {
    produce_s: f64,
    encode_s: f64,
    inputs: u64,
    bytes: u64,
}

/// Where the reader stopped.
struct ReadEnd {
    /// Output vectors read.
    outputs: u64,
    bytes: u64,
    /// Bytes of an incomplete record at the end.
    trailing: usize,
    decode_s: f64,
    check_s: f64,
}

/// Runs the simulator, streaming the blocks of `next` (until it returns `None`) and
/// handing the outputs of each block to `check`, in order.
pub(crate) fn run_pipe<T, N, C>(
    pipe: Pipe<'_>,
    next: N,
    mut check: C,
) -> Result<StreamStats, CosimError>
where
    T: Send,
    N: FnMut() -> Result<Option<Block<T>>, CosimError> + Send,
    C: FnMut(Delivered<'_, T>) -> Result<(), CosimError>,
{
    let start = Instant::now();
    let mut child = Command::new(pipe.exe)
        .args(&pipe.args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(CosimError::io(format!("starting {}", pipe.exe.display())))?;
    let stdin = child.stdin.take().expect("stdin is piped");
    let mut stdout = child.stdout.take().expect("stdout is piped");
    let mut stderr = child.stderr.take().expect("stderr is piped");
    let (tx, rx) = mpsc::sync_channel::<(usize, usize, T)>(QUEUED_BLOCKS);

    std::thread::scope(|s| {
        let err_thread = s.spawn(move || {
            let mut text = Vec::new();
            let _ = stderr.read_to_end(&mut text);
            String::from_utf8_lossy(&text).into_owned()
        });
        let (input, idle, preamble) = (pipe.input, pipe.idle.clone(), &pipe.preamble);
        let writer = s.spawn(move || write_blocks(stdin, input, idle, preamble, next, tx));

        let read = read_outputs(
            pipe.top,
            &mut stdout,
            pipe.output,
            &rx,
            pipe.strict,
            &mut check,
        );
        if read.is_err() {
            // stop the writer: it fails on its next send or write
            let _ = child.kill();
        }
        drop(rx);
        drop(stdout);
        let written = writer.join().expect("the writer thread does not panic");
        let status = child
            .wait()
            .map_err(CosimError::io("waiting for the simulator"))?;
        let stderr = err_thread.join().expect("the stderr thread does not panic");
        let wall_s = start.elapsed().as_secs_f64();
        let end = read?;
        if !status.success() {
            return Err(CosimError::Simulation {
                top: pipe.top.to_string(),
                status: status.to_string(),
                stderr: head(&stderr, 20),
            });
        }
        let written = written?;
        if end.trailing != 0 {
            return Err(CosimError::Protocol {
                top: pipe.top.to_string(),
                message: format!(
                    "the output ends inside a record ({} of {} bytes)",
                    end.trailing,
                    bus_bytes(pipe.output.width())
                ),
            });
        }
        if pipe.strict && end.outputs != written.inputs {
            return Err(CosimError::OutputCount {
                top: pipe.top.to_string(),
                inputs: written.inputs as usize,
                outputs: end.outputs as usize,
            });
        }
        let mut stats = StreamStats {
            inputs: written.inputs,
            outputs: end.outputs,
            wall_s,
            produce_s: written.produce_s,
            encode_s: written.encode_s,
            decode_s: end.decode_s,
            check_s: end.check_s,
            bytes_in: written.bytes,
            bytes_out: end.bytes,
            ..StreamStats::default()
        };
        read_summary(pipe.top, &stderr, &mut stats)?;
        Ok(stats)
    })
}

/// The writer thread: produces, encodes and writes blocks; announces each block to the
/// reader before its first byte goes out.
fn write_blocks<T, N>(
    mut stdin: std::process::ChildStdin,
    input: &Port,
    idle: Idle,
    preamble: &[u8],
    mut next: N,
    tx: mpsc::SyncSender<(usize, usize, T)>,
) -> Result<Written, CosimError>
where
    N: FnMut() -> Result<Option<Block<T>>, CosimError>,
{
    let mut w = Written {
        produce_s: 0.0,
        encode_s: 0.0,
        inputs: 0,
        bytes: 0,
    };
    let put = |stdin: &mut std::process::ChildStdin, bytes: &[u8]| {
        stdin
            .write_all(bytes)
            .map_err(CosimError::io("writing vectors to the simulator"))
    };
    let mut head = MAGIC.to_vec();
    head.extend_from_slice(preamble);
    put(&mut stdin, &head)?;
    w.bytes += head.len() as u64;
    let lanes = input.lanes.len();
    let codec = Codec::new(input);
    let record = 4 + codec.bytes;
    let mut rng = match idle {
        Idle::Random { seed, .. } => Some(rand_chacha::ChaCha8Rng::seed_from_u64(seed)),
        _ => None,
    };
    let mut bytes = Vec::new();
    loop {
        let t = Instant::now();
        let Some((values, payload)) = next()? else {
            break;
        };
        w.produce_s += t.elapsed().as_secs_f64();
        let t = Instant::now();
        let first = w.inputs as usize;
        if lanes == 0 || values.len() % lanes != 0 {
            return Err(CosimError::BadVector {
                index: first + values.len() / lanes.max(1),
                message: format!(
                    "a block of {} values is not a whole number of vectors of {lanes} lanes",
                    values.len()
                ),
            });
        }
        let n = values.len() / lanes;
        bytes.resize(n * record, 0);
        for (i, (v, rec)) in values
            .chunks_exact(lanes)
            .zip(bytes.chunks_exact_mut(record))
            .enumerate()
        {
            let index = first + i;
            let cycles: u32 = match (&idle, rng.as_mut()) {
                (Idle::Random { latency, gap, .. }, Some(rng)) => {
                    let gap = if index > 0 { *gap } else { 0 };
                    gap + if rng.random_ratio(1, 64) {
                        rng.random_range(1..=2 * latency + 2)
                    } else if rng.random_ratio(1, 4) {
                        rng.random_range(1..=3)
                    } else {
                        0
                    }
                }
                (Idle::Interval(k), _) if index > 0 => *k,
                _ => 0,
            };
            rec[..4].copy_from_slice(&cycles.to_le_bytes());
            codec.encode(index, v, &mut rec[4..])?;
        }
        w.encode_s += t.elapsed().as_secs_f64();
        if tx.send((first, n, payload)).is_err() {
            // the reader stopped (its error is reported)
            break;
        }
        put(&mut stdin, &bytes)?;
        w.inputs += n as u64;
        w.bytes += bytes.len() as u64;
    }
    // dropping stdin closes the pipe: the harness drains the pipeline and exits
    Ok(w)
}

/// The reader: decodes output records and delivers them block by block.
fn read_outputs<T, C>(
    top: &str,
    stdout: &mut std::process::ChildStdout,
    output: &Port,
    rx: &mpsc::Receiver<(usize, usize, T)>,
    strict: bool,
    check: &mut C,
) -> Result<ReadEnd, CosimError>
where
    C: FnMut(Delivered<'_, T>) -> Result<(), CosimError>,
{
    let lanes = output.lanes.len();
    let mut codec = Codec::new(output);
    let record = codec.bytes;
    let mut end = ReadEnd {
        outputs: 0,
        bytes: 0,
        trailing: 0,
        decode_s: 0.0,
        check_s: 0.0,
    };
    let mut buf = vec![0u8; (1 << 16).max(2 * record)];
    let mut filled = 0;
    // the block being filled: (first, vectors, payload), and its outputs so far
    let mut current: Option<(usize, usize, T)> = None;
    let mut outs: Vec<i64> = Vec::new();
    let mut deliver = |block: (usize, usize, T), outs: &mut Vec<i64>, end: &mut ReadEnd| {
        let t = Instant::now();
        let r = check(Delivered {
            first: block.0,
            vectors: block.1,
            outputs: outs,
            payload: block.2,
        });
        outs.clear();
        end.check_s += t.elapsed().as_secs_f64();
        r
    };
    loop {
        let got = match stdout.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(CosimError::io("reading the simulator's outputs")(e)),
        };
        end.bytes += got as u64;
        filled += got;
        let whole = filled / record * record;
        let (t, checked) = (Instant::now(), end.check_s);
        for rec in buf[..whole].chunks_exact(record) {
            // a block announced with no vectors has nothing to wait for
            while current.as_ref().is_none_or(|c| c.1 == 0) {
                if let Some(done) = current.take() {
                    deliver(done, &mut outs, &mut end)?;
                }
                current = Some(rx.recv().map_err(|_| CosimError::Protocol {
                    top: top.to_string(),
                    message: "an output with no input vector outstanding".into(),
                })?);
            }
            codec.decode(rec, &mut outs);
            end.outputs += 1;
            let c = current.as_ref().expect("a block is being filled");
            if outs.len() == c.1 * lanes {
                let done = current.take().expect("a block is being filled");
                deliver(done, &mut outs, &mut end)?;
            }
        }
        end.decode_s += t.elapsed().as_secs_f64() - (end.check_s - checked);
        buf.copy_within(whole..filled, 0);
        filled -= whole;
    }
    end.trailing = filled;
    // blocks with no outputs (empty blocks; under fault injection, lost outputs)
    if let Some(c) = current.take() {
        if !strict || c.1 == 0 {
            deliver(c, &mut outs, &mut end)?;
        }
    }
    while let Ok(c) = rx.recv() {
        if !strict || c.1 == 0 {
            deliver(c, &mut outs, &mut end)?;
        }
    }
    Ok(end)
}

/// Reads `summary: N inputs, M outputs, C cycles, ..., S cpu-seconds` from stderr.
fn read_summary(top: &str, stderr: &str, stats: &mut StreamStats) -> Result<(), CosimError> {
    let summary = stderr
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("summary: "))
        .ok_or_else(|| CosimError::Protocol {
            top: top.to_string(),
            message: format!("no summary line on stderr: {}", head(stderr, 5)),
        })?;
    for part in summary.split(", ") {
        let mut words = part.splitn(2, ' ');
        let (Some(value), Some(name)) = (words.next(), words.next()) else {
            continue;
        };
        let Ok(value) = value.parse::<f64>() else {
            continue;
        };
        match name {
            "cycles" => stats.cycles = value as u64,
            "cpu-seconds" => stats.simulator_cpu_s = value,
            "inputs" | "outputs" => {}
            _ => stats.counters.push((name.to_string(), value)),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lanes::pack_lanes;

    fn random_port(rng: &mut rand_chacha::ChaCha8Rng) -> Port {
        let n = rng.random_range(1..40);
        Port {
            name: "p".into(),
            lanes: (0..n)
                .map(|_| Lane {
                    width: if rng.random_bool(0.2) {
                        [1, 31, 32, 33, 63, 64][rng.random_range(0..6)]
                    } else {
                        rng.random_range(1..=64)
                    },
                    signed: rng.random(),
                })
                .collect(),
        }
    }

    fn random_value(rng: &mut rand_chacha::ChaCha8Rng, l: Lane) -> i64 {
        let w = l.width;
        let (lo, hi) = match (l.signed, w) {
            (true, 64) => (i64::MIN, i64::MAX),
            (true, _) => (-(1i64 << (w - 1)), (1i64 << (w - 1)) - 1),
            (false, 63..) => (0, i64::MAX),
            (false, _) => (0, (1i64 << w) - 1),
        };
        match rng.random_range(0..4) {
            0 => lo,
            1 => hi,
            _ => rng.random_range(lo..=hi),
        }
    }

    /// The record of a vector is its packed bus as u32 words, least significant first,
    /// and decodes back to the same lane values.
    #[test]
    fn records_are_the_packed_bus_and_round_trip() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        for _ in 0..500 {
            let port = random_port(&mut rng);
            let mut codec = Codec::new(&port);
            let v: Vec<i64> = port
                .lanes
                .iter()
                .map(|&l| random_value(&mut rng, l))
                .collect();
            let mut rec = vec![0xa5u8; codec.bytes];
            codec.encode(0, &v, &mut rec).unwrap();
            let bus = pack_lanes(&v, &port.lanes);
            let want: Vec<u8> = bus.iter().flat_map(|l| l.to_le_bytes()).collect();
            assert_eq!(rec.len(), bus_bytes(port.width()));
            assert_eq!(rec[..], want[..rec.len()], "{port:?} {v:?}");
            assert!(want[rec.len()..].iter().all(|&b| b == 0));
            let top = u32::from_le_bytes(rec[rec.len() - 4..].try_into().unwrap());
            assert_eq!(top & !top_word_mask(port.width()), 0);
            let mut back = Vec::new();
            codec.decode(&rec, &mut back);
            assert_eq!(back, v);
        }
    }

    #[test]
    fn out_of_range_lanes_are_named() {
        let port = Port {
            name: "p".into(),
            lanes: vec![
                Lane {
                    width: 4,
                    signed: true,
                },
                Lane {
                    width: 3,
                    signed: false,
                },
            ],
        };
        let codec = Codec::new(&port);
        let mut rec = vec![0u8; codec.bytes];
        assert!(codec.encode(0, &[-8, 7], &mut rec).is_ok());
        for (v, lane) in [([-9, 0], 0), ([0, 8], 1), ([0, -1], 1), ([8, 0], 0)] {
            match codec.encode(12, &v, &mut rec) {
                Err(CosimError::BadVector { index: 12, message }) => {
                    assert!(message.starts_with(&format!("lane {lane}:")), "{message}")
                }
                other => panic!("{v:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn summary_lines_are_read() {
        let mut stats = StreamStats::default();
        let text = "note\nsummary: 5 inputs, 4 outputs, 99 cycles, 3 upsets, 1 spurious, \
                    0.250 cpu-seconds\n";
        read_summary("t", text, &mut stats).unwrap();
        assert_eq!(stats.cycles, 99);
        assert_eq!(stats.simulator_cpu_s, 0.25);
        assert_eq!(stats.counter("upsets"), Some(3.0));
        assert_eq!(stats.counter("spurious"), Some(1.0));
        assert!(read_summary("t", "error: x\n", &mut stats).is_err());
    }
}
