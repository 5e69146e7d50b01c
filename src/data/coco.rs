//! COCO keypoint files: the ground truth (`images`, `annotations` with `keypoints`,
//! `num_keypoints`, `area`, `bbox`, `iscrowd`, `categories`) and results (a list of
//! `{image_id, category_id, keypoints, score}`), as pycocotools reads them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{DataError, KeyframeKey, PersonKeypoints};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CocoImage {
    pub id: i64,
    #[serde(default)]
    pub file_name: String,
    #[serde(default)]
    pub width: u32,
    #[serde(default)]
    pub height: u32,
}

/// One person of the ground truth.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CocoPerson {
    pub id: i64,
    pub image_id: i64,
    #[serde(default = "person_category")]
    pub category_id: i64,
    /// `x, y, v` per keypoint, in pixels; v: 0 not labelled, 1 labelled hidden, 2 visible.
    pub keypoints: Vec<f64>,
    pub num_keypoints: usize,
    pub area: f64,
    /// `[x, y, width, height]`.
    pub bbox: [f64; 4],
    #[serde(default)]
    pub iscrowd: u8,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CocoCategory {
    pub id: i64,
    #[serde(default)]
    pub name: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keypoints: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skeleton: Vec<[usize; 2]>,
}

/// A COCO keypoint ground-truth file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CocoKeypoints {
    pub images: Vec<CocoImage>,
    pub annotations: Vec<CocoPerson>,
    #[serde(default)]
    pub categories: Vec<CocoCategory>,
}

/// One detected person (COCO's results format).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CocoKeypointResult {
    pub image_id: i64,
    #[serde(default = "person_category")]
    pub category_id: i64,
    pub keypoints: Vec<f64>,
    pub score: f64,
}

fn person_category() -> i64 {
    1
}

fn parse<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T, DataError> {
    let text = DataError::read(path)?;
    serde_json::from_str(&text)
        .map_err(|e| DataError::line(path, e.line(), format!("not a COCO keypoint file: {e}")))
}

fn check_keypoints(path: &Path, what: String, keypoints: &[f64]) -> Result<(), DataError> {
    if keypoints.is_empty() || !keypoints.len().is_multiple_of(3) {
        return Err(DataError::File {
            path: path.to_path_buf(),
            message: format!(
                "{what}: {} keypoint numbers, not x, y, v triples",
                keypoints.len()
            ),
        });
    }
    Ok(())
}

impl CocoKeypoints {
    /// Reads a ground-truth file; keypoint lists that are not triples of one length, or an
    /// annotation of an image the file does not list, are errors naming the annotation.
    pub fn read(path: &Path) -> Result<Self, DataError> {
        let file: Self = parse(path)?;
        let images: std::collections::HashSet<i64> = file.images.iter().map(|i| i.id).collect();
        for a in &file.annotations {
            check_keypoints(path, format!("annotation {}", a.id), &a.keypoints)?;
            if !images.contains(&a.image_id) {
                return Err(DataError::File {
                    path: path.to_path_buf(),
                    message: format!(
                        "annotation {} names image {}, which is not in `images`",
                        a.id, a.image_id
                    ),
                });
            }
        }
        Ok(file)
    }

    pub fn write(&self, path: &Path) -> std::io::Result<()> {
        let text = serde_json::to_string(self).map_err(std::io::Error::other)?;
        crate::fs::write_atomic(path, text.as_bytes())
    }
}

/// Reads a results file (a JSON list).
pub fn read_coco_results(path: &Path) -> Result<Vec<CocoKeypointResult>, DataError> {
    let results: Vec<CocoKeypointResult> = parse(path)?;
    for (i, r) in results.iter().enumerate() {
        check_keypoints(
            path,
            format!("result {i} (image {})", r.image_id),
            &r.keypoints,
        )?;
        if !r.score.is_finite() {
            return Err(DataError::File {
                path: path.to_path_buf(),
                message: format!("result {i}: score {} is not finite", r.score),
            });
        }
    }
    Ok(results)
}

pub fn write_coco_results(path: &Path, results: &[CocoKeypointResult]) -> std::io::Result<()> {
    let text = serde_json::to_string(results).map_err(std::io::Error::other)?;
    crate::fs::write_atomic(path, text.as_bytes())
}

