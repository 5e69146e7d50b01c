//! On-disk storage of a long-term feature bank: one file per video, `<BANK>/<video>.bank`,
//! written atomically and read memory-mapped, so that a bank of AVA's size never has to fit
//! in memory.
//!
//! A file is a header, a table of entries (the second, the box and its score) sorted by
//! second and falling score, and the features, one row of `dim` values per entry in float16
//! or float32, little-endian:
//!
//! ```text
//! magic "AVALOCBK" | version u32 | dtype u32 (0 f32, 1 f16) | dim u32 | entries u32
//! entries × (second i64, score f32, box x1 y1 x2 y2 f32)     — 28 bytes each
//! entries × dim × (4 or 2 bytes)
//! ```

use std::collections::BTreeMap;
use std::io::Write as _;
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::BankError;

const MAGIC: &[u8; 8] = b"AVALOCBK";
const VERSION: u32 = 1;
const HEADER_BYTES: usize = 8 + 4 * 4;
const ENTRY_BYTES: usize = 8 + 4 + 16;

/// How features are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum BankDtype {
    /// Half the bytes; features round to 11 significant bits (FAIR's and MMAction2's banks
    /// are float16 too).
    #[default]
    F16,
    F32,
}

impl BankDtype {
    fn bytes(self) -> usize {
        match self {
            Self::F16 => 2,
            Self::F32 => 4,
        }
    }

    fn code(self) -> u32 {
        match self {
            Self::F32 => 0,
            Self::F16 => 1,
        }
    }
}

/// One person box at one second of a video, with its feature.
#[derive(Debug, Clone, PartialEq)]
pub struct BankEntry {
    pub second: i64,
    pub score: f32,
    pub box_xyxy_norm: [f32; 4],
    pub feature: Vec<f32>,
}

/// The file of `video_id` in `dir`.
pub fn video_path(dir: &Path, video_id: &str) -> PathBuf {
    dir.join(format!("{video_id}.bank"))
}

/// Writes the entries of one video (in any order; stored by second and falling score) as
/// `dtype`, atomically: a killed build leaves no file that reads as complete.
pub fn write_video(
    dir: &Path,
    video_id: &str,
    entries: &[BankEntry],
    dim: usize,
    dtype: BankDtype,
) -> Result<PathBuf, BankError> {
    let path = video_path(dir, video_id);
    if let Some(bad) = entries.iter().find(|e| e.feature.len() != dim) {
        return Err(BankError::file(
            &path,
            format!(
                "a feature at second {} has {} values, not {dim}",
                bad.second,
                bad.feature.len()
            ),
        ));
    }
    // A non-finite feature (a diverged model) would poison every window that reads it.
    if let Some(bad) = entries.iter().find(|e| {
        !e.score.is_finite()
            || e.box_xyxy_norm.iter().any(|v| !v.is_finite())
            || e.feature.iter().any(|v| !v.is_finite())
    }) {
        return Err(BankError::file(
            &path,
            format!(
                "a non-finite value in the entry at second {} (box {:?}): is the model's \
                 checkpoint sound?",
                bad.second, bad.box_xyxy_norm
            ),
        ));
    }
    let mut order: Vec<&BankEntry> = entries.iter().collect();
    order.sort_by(|a, b| a.second.cmp(&b.second).then(b.score.total_cmp(&a.score)));
    let mut bytes = Vec::with_capacity(file_bytes(entries.len(), dim, dtype));
    bytes.extend_from_slice(MAGIC);
    for v in [VERSION, dtype.code(), dim as u32, entries.len() as u32] {
        bytes.extend_from_slice(&v.to_le_bytes());
    }
    for e in &order {
        bytes.extend_from_slice(&e.second.to_le_bytes());
        bytes.extend_from_slice(&e.score.to_le_bytes());
        for v in e.box_xyxy_norm {
            bytes.extend_from_slice(&v.to_le_bytes());
        }
    }
    for e in &order {
        match dtype {
            BankDtype::F32 => e
                .feature
                .iter()
                .for_each(|v| bytes.extend_from_slice(&v.to_le_bytes())),
            BankDtype::F16 => e
                .feature
                .iter()
                .for_each(|v| bytes.extend_from_slice(&half::f16::from_f32(*v).to_le_bytes())),
        }
    }
    let io = |source| BankError::Io {
        path: path.clone(),
        source,
    };
    let tmp = crate::fs::temp_path(&path).map_err(io)?;
    let mut file = std::fs::File::create(&tmp).map_err(io)?;
    file.write_all(&bytes).map_err(io)?;
    file.sync_all().map_err(io)?;
    std::fs::rename(&tmp, &path).map_err(io)?;
    Ok(path)
}

