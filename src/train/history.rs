//! What training reports per epoch: `metrics.csv` (one row per epoch, rewritten atomically,
//! read back on resume) and `curves.png` (training losses and validation metrics by epoch).

use std::fmt::Write as _;
use std::path::Path;

use crate::render::raster::{Series, write_line_charts};

/// One epoch: mean training losses over its batches and the validation metrics after it.
#[derive(Debug, Clone, PartialEq)]
pub struct EpochRecord {
    pub epoch: usize,
    /// Optimizer updates so far.
    pub updates: usize,
    /// Learning rate of the epoch's last update.
    pub lr: f64,
    pub seconds: f64,
    pub train: Vec<(String, f64)>,
    pub valid: Vec<(String, f64)>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct History {
    pub records: Vec<EpochRecord>,
}

impl History {
    /// Reads a `metrics.csv` this module wrote.
    pub fn read(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let mut lines = text.lines();
        let header: Vec<&str> = lines
            .next()
            .ok_or_else(|| format!("{}: empty", path.display()))?
            .split(',')
            .collect();
        if header.get(..4) != Some(&["epoch", "updates", "lr", "seconds"][..]) {
            return Err(format!(
                "{}: not a metrics file (header {header:?})",
                path.display()
            ));
        }
        let mut records = Vec::new();
        for (n, row) in lines.enumerate() {
            let fields: Vec<&str> = row.split(',').collect();
            let bad = || format!("{}:{}: malformed row", path.display(), n + 2);
            if fields.len() != header.len() {
                return Err(bad());
            }
            let num = |i: usize| fields[i].parse::<f64>().map_err(|_| bad());
            let mut record = EpochRecord {
                epoch: num(0)? as usize,
                updates: num(1)? as usize,
                lr: num(2)?,
                seconds: num(3)?,
                train: Vec::new(),
                valid: Vec::new(),
            };
            for (i, name) in header.iter().enumerate().skip(4) {
                if let Some(n) = name.strip_prefix("train_") {
                    record.train.push((n.to_string(), num(i)?));
                } else if let Some(n) = name.strip_prefix("val_") {
                    record.valid.push((n.to_string(), num(i)?));
                } else {
                    return Err(format!("{}: unknown column {name}", path.display()));
                }
            }
            records.push(record);
        }
        Ok(Self { records })
    }

    pub fn write_csv(&self, path: &Path) -> std::io::Result<()> {
        let mut out = String::from("epoch,updates,lr,seconds");
        if let Some(r) = self.records.first() {
            for (name, _) in &r.train {
                write!(out, ",train_{name}").unwrap();
            }
            for (name, _) in &r.valid {
                write!(out, ",val_{name}").unwrap();
            }
        }
        out.push('\n');
        for r in &self.records {
            write!(out, "{},{},{:e},{:.1}", r.epoch, r.updates, r.lr, r.seconds).unwrap();
            for (_, v) in r.train.iter().chain(&r.valid) {
                write!(out, ",{v:.6}").unwrap();
            }
            out.push('\n');
        }
        crate::fs::write_atomic(path, out.as_bytes())
    }

    /// Two panels: each training loss by epoch, each validation metric by epoch.
    pub fn write_curves(&self, path: &Path) -> std::io::Result<()> {
        let series = |pick: fn(&EpochRecord) -> &Vec<(String, f64)>| -> Vec<Series> {
            let Some(first) = self.records.first() else {
                return Vec::new();
            };
            (0..pick(first).len())
                .map(|k| {
                    let name = pick(first)[k].0.clone();
                    let points = self
                        .records
                        .iter()
                        .filter_map(|r| pick(r).get(k).map(|(_, v)| (r.epoch as f64, *v)))
                        .collect();
                    (name, points)
                })
                .collect()
        };
        write_line_charts(
            &[
                ("training loss", series(|r| &r.train)),
                ("validation", series(|r| &r.valid)),
            ],
            "epoch",
            path,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_round_trips() {
        let history = History {
            records: (1..=2)
                .map(|e| EpochRecord {
                    epoch: e,
                    updates: 10 * e,
                    lr: 0.02,
                    seconds: 3.5,
                    train: vec![("loss".into(), 1.0 / e as f64)],
                    valid: vec![("ap50".into(), 0.25 * e as f64)],
                })
                .collect(),
        };
        let dir = std::env::temp_dir().join(format!("avaloc-history-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("metrics.csv");
        history.write_csv(&path).unwrap();
        assert_eq!(History::read(&path).unwrap(), history);
        history.write_curves(&dir.join("curves.png")).unwrap();
        // Two 520 × 340 panels drawn by plotters.
        let png = image::open(dir.join("curves.png")).unwrap().to_rgb8();
        assert_eq!(png.dimensions(), (1040, 340));
        assert!(
            png.pixels().any(|p| p.0 == [31, 119, 180]),
            "no curve drawn"
        );
        std::fs::remove_dir_all(dir).unwrap();
    }
}
