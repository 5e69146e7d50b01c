//! The system files the demo runs, built from the typed system tables
//! (`localize::system::SystemTables`).

use std::path::{Path, PathBuf};

use anyhow::Result;

use crate::data::bank::BankDtype;
use crate::localize::system::{
    ActionsTable, ArmTable, BankTable, PartSource, PersonsTable, PosesTable, RenderTable,
    SystemTables,
};

/// The synthetic detector's people score 0.8 to 1 (FAIR's 0.9 would drop half).
pub const BOX_THRESHOLD: f64 = 0.8;

/// An action model of the system: its config and trained weights.
#[derive(Debug, Clone)]
pub struct Model {
    pub config: PathBuf,
    pub weights: PathBuf,
}

impl Model {
    fn source(&self) -> PartSource {
        PartSource::Network {
            config: self.config.clone(),
            weights: self.weights.clone(),
        }
    }
}

/// A part given as a file of its outputs, or as a trained network.
#[derive(Debug, Clone, Copy)]
pub enum Input<'a> {
    Given(&'a Path),
    Network(&'a Model),
}

impl Input<'_> {
    fn source(self) -> PartSource {
        match self {
            Self::Given(file) => PartSource::Given(file.to_path_buf()),
            Self::Network(model) => model.source(),
        }
    }
}

/// What a system file names: boxes, keypoints (with an arm branch), the bank's baseline
/// (with a model that reads one), the action model, the arm branch and its fusion.
pub struct Parts<'a> {
    pub boxes: Input<'a>,
    pub keypoints: Option<Input<'a>>,
    pub bank: Option<&'a Model>,
    pub actions: &'a Model,
    pub arm: Option<&'a Model>,
    pub fusion: Option<&'a Path>,
}

impl<'a> Parts<'a> {
    /// An action model alone (with its bank's baseline, where it reads one).
    pub fn alone(boxes: &'a Path, actions: &'a Model, bank: Option<&'a Model>) -> Self {
        Self {
            boxes: Input::Given(boxes),
            keypoints: None,
            bank,
            actions,
            arm: None,
            fusion: None,
        }
    }
}

/// The class maps and pictures every demo system shares.
pub struct Shared<'a> {
    pub labelmap: &'a Path,
    pub arm_labelmap: &'a Path,
    pub pictures: usize,
}

/// The comment of a system whose every network was trained here.
pub const NOTE_TRAINED: &str =
    "Written by `avaloc demo`: the detector and CPN trained on the synthetic set.";
/// The comment of a system with given boxes and keypoints.
const NOTE_GIVEN: &str = "Written by `avaloc demo`: the synthetic set's detector-like boxes and \
     ground-truth keypoints stand in for a trained detector and CPN.";

/// Writes `path`, a system file naming `parts`.
pub fn write_system(path: &Path, parts: Parts, shared: &Shared) -> Result<PathBuf> {
    let note = match (parts.boxes, parts.keypoints) {
        (Input::Network(_), Some(Input::Network(_)) | None) => NOTE_TRAINED,
        _ => NOTE_GIVEN,
    };
    system_tables_of(parts, shared).write(path, note)?;
    Ok(path.to_path_buf())
}

/// The tables of a system naming `parts`.
pub fn system_tables_of(parts: Parts, shared: &Shared) -> SystemTables {
    let persons = PersonsTable::new(parts.boxes.source(), BOX_THRESHOLD);
    let poses = parts.keypoints.map(|k| PosesTable::new(k.source()));
    let bank = parts.bank.map(|bank| BankTable {
        config: bank.config.clone(),
        weights: bank.weights.clone(),
        box_threshold: BOX_THRESHOLD,
        dtype: BankDtype::F16,
    });
    let actions = ActionsTable {
        config: parts.actions.config.clone(),
        weights: parts.actions.weights.clone(),
        labelmap: shared.labelmap.to_path_buf(),
        short_sides: None,
        flip: None,
    };
    let arm = parts.arm.map(|arm| ArmTable {
        config: arm.config.clone(),
        weights: arm.weights.clone(),
        labelmap: shared.arm_labelmap.to_path_buf(),
        fusion: parts.fusion.map(Path::to_path_buf),
    });
    SystemTables {
        persons,
        poses,
        bank,
        actions,
        arm,
        render: RenderTable {
            keyframes: shared.pictures,
            ..RenderTable::default()
        },
    }
}
