//! Inference over datasets: the action model's scores for the people at each keyframe
//! (with test-time views), and what is written from them (AVA detection rows, pictures).

mod actions;
mod keyframes;

pub use actions::{PersonScores, TestViews, detection_rows, score_keyframes};
pub use keyframes::draw_keyframes;
