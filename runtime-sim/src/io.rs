//! Reading and writing data sets: NumPy `.npy` and CSV.
//!
//! A data set is a batch: the first axis counts samples, the rest is one sample.

use crate::error::SimError;
use npyz::{Endianness, TypeChar, WriterBuilder};
use std::io::{BufReader, BufWriter, Read};
use std::path::Path;

/// A batch of real values: `shape[0]` samples of `shape[1..]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Batch {
    pub shape: Vec<usize>,
    pub data: Vec<f64>,
}

impl Batch {
    pub fn samples(&self) -> usize {
        self.shape.first().copied().unwrap_or(0)
    }
    pub fn sample_len(&self) -> usize {
        self.shape.iter().skip(1).product()
    }
    pub fn sample(&self, i: usize) -> &[f64] {
        let n = self.sample_len();
        &self.data[i * n..(i + 1) * n]
    }
}

fn io_err(path: &Path, message: impl ToString) -> SimError {
    SimError::Io {
        path: path.display().to_string(),
        message: message.to_string(),
    }
}

/// Reads a `.npy` file of any float, int or uint dtype as f64 values.
pub fn read_npy(path: &Path) -> Result<Batch, SimError> {
    let bytes = std::fs::read(path).map_err(|e| io_err(path, e))?;
    let npy = npyz::NpyFile::new(&bytes[..])
        .map_err(|e| io_err(path, format!("not a .npy file: {e}")))?;
    let shape: Vec<usize> = npy.shape().iter().map(|&d| d as usize).collect();
    let ts = match npy.dtype() {
        npyz::DType::Plain(ts) => ts,
        other => return Err(io_err(path, format!("unsupported dtype {}", other.descr()))),
    };
    let e = |e: std::io::Error| io_err(path, e);
    let data: Vec<f64> = match (ts.type_char(), ts.size_field()) {
        (TypeChar::Float, 4) => npy
            .into_vec::<f32>()
            .map_err(e)?
            .into_iter()
            .map(f64::from)
            .collect(),
        (TypeChar::Float, 8) => npy.into_vec::<f64>().map_err(e)?,
        (TypeChar::Int, 1) => npy
            .into_vec::<i8>()
            .map_err(e)?
            .into_iter()
            .map(f64::from)
            .collect(),
        (TypeChar::Int, 2) => npy
            .into_vec::<i16>()
            .map_err(e)?
            .into_iter()
            .map(f64::from)
            .collect(),
        (TypeChar::Int, 4) => npy
            .into_vec::<i32>()
            .map_err(e)?
            .into_iter()
            .map(f64::from)
            .collect(),
        (TypeChar::Int, 8) => npy
            .into_vec::<i64>()
            .map_err(e)?
            .into_iter()
            .map(|v| v as f64)
            .collect(),
        (TypeChar::Uint, 1) => npy
            .into_vec::<u8>()
            .map_err(e)?
            .into_iter()
            .map(f64::from)
            .collect(),
        (TypeChar::Uint, 2) => npy
            .into_vec::<u16>()
            .map_err(e)?
            .into_iter()
            .map(f64::from)
            .collect(),
        (TypeChar::Uint, 4) => npy
            .into_vec::<u32>()
            .map_err(e)?
            .into_iter()
            .map(f64::from)
            .collect(),
        (t, s) => return Err(io_err(path, format!("unsupported dtype {t:?}{s}"))),
    };
    if shape.is_empty() {
        return Err(io_err(path, "a data set needs at least one axis (samples)"));
    }
    Ok(Batch { shape, data })
}

/// Writes f64 values as a float32 `.npy` (exact for values of up to 24 significant bits)
/// or float64 when `wide` is set.
pub fn write_npy(path: &Path, shape: &[usize], data: &[f64], wide: bool) -> Result<(), SimError> {
    let file = std::fs::File::create(path).map_err(|e| io_err(path, e))?;
    let shape: Vec<u64> = shape.iter().map(|&d| d as u64).collect();
    let e = |e: std::io::Error| io_err(path, e);
    let w = std::io::BufWriter::new(file);
    if wide {
        let mut wr = npyz::WriteOptions::new()
            .default_dtype()
            .shape(&shape)
            .writer(w)
            .begin_nd()
            .map_err(e)?;
        wr.extend(data.iter().copied()).map_err(e)?;
        wr.finish().map_err(e)?;
    } else {
        let mut wr = npyz::WriteOptions::<f32>::new()
            .default_dtype()
            .shape(&shape)
            .writer(w)
            .begin_nd()
            .map_err(e)?;
        wr.extend(data.iter().map(|&v| v as f32)).map_err(e)?;
        wr.finish().map_err(e)?;
    }
    Ok(())
}

