//! Reading and writing data sets: NumPy `.npy` and CSV.
//!
//! A data set is a batch: the first axis counts samples, the rest is one sample.

use crate::error::SimError;
use npyz::{TypeChar, WriterBuilder};
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
}
