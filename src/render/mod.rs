//! Pictures and pages: raster primitives (text, lines, charts, PNG files).

pub mod raster;