/// Writes integers as an int64 `.npy`.
pub fn write_npy_i64(path: &Path, shape: &[usize], data: &[i64]) -> Result<(), SimError> {
    let file = std::fs::File::create(path).map_err(|e| io_err(path, e))?;
    let shape: Vec<u64> = shape.iter().map(|&d| d as u64).collect();
    let e = |e: std::io::Error| io_err(path, e);
    let mut wr = npyz::WriteOptions::<i64>::new()
        .default_dtype()
        .shape(&shape)
        .writer(std::io::BufWriter::new(file))
        .begin_nd()
        .map_err(e)?;
    wr.extend(data.iter().copied()).map_err(e)?;
    wr.finish().map_err(e)?;
    Ok(())
}

/// A `.npy` data set read a chunk of samples at a time, so that evaluating a data set
/// needs memory for one chunk, not for the file: C order, little-endian (or one-byte)
/// float and integer dtypes. [`NpyChunks::open`] returns `None` for other files, which
/// [`read_npy`] reads whole.
pub struct NpyChunks {
    path: String,
    reader: BufReader<std::fs::File>,
    shape: Vec<usize>,
    type_char: TypeChar,
    size: usize,
    left: usize,
    bytes: Vec<u8>,
}

impl NpyChunks {
    /// Opens `path` and reads its header; `Ok(None)` when the dtype or order is not one
    /// this reader streams.
    pub fn open(path: &Path) -> Result<Option<NpyChunks>, SimError> {
        let file = std::fs::File::open(path).map_err(|e| io_err(path, e))?;
        let mut reader = BufReader::with_capacity(1 << 20, file);
        let header = npyz::NpyHeader::from_reader(&mut reader)
            .map_err(|e| io_err(path, format!("not a .npy file: {e}")))?;
        let npyz::DType::Plain(ts) = header.dtype() else {
            return Ok(None);
        };
        let (tc, size) = (ts.type_char(), ts.size_field() as usize);
        let supported = matches!(
            (tc, size),
            (TypeChar::Float, 4 | 8) | (TypeChar::Int, 1 | 2 | 4 | 8) | (TypeChar::Uint, 1 | 2 | 4)
        );
        let little = ts.endianness() == Endianness::Little || size == 1;
        if !supported || !little || header.order() != npyz::Order::C {
            return Ok(None);
        }
        let shape: Vec<usize> = header.shape().iter().map(|&d| d as usize).collect();
        if shape.is_empty() {
            return Err(io_err(path, "a data set needs at least one axis (samples)"));
        }
        Ok(Some(NpyChunks {
            path: path.display().to_string(),
            reader,
            left: shape[0],
            shape,
            type_char: tc,
            size,
            bytes: Vec::new(),
        }))
    }

    /// The array's shape (first axis: samples).
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// Values per sample.
    pub fn sample_len(&self) -> usize {
        self.shape.iter().skip(1).product()
    }

    /// Reads the next (at most) `n` samples into `out` (cleared first) as f64 values;
    /// returns how many samples were read (0 at the end).
    pub fn read_f64(&mut self, n: usize, out: &mut Vec<f64>) -> Result<usize, SimError> {
        out.clear();
        let count = n.min(self.left);
        let bytes = count
            .checked_mul(self.sample_len())
            .and_then(|v| v.checked_mul(self.size))
            .ok_or_else(|| SimError::Io {
                path: self.path.clone(),
                message: format!("{count} samples of shape {:?} are too large", self.shape),
            })?;
        self.bytes.resize(bytes, 0);
        self.reader
            .read_exact(&mut self.bytes)
            .map_err(|e| SimError::Io {
                path: self.path.clone(),
                message: format!("reading the data: {e}"),
            })?;
        self.left -= count;
        let b = &self.bytes;
        macro_rules! conv {
            ($t:ty) => {
                out.extend(
                    b.chunks_exact(std::mem::size_of::<$t>())
                        .map(|c| <$t>::from_le_bytes(c.try_into().unwrap()) as f64),
                )
            };
        }
        match (self.type_char, self.size) {
            (TypeChar::Float, 4) => conv!(f32),
            (TypeChar::Float, 8) => conv!(f64),
            (TypeChar::Int, 1) => conv!(i8),
            (TypeChar::Int, 2) => conv!(i16),
            (TypeChar::Int, 4) => conv!(i32),
            (TypeChar::Int, 8) => conv!(i64),
            (TypeChar::Uint, 1) => conv!(u8),
            (TypeChar::Uint, 2) => conv!(u16),
            (TypeChar::Uint, 4) => conv!(u32),
            _ => unreachable!("checked by open"),
        }
        Ok(count)
    }
}

