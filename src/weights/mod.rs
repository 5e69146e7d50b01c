//! Weight import and export.
//!
//! A checkpoint ([`Checkpoint`]) is read as data, never executed: safetensors files, and
//! PyTorch `.pth` / `.pyth` / `.pt` files (zip or legacy format) through burn-store's pickle
//! reader, which understands tensors and dictionaries only. Each source naming (torchvision,
//! detectron2, PySlowFast, ...) has an explicit [`KeyMap`] onto our module tree, and
//! [`load_into`] is strict by default: one error lists every missing key, every unexpected key
//! and every shape mismatch.

mod checkpoint;
mod cpn;
mod detectron2;
mod error;
mod keymap;
mod load;
mod pyslowfast;
mod save;
mod torchvision;

pub use checkpoint::{Checkpoint, CheckpointFormat, TensorInfo};
pub use cpn::pytorch_cpn;
pub use detectron2::detectron2_faster_rcnn;
pub use error::WeightsError;
pub use keymap::KeyMap;
pub use load::{LoadMode, LoadReport, ShapeMismatch, load_checkpoint, load_into};
pub use pyslowfast::pyslowfast_slowfast;
pub use save::save_safetensors;
pub use torchvision::{
    torchvision_box_head, torchvision_faster_rcnn, torchvision_fpn, torchvision_resnet,
    torchvision_rpn_head,
};
