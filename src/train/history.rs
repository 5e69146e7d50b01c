//! What training reports per epoch: `metrics.csv` (one row per epoch, rewritten atomically,
//! read back on resume) and `curves.png` (training losses and validation metrics by epoch),
//! written by the loop's history hook ([`HistoryFiles`]).

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Context;
use burn::module::AutodiffModule;
use burn::tensor::backend::AutodiffBackend;

use super::hooks::{EpochEnd, Hook};
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

/// The history as training writes it: after each epoch the epoch's line logged, then
/// `out/metrics.csv` and `out/curves.png` rewritten.
pub struct HistoryFiles<'a> {
    pub out: &'a Path,
    pub epochs: usize,
    pub history: History,
}

impl<'a> HistoryFiles<'a> {
    /// A new run's history, or that of a run resumed after epoch `resumed` (> 0):
    /// `metrics.csv`'s records up to it.
    pub fn new(out: &'a Path, epochs: usize, resumed: usize) -> anyhow::Result<Self> {
        let mut history = History::default();
        if resumed > 0 {
            history = History::read(&out.join("metrics.csv")).map_err(anyhow::Error::msg)?;
            history.records.retain(|r| r.epoch <= resumed);
        }
        Ok(Self {
            out,
            epochs,
            history,
        })
    }
}

impl<B, M> Hook<B, M> for HistoryFiles<'_>
where
    B: AutodiffBackend,
    M: AutodiffModule<B>,
{
    fn after_epoch(&mut self, end: &mut EpochEnd<'_, M>) -> anyhow::Result<()> {
        tracing::info!("{}", summary_line(end.record, self.epochs));
        self.history.records.push(end.record.clone());
        let (csv, curves) = (self.out.join("metrics.csv"), self.out.join("curves.png"));
        self.history
            .write_csv(&csv)
            .with_context(|| format!("writing {}", csv.display()))?;
        self.history
            .write_curves(&curves)
            .with_context(|| format!("writing {}", curves.display()))
    }
}

fn summary_line(r: &EpochRecord, epochs: usize) -> String {
    let mut line = format!(
        "epoch {}/{epochs} ({:.0} s, lr {:.2e}):",
        r.epoch, r.seconds, r.lr
    );
    for (name, v) in &r.train {
        line += &format!(" {name} {v:.4}");
    }
    for (name, v) in &r.valid {
        line += &format!(" | val {name} {v:.4}");
    }
    line
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
        let dir = std::env::temp_dir().join(format!("avaloc-history-csv-{}", std::process::id()));
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

    #[test]
    fn the_history_hook_writes_each_epoch_and_a_resumed_run_keeps_the_epochs_before_it() {
        use burn::backend::{Autodiff, Flex};
        use burn::nn::{Linear, LinearConfig};
        type B = Autodiff<Flex>;
        let out = std::env::temp_dir().join(format!("avaloc-history-hook-{}", std::process::id()));
        std::fs::create_dir_all(&out).unwrap();
        let model: Linear<B> = LinearConfig::new(2, 1).init(&burn::backend::flex::FlexDevice);
        let mut files = HistoryFiles::new(&out, 3, 0).unwrap();
        for epoch in 1..=2 {
            let mut record = EpochRecord {
                epoch,
                updates: 4 * epoch,
                lr: 0.1,
                seconds: 1.5,
                train: vec![("loss".into(), 1.0 / epoch as f64)],
                valid: vec![("frame_map".into(), 0.25 * epoch as f64)],
            };
            let mut end = EpochEnd {
                model: &model,
                record: &mut record,
                started: std::time::Instant::now(),
                optimizer: &|_| Ok(()),
            };
            Hook::<B, _>::after_epoch(&mut files, &mut end).unwrap();
        }
        let written = History::read(&out.join("metrics.csv")).unwrap();
        assert_eq!(written, files.history);
        assert_eq!(written.records.len(), 2);
        assert_eq!(
            written.records[1].valid,
            vec![("frame_map".to_string(), 0.5)]
        );
        assert!(out.join("curves.png").is_file());
        let resumed = HistoryFiles::new(&out, 3, 1).unwrap();
        assert_eq!(resumed.history.records, written.records[..1].to_vec());
        std::fs::remove_dir_all(&out).unwrap();
    }
}