/// COCO's person category with its 17 keypoints and skeleton (1-based, as COCO's file).
pub fn coco_person_category() -> CocoCategory {
    CocoCategory {
        id: 1,
        name: "person".into(),
        keypoints: crate::models::pose::COCO_KEYPOINTS
            .iter()
            .map(|s| s.to_string())
            .collect(),
        skeleton: vec![
            [16, 14],
            [14, 12],
            [17, 15],
            [15, 13],
            [12, 13],
            [6, 12],
            [7, 13],
            [6, 7],
            [6, 8],
            [7, 9],
            [8, 10],
            [9, 11],
            [2, 3],
            [1, 2],
            [1, 3],
            [2, 4],
            [3, 5],
            [4, 6],
            [5, 7],
        ],
    }
}

/// A COCO keypoint ground truth from keypoint-CSV people whose `s` is COCO's visibility:
/// one image per keyframe (`file_name` from `frame_name`, ids from 1 in key order), one
/// annotation per person with its box in pixels and, as area, the box's.
pub fn coco_from_keypoints(
    people: &[super::PersonKeypoints],
    frame_name: impl Fn(&super::KeyframeKey) -> String,
    [width, height]: [u32; 2],
) -> CocoKeypoints {
    let (w, h) = (width as f64, height as f64);
    let mut ids: std::collections::BTreeMap<&super::KeyframeKey, i64> = Default::default();
    for p in people {
        let next = ids.len() as i64 + 1;
        ids.entry(&p.key).or_insert(next);
    }
    let images = ids
        .iter()
        .map(|(key, &id)| CocoImage {
            id,
            file_name: frame_name(key),
            width,
            height,
        })
        .collect();
    let annotations = people
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let [x1, y1, x2, y2] = p.box_xyxy_norm;
            let bbox = [x1 * w, y1 * h, (x2 - x1) * w, (y2 - y1) * h];
            let keypoints = p
                .keypoints
                .iter()
                .flat_map(|&[x, y, v]| {
                    if v > 0.0 {
                        [x * w, y * h, v]
                    } else {
                        [0.0, 0.0, 0.0]
                    }
                })
                .collect();
            CocoPerson {
                id: i as i64 + 1,
                image_id: ids[&p.key],
                category_id: 1,
                keypoints,
                num_keypoints: p.keypoints.iter().filter(|k| k[2] > 0.0).count(),
                area: bbox[2] * bbox[3],
                bbox,
                iscrowd: 0,
            }
        })
        .collect();
    CocoKeypoints {
        images,
        annotations,
        categories: vec![coco_person_category()],
    }
}

/// `poses` as COCO results (keypoints in pixels of their keyframe's image, whose header is
/// read once), image ids taken from `coco`'s images by file name under its root folder, or
/// numbered in key order without one. Keyframes not among `coco`'s images are left out, and
/// logged.
pub fn coco_results(
    poses: &[PersonKeypoints],
    images: &BTreeMap<KeyframeKey, PathBuf>,
    coco: Option<(&CocoKeypoints, &Path)>,
) -> Result<Vec<CocoKeypointResult>, DataError> {
    let ids: BTreeMap<&KeyframeKey, i64> = match coco {
        None => images.keys().zip(1..).collect(),
        Some((coco, root)) => {
            let by_name: BTreeMap<PathBuf, i64> = coco
                .images
                .iter()
                .map(|i| (root.join(&i.file_name), i.id))
                .collect();
            let ids: BTreeMap<&KeyframeKey, i64> = images
                .iter()
                .filter_map(|(key, path)| by_name.get(path).map(|&id| (key, id)))
                .collect();
            if ids.len() < images.len() {
                tracing::warn!(
                    "{} of {} keyframes are not among the COCO file's images; their poses are \
                     left out of the COCO results",
                    images.len() - ids.len(),
                    images.len()
                );
            }
            ids
        }
    };
    let mut results = Vec::new();
    let mut sizes: BTreeMap<&KeyframeKey, (u32, u32)> = BTreeMap::new();
    for pose in poses {
        let (Some(&image_id), Some(path)) = (ids.get(&pose.key), images.get(&pose.key)) else {
            continue;
        };
        let (w, h) = match sizes.get(&pose.key) {
            Some(&size) => size,
            None => {
                let size = image::image_dimensions(path).map_err(|e| DataError::File {
                    path: path.clone(),
                    message: format!("cannot read the image's size: {e}"),
                })?;
                *sizes.entry(&pose.key).or_insert(size)
            }
        };
        results.push(CocoKeypointResult {
            image_id,
            category_id: 1,
            keypoints: pose
                .keypoints
                .iter()
                .flat_map(|&[x, y, _]| [x * w as f64, y * h as f64, 1.0])
                .collect(),
            score: pose.score,
        });
    }
    Ok(results)
}