/// The metadata of one stored entry.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EntryInfo {
    pub second: i64,
    pub score: f32,
    pub box_xyxy_norm: [f32; 4],
}

/// One video's bank, memory-mapped.
#[derive(Debug)]
pub struct VideoBank {
    map: memmap2::Mmap,
    dtype: BankDtype,
    dim: usize,
    entries: Vec<EntryInfo>,
    /// Entries of each second with any.
    seconds: BTreeMap<i64, Range<usize>>,
}

/// The size of a video's file of `entries` features of `dim` values.
pub fn file_bytes(entries: usize, dim: usize, dtype: BankDtype) -> usize {
    HEADER_BYTES + entries * (ENTRY_BYTES + dim * dtype.bytes())
}

/// The first entry of `features` (rows of `dim` values) holding a NaN or an infinity: an
/// all-ones exponent, checked on the raw bits (a whole bank is scanned once, on open).
fn first_non_finite(features: &[u8], dtype: BankDtype, dim: usize) -> Option<usize> {
    let position = match dtype {
        BankDtype::F32 => features
            .chunks_exact(4)
            .position(|b| u32::from_le_bytes(b.try_into().unwrap()) & 0x7f80_0000 == 0x7f80_0000),
        BankDtype::F16 => features
            .chunks_exact(2)
            .position(|b| u16::from_le_bytes(b.try_into().unwrap()) & 0x7c00 == 0x7c00),
    };
    position.map(|p| p / dim.max(1))
}