/// A `.npy` file written a chunk at a time (the shape is known up front).
pub enum NpyOut {
    F32(npyz::NpyWriter<f32, BufWriter<std::fs::File>>),
    I64(npyz::NpyWriter<i64, BufWriter<std::fs::File>>),
}

impl NpyOut {
    /// Starts a float32 (`ints == false`) or int64 `.npy` of `shape`.
    pub fn create(path: &Path, shape: &[usize], ints: bool) -> Result<NpyOut, SimError> {
        let file = std::fs::File::create(path).map_err(|e| io_err(path, e))?;
        let w = BufWriter::with_capacity(1 << 20, file);
        let shape: Vec<u64> = shape.iter().map(|&d| d as u64).collect();
        let e = |e: std::io::Error| io_err(path, e);
        Ok(if ints {
            NpyOut::I64(
                npyz::WriteOptions::<i64>::new()
                    .default_dtype()
                    .shape(&shape)
                    .writer(w)
                    .begin_nd()
                    .map_err(e)?,
            )
        } else {
            NpyOut::F32(
                npyz::WriteOptions::<f32>::new()
                    .default_dtype()
                    .shape(&shape)
                    .writer(w)
                    .begin_nd()
                    .map_err(e)?,
            )
        })
    }

    /// Appends values (as float32 or int64, whichever the file holds).
    pub fn write(
        &mut self,
        ints: &[i64],
        real: impl Fn(&[i64]) -> Vec<f64>,
    ) -> std::io::Result<()> {
        match self {
            NpyOut::I64(w) => w.extend(ints.iter().copied()),
            NpyOut::F32(w) => w.extend(real(ints).into_iter().map(|v| v as f32)),
        }
    }

    pub fn finish(self) -> std::io::Result<()> {
        match self {
            NpyOut::I64(w) => w.finish(),
            NpyOut::F32(w) => w.finish(),
        }
    }
}

/// Reads a CSV file with one sample per row (no header; a first row that does not
/// parse as numbers is taken as a header and skipped).
pub fn read_csv(path: &Path) -> Result<Batch, SimError> {
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .trim(csv::Trim::All)
        .from_path(path)
        .map_err(|e| io_err(path, e))?;
    let mut data = Vec::new();
    let mut width = None;
    let mut rows = 0;
    for (line, rec) in rdr.records().enumerate() {
        let rec = rec.map_err(|e| io_err(path, e))?;
        let parsed: Result<Vec<f64>, _> = rec.iter().map(|f| f.parse::<f64>()).collect();
        let values = match parsed {
            Ok(v) => v,
            Err(_) if line == 0 => continue,
            Err(e) => return Err(io_err(path, format!("line {}: {e}", line + 1))),
        };
        match width {
            None => width = Some(values.len()),
            Some(w) if w != values.len() => {
                return Err(io_err(
                    path,
                    format!("line {}: {} values, expected {}", line + 1, values.len(), w),
                ))
            }
            _ => {}
        }
        data.extend(values);
        rows += 1;
    }
    Ok(Batch {
        shape: vec![rows, width.unwrap_or(0)],
        data,
    })
}

/// Writes one sample per row.
pub fn write_csv(path: &Path, samples: usize, data: &[f64]) -> Result<(), SimError> {
    let mut w = csv::Writer::from_path(path).map_err(|e| io_err(path, e))?;
    let per = data.len().checked_div(samples).unwrap_or(0);
    for s in 0..samples {
        w.write_record(data[s * per..(s + 1) * per].iter().map(|v| v.to_string()))
            .map_err(|e| io_err(path, e))?;
    }
    w.flush().map_err(|e| io_err(path, e))?;
    Ok(())
}

/// Reads `.npy` or `.csv` by extension.
pub fn read_batch(path: &Path) -> Result<Batch, SimError> {
    match path.extension().and_then(|e| e.to_str()) {
        Some("csv") => read_csv(path),
        Some("npy") => read_npy(path),
        _ => Err(io_err(path, "expected a .npy or .csv file")),
    }
}

