//! Inference over datasets: the action model's scores for the people at each keyframe
//! (with test-time views), the people's keypoints, and what is written from them (AVA
//! detection rows, pictures).

mod actions;
mod arms;
pub mod backend_check;
pub mod bank;
pub mod box_scores;
pub mod fusion;
mod persons;
mod poses;

pub use actions::{
    ActionScoring, SharedArmScoring, bank_windows, detection_rows, keyframe_images,
    score_keyframes, score_with_heads,
};
pub use arms::{
    ARMS, ArmAnnotations, ArmDatasetStats, ArmPerson, arm_box_people, arm_boxes, arm_people,
    arm_people_in_frames, frame_size, person_arm_scores,
};
pub use persons::{PersonDetection, PersonFilter, PersonFrame, detect_persons};
pub use poses::{PoseEstimation, PoseOptions, estimate_poses, poses_in_image};
