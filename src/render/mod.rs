//! Pictures and pages: raster primitives (text, lines, charts, PNG files), label placement,
//! annotated keyframes, the annotated video and the summary page.

pub mod keyframes;
pub mod labels;
pub mod page;
pub mod raster;
pub mod video;
