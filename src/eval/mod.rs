//! AVA frame-mAP with the official protocol (ActivityNet's `get_ava_performance.py` on the
//! Pascal VOC evaluator that it and PySlowFast share), and COCO keypoint AP (pycocotools').

mod average_precision;
mod frame_map;
mod keypoints;
mod plot;
mod report;

pub use average_precision::{average_precision, precision_recall};
pub use frame_map::{
    EvalOptions, FrameMapResult, PartsResult, evaluate, evaluate_files, evaluate_parts,
    read_classes,
};
pub use keypoints::{COCO_SIGMAS, KeypointStats, evaluate_keypoints};
pub use plot::{write_comparison_plot, write_plot};
pub use report::{comparison_table, parts_table, per_class_table, write_json, write_parts_json};
