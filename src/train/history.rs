//! What training reports per epoch: `metrics.csv` (one row per epoch, rewritten atomically,
//! read back on resume) and `curves.png` (training losses and validation metrics by epoch).

use std::fmt::Write as _;
use std::path::Path;

use image::{Rgb, RgbImage};

use crate::draw::{GRID, INK, PALETTE, fill, font, line, text, write_png};

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
        crate::io::write_atomic(path, out.as_bytes())
    }

    /// Two panels: each training loss by epoch, each validation metric by epoch.
    pub fn write_curves(&self, path: &Path) -> std::io::Result<()> {
        const PANEL_W: u32 = 420;
        const PANEL_H: u32 = 280;
        let font = font();
        let mut img = RgbImage::from_pixel(2 * PANEL_W + 200, PANEL_H + 110, Rgb([255; 3]));
        let series =
            |pick: fn(&EpochRecord) -> &Vec<(String, f64)>| -> Vec<(String, Vec<(f64, f64)>)> {
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
        let panels = [
            ("training loss", series(|r| &r.train)),
            ("validation", series(|r| &r.valid)),
        ];
        for (p, (title, series)) in panels.iter().enumerate() {
            let (x0, y0) = (60 + p as u32 * (PANEL_W + 100), 40);
            panel(&mut img, &font, (x0, y0), (PANEL_W, PANEL_H), title, series);
        }
        write_png(&img, path)
    }
}

/// Line chart of `series` in a `size` box at `origin`, y from 0 to the largest value.
fn panel(
    img: &mut RgbImage,
    font: &ab_glyph::FontRef,
    (x0, y0): (u32, u32),
    (w, h): (u32, u32),
    title: &str,
    series: &[(String, Vec<(f64, f64)>)],
) {
    text(img, font, x0 as f32, (y0 - 14) as f32, 14.0, title, INK);
    let points = series.iter().flat_map(|(_, p)| p.iter());
    let x_max = points.clone().map(|p| p.0).fold(1.0, f64::max);
    let y_max = points
        .map(|p| p.1)
        .filter(|v| v.is_finite())
        .fold(1e-9, f64::max);
    for tick in 0..=4 {
        let f = tick as f64 / 4.0;
        let y = y0 + h - (h as f64 * f) as u32;
        fill(img, x0, y, w, 1, GRID);
        let label = format!("{:.3}", y_max * f);
        text(
            img,
            font,
            x0 as f32 - 46.0,
            y as f32 + 4.0,
            11.0,
            &label,
            INK,
        );
    }
    text(
        img,
        font,
        (x0 + w / 2 - 16) as f32,
        (y0 + h + 20) as f32,
        12.0,
        "epoch",
        INK,
    );
    let last = format!("{x_max:.0}");
    text(
        img,
        font,
        (x0 + w - 10) as f32,
        (y0 + h + 20) as f32,
        11.0,
        &last,
        INK,
    );
    let to_px = |(x, y): (f64, f64)| {
        (
            x0 as f64 + x / x_max * w as f64,
            y0 as f64 + h as f64 * (1.0 - (y / y_max).clamp(0.0, 1.0)),
        )
    };
    for (k, (name, points)) in series.iter().enumerate() {
        let color = PALETTE[k % PALETTE.len()];
        for pair in points.windows(2) {
            line(img, to_px(pair[0]), to_px(pair[1]), color);
        }
        if let [only] = points.as_slice() {
            let (x, y) = to_px(*only);
            fill(img, x as u32, y as u32, 4, 4, color);
        }
        let y = y0 + 10 + 18 * k as u32;
        fill(img, x0 + w + 8, y - 9, 12, 10, color);
        text(img, font, (x0 + w + 24) as f32, y as f32, 11.0, name, INK);
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
        assert!(image::open(dir.join("curves.png")).is_ok());
        std::fs::remove_dir_all(dir).unwrap();
    }
}