/// Writes `.npy` (float32) or `.csv` by extension.
pub fn write_batch(path: &Path, shape: &[usize], data: &[f64]) -> Result<(), SimError> {
    match path.extension().and_then(|e| e.to_str()) {
        Some("csv") => write_csv(path, shape.first().copied().unwrap_or(0), data),
        Some("npy") => write_npy(path, shape, data, false),
        _ => Err(io_err(path, "expected a .npy or .csv file")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn npy_and_csv_round_trip() {
        let dir = std::env::temp_dir().join(format!("aecc-sim-io-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let data = vec![0.5, -1.25, 3.0, 0.0078125, 2.0, -4.0];
        for name in ["a.npy", "a.csv"] {
            let p = dir.join(name);
            write_batch(&p, &[2, 3], &data).unwrap();
            let b = read_batch(&p).unwrap();
            assert_eq!(b.shape, vec![2, 3]);
            assert_eq!(b.data, data);
            assert_eq!(b.sample(1), &data[3..]);
        }
        let p = dir.join("bad.npy");
        std::fs::write(&p, b"not numpy").unwrap();
        assert!(read_batch(&p)
            .unwrap_err()
            .to_string()
            .contains("not a .npy file"));
        std::fs::remove_dir_all(&dir).ok();
    }

    /// Chunked reading gives the values `read_npy` gives, for every streamed dtype;
    /// chunked writing gives the file `write_npy` writes.
    #[test]
    fn npy_chunks_equal_whole_reads() {
        let dir = std::env::temp_dir().join(format!("aecc-sim-chunks-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let shape = [7u64, 2, 3];
        let n = 42usize;
        macro_rules! case {
            ($t:ty, $v:expr) => {{
                let p = dir.join(format!("{}.npy", stringify!($t)));
                let data: Vec<$t> = (0..n).map($v).collect();
                let mut w = npyz::WriteOptions::<$t>::new()
                    .default_dtype()
                    .shape(&shape)
                    .writer(std::io::BufWriter::new(std::fs::File::create(&p).unwrap()))
                    .begin_nd()
                    .unwrap();
                w.extend(data.iter().copied()).unwrap();
                w.finish().unwrap();
                let whole = read_npy(&p).unwrap();
                let mut c = NpyChunks::open(&p).unwrap().expect("streamed");
                assert_eq!((c.shape(), c.sample_len()), (&[7usize, 2, 3][..], 6));
                let (mut all, mut buf) = (Vec::new(), Vec::new());
                loop {
                    let k = c.read_f64(3, &mut buf).unwrap();
                    if k == 0 {
                        break;
                    }
                    assert_eq!(buf.len(), k * 6);
                    all.extend_from_slice(&buf);
                }
                assert_eq!(all, whole.data, "{}", stringify!($t));
            }};
        }
        case!(f32, |i| i as f32 * 0.37 - 5.0);
        case!(f64, |i| i as f64 * -1e-3 + 1e9);
        case!(i8, |i| i as i8 - 20);
        case!(i16, |i| (i as i16 - 20) * 999);
        case!(i32, |i| (i as i32 - 20) * 99_999);
        case!(i64, |i| (i as i64 - 20) << 40);
        case!(u8, |i| i as u8 * 6);
        case!(u16, |i| i as u16 * 1500);
        case!(u32, |i| i as u32 * 100_000_000);
        // writing in chunks
        let data: Vec<i64> = (0..12).map(|i| i * 3 - 7).collect();
        for ints in [false, true] {
            let p = dir.join("out.npy");
            let mut w = NpyOut::create(&p, &[4, 3], ints).unwrap();
            for chunk in data.chunks(5) {
                w.write(chunk, |x| x.iter().map(|&v| v as f64 * 0.5).collect())
                    .unwrap();
            }
            w.finish().unwrap();
            let back = read_npy(&p).unwrap();
            assert_eq!(back.shape, vec![4, 3]);
            let want: Vec<f64> = data
                .iter()
                .map(|&v| if ints { v as f64 } else { v as f64 * 0.5 })
                .collect();
            assert_eq!(back.data, want);
        }
        // a truncated file is an error, not a short read
        let p = dir.join("f32.npy");
        let bytes = std::fs::read(&p).unwrap();
        std::fs::write(&p, &bytes[..bytes.len() - 5]).unwrap();
        let mut c = NpyChunks::open(&p).unwrap().unwrap();
        let mut buf = Vec::new();
        assert!(c.read_f64(100, &mut buf).is_err());
        std::fs::remove_dir_all(&dir).ok();
    }
}