impl VideoBank {
    /// Opens and checks a video's file: a truncated, foreign or inconsistent file, or one
    /// holding a non-finite number, is an error naming it.
    pub fn open(path: &Path) -> Result<Self, BankError> {
        let bad = |message: String| BankError::file(path, message);
        let file = std::fs::File::open(path).map_err(|source| BankError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        // Safety: the file is opened read-only and banks are written by rename into place,
        // never modified in place; a file replaced while mapped keeps its old contents.
        let map = unsafe { memmap2::Mmap::map(&file) }.map_err(|source| BankError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        if map.len() < HEADER_BYTES || &map[..8] != MAGIC {
            return Err(bad("not an avaloc bank file (no AVALOCBK header)".into()));
        }
        let word = |i: usize| u32::from_le_bytes(map[8 + 4 * i..12 + 4 * i].try_into().unwrap());
        let (version, code, dim, count) = (word(0), word(1), word(2) as usize, word(3) as usize);
        if version != VERSION {
            return Err(bad(format!(
                "bank format version {version}; this avaloc reads version {VERSION}"
            )));
        }
        let dtype = match code {
            0 => BankDtype::F32,
            1 => BankDtype::F16,
            other => return Err(bad(format!("unknown feature type code {other}"))),
        };
        let expected = (count as u128)
            * (ENTRY_BYTES as u128 + dim as u128 * dtype.bytes() as u128)
            + HEADER_BYTES as u128;
        if map.len() as u128 != expected {
            return Err(bad(format!(
                "{} bytes where {count} entries of {dim} {dtype:?} values take {expected} \
                 (truncated or damaged)",
                map.len()
            )));
        }
        let mut entries = Vec::with_capacity(count);
        let mut seconds: BTreeMap<i64, Range<usize>> = BTreeMap::new();
        for i in 0..count {
            let at = HEADER_BYTES + i * ENTRY_BYTES;
            let f = |j: usize| {
                f32::from_le_bytes(map[at + 8 + 4 * j..at + 12 + 4 * j].try_into().unwrap())
            };
            let info = EntryInfo {
                second: i64::from_le_bytes(map[at..at + 8].try_into().unwrap()),
                score: f(0),
                box_xyxy_norm: [f(1), f(2), f(3), f(4)],
            };
            if let Some(previous) = entries.last().map(|e: &EntryInfo| e.second)
                && previous > info.second
            {
                return Err(bad(format!("entry {i} is out of order (damaged)")));
            }
            if !info.score.is_finite() || info.box_xyxy_norm.iter().any(|v| !v.is_finite()) {
                return Err(bad(format!(
                    "entry {i} (second {}) has a non-finite score or box (damaged)",
                    info.second
                )));
            }
            seconds
                .entry(info.second)
                .and_modify(|r| r.end = i + 1)
                .or_insert(i..i + 1);
            entries.push(info);
        }
        let features = &map[HEADER_BYTES + count * ENTRY_BYTES..];
        if let Some(i) = first_non_finite(features, dtype, dim) {
            return Err(bad(format!(
                "entry {i} (second {}) has a non-finite feature value (damaged)",
                entries[i].second
            )));
        }
        Ok(Self {
            map,
            dtype,
            dim,
            entries,
            seconds,
        })
    }

    pub fn dim(&self) -> usize {
        self.dim
    }

    pub fn dtype(&self) -> BankDtype {
        self.dtype
    }

    pub fn entries(&self) -> &[EntryInfo] {
        &self.entries
    }

    /// The entries of `second` (by falling score), empty where it has none.
    pub fn second(&self, second: i64) -> Range<usize> {
        self.seconds.get(&second).cloned().unwrap_or(0..0)
    }

    /// Seconds with entries.
    pub fn seconds(&self) -> impl Iterator<Item = i64> + '_ {
        self.seconds.keys().copied()
    }

    /// Entry `i`'s feature, written into `out` (`dim` values).
    pub fn feature_into(&self, i: usize, out: &mut [f32]) {
        let width = self.dim * self.dtype.bytes();
        let start = HEADER_BYTES + self.entries.len() * ENTRY_BYTES + i * width;
        let row = &self.map[start..start + width];
        match self.dtype {
            BankDtype::F32 => {
                for (o, b) in out.iter_mut().zip(row.chunks_exact(4)) {
                    *o = f32::from_le_bytes(b.try_into().unwrap());
                }
            }
            BankDtype::F16 => {
                use half::slice::HalfFloatSliceExt;
                // Rows start at even offsets of a page-aligned map: a cast to f16 works on
                // little-endian machines and takes the vectorised conversion (F16C on x86).
                match bytemuck::try_cast_slice::<u8, half::f16>(row) {
                    Ok(values) if cfg!(target_endian = "little") => {
                        values.convert_to_f32_slice(&mut out[..self.dim])
                    }
                    _ => {
                        for (o, b) in out.iter_mut().zip(row.chunks_exact(2)) {
                            *o = half::f16::from_le_bytes(b.try_into().unwrap()).to_f32();
                        }
                    }
                }
            }
        }
    }
}

/// The bytes, videos, seconds and features of a bank folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BankStats {
    pub videos: usize,
    pub seconds: usize,
    pub features: usize,
    pub bytes: u64,
}

/// Counts what the bank in `dir` holds (every `.bank` file is opened and checked).
pub fn bank_stats(dir: &std::path::Path) -> Result<BankStats, BankError> {
    let entries = std::fs::read_dir(dir).map_err(|source| BankError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut stats = BankStats::default();
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "bank"))
        .collect();
    paths.sort();
    for path in paths {
        let video = VideoBank::open(&path)?;
        stats.videos += 1;
        stats.seconds += video.seconds().count();
        stats.features += video.entries().len();
        stats.bytes += std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    }
    Ok(stats)
}
