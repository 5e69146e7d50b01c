//! AVA and AVA-Kinetics files as distributed: annotation and detection CSVs, label maps,
//! excluded timestamps, person-box CSVs, frame lists and frame layouts.

mod annotations;
mod ava_csv;
pub mod bank;
mod clip;
mod coco;
mod csv_file;
mod dataset;
mod dataset_files;
mod error;
mod exclusions;
mod frames;
mod keypoints;
mod labelmap;
mod loader;
pub mod manifest;
mod person_boxes;
mod samples;
mod scores;
pub mod shard;
pub mod synth;
mod video;

pub use annotations::{AnnotationStats, PersonAnnotation, group_annotations};
pub use ava_csv::{AvaRow, KeyframeKey, read_ava_csv, read_detections, write_ava_csv};
pub use clip::{
    ClipPixels, ClipTransform, Normalization, Region, TransformDraw, decode_frame, load_clip,
};
pub use coco::{
    CocoCategory, CocoImage, CocoKeypointResult, CocoKeypoints, CocoPerson, coco_from_keypoints,
    coco_person_category, coco_results, read_coco_results, write_coco_results,
};
pub use dataset::{AvaKeyframes, BankWindows, ClipBatch, ClipBatcher, KeyframeSample};
pub use dataset_files::{DatasetFiles, DatasetPart, default_labelmap};
pub use error::DataError;
pub use exclusions::read_exclusions;
pub use frames::{
    AVA_FPS, AVA_VIDEO_START_S, FrameLayout, clip_frame_indices, keyframe_frame_index,
    kinetics_clip_start_s, list_frame_files, read_frame_list,
};
pub use keypoints::{
    KEYPOINT_COUNT, PersonKeypoints, keypoint_row, read_keypoints, write_keypoints,
};
pub use labelmap::{Label, LabelMap};
pub use loader::{EpochBatches, OrderedLoader, SeededBatcher, mix_seed};
pub use person_boxes::{
    DetectedPerson, FrameTime, PersonBox, boxes_by_video, read_person_boxes, write_person_boxes,
};
pub use samples::{
    action_people, annotated_people, detector_samples, keyframe_samples, unlabelled_people,
};
pub use scores::{PersonScores, people_from_rows};
pub use video::{ScratchDir, Video, decode_video};
