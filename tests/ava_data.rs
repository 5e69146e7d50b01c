//! AVA data readers on small hand-made files, with hand-checked expectations (PySlowFast's
//! conventions: `sec_to_frame`, `get_sequence`, box merging).

use std::path::{Path, PathBuf};

use avaloc::data::{
    FrameLayout, LabelMap, clip_frame_indices, group_annotations, keyframe_frame_index,
    kinetics_clip_start_s, read_ava_csv, read_frame_list, read_person_boxes,
};

struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("avaloc-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    fn file(&self, name: &str, text: &str) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn labels() -> LabelMap {
    LabelMap::parse(
        "item {\n  name: \"stand\"\n  id: 12\n}\nitem {\n  name: \"walk\"\n  id: 14\n}\n",
        Path::new("mem"),
    )
    .unwrap()
}

#[test]
fn rows_of_one_person_merge_into_one_multi_hot_box() {
    let dir = TempDir::new("annotations");
    let csv = dir.file(
        "ava_train_v2.2.csv",
        "vid,0902,0.1,0.2,0.4,0.9,14,0\n\
         vid,0902,0.1,0.2,0.4,0.9,80,0\n\
         vid,0902,0.5,0.2,0.8,0.9,12,1\n\
         vid,0902,0.1,0.2,0.4,0.9,12,0\n\
         vid,0902,0.1,0.2,0.4,0.9,12,0\n\
         vid,0903,0.7,0.1,1.02,0.8,12,1\n\
         vid,0903,0.3,0.3,0.3,0.6,14,2\n\
         kin_clip,0015,0.2,0.2,0.6,0.9,14\n",
    );
    let rows = read_ava_csv(&csv).unwrap();
    let (people, stats) = group_annotations(&rows, &labels());
    assert_eq!(people.len(), 4);
    assert_eq!(
        (people[0].actions.clone(), people[0].person_id),
        (vec![12, 14], Some(0))
    );
    assert_eq!(people[1].actions, vec![12]);
    assert_eq!(
        people[2].box_xyxy_norm,
        [0.7, 0.1, 1.0, 0.8],
        "clamped to the image"
    );
    assert_eq!(
        (people[3].key.video_id.as_str(), people[3].person_id),
        ("kin_clip", None)
    );
    assert_eq!(stats.unknown_actions.get(&80), Some(&1));
    assert_eq!(stats.clamped_boxes, 1);
    assert_eq!(stats.empty_boxes, vec![7]);
}

#[test]
fn person_boxes_above_the_threshold_once_per_keyframe() {
    let dir = TempDir::new("boxes");
    let csv = dir.file(
        "ava_detection_val_boxes_and_labels.csv",
        "vid,0902,0.1,0.2,0.4,0.9,,0.95\n\
         vid,0902,0.1,0.2,0.4,0.9,12,0.95\n\
         vid,0902,0.5,0.2,0.8,0.9,-1,0.79\n\
         vid,0902,0.5,0.2,0.8,0.9,-1,0.80\n\
         vid,0903,0.1,0.2,0.4,0.9,,0.99\n",
    );
    let boxes = read_person_boxes(&csv, 0.8).unwrap();
    let got: Vec<(i64, f64)> = boxes.iter().map(|b| (b.key.timestamp_s, b.score)).collect();
    assert_eq!(got, vec![(902, 0.95), (902, 0.80), (903, 0.99)]);

    let bad = dir.file(
        "bad.csv",
        "vid,0902,0.1,0.2,0.4,0.9,,0.95\nvid,0902,0.1,0.2,0.4,0.9,stand,0.9\n",
    );
    let err = read_person_boxes(&bad, 0.8).unwrap_err().to_string();
    assert!(
        err.ends_with("bad.csv:2: action \"stand\" is neither empty nor an integer"),
        "{err}"
    );
}

#[test]
fn keyframes_map_to_frames_as_pyslowfast_and_mmaction2_do() {
    // Second 902 of an AVA video cut from second 900 is its 61st frame at 30 fps.
    let index = keyframe_frame_index(902, 900, 30);
    assert_eq!(index, 60);
    let root = Path::new("/data/ava");
    assert_eq!(
        FrameLayout::PySlowFast.frame_path(root, "-5KQ66BBWC4", index as usize),
        Path::new("/data/ava/frames/-5KQ66BBWC4/-5KQ66BBWC4_000061.jpg")
    );
    assert_eq!(
        FrameLayout::MmAction2.frame_path(root, "-5KQ66BBWC4", index as usize),
        Path::new("/data/ava/rawframes/-5KQ66BBWC4/img_00061.jpg")
    );
}

#[test]
fn clips_repeat_border_frames_as_get_sequence() {
    // get_sequence(center=60, half_len=32, sample_rate=2, num_frames=1000) = range(28, 92, 2).
    assert_eq!(
        clip_frame_indices(60, 32, 2, 1000),
        (28..92).step_by(2).collect::<Vec<_>>()
    );
    // At the start: range(-32, 32, 2) with negatives clamped to 0.
    let start = clip_frame_indices(0, 32, 2, 1000);
    assert_eq!(&start[..17], &[0; 17]);
    assert_eq!(
        start[17..],
        [2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30]
    );
    // 8 frames 8 apart at frame 97 of a 100-frame video: range(65, 129, 8), clamped to 99.
    assert_eq!(
        clip_frame_indices(97, 8, 8, 100),
        vec![65, 73, 81, 89, 97, 99, 99, 99]
    );
}

#[test]
fn frame_lists_give_each_videos_frames_in_order() {
    let dir = TempDir::new("framelist");
    let list = dir.file(
        "train.csv",
        "original_vido_id video_id frame_id path labels\n\
         vidA 0 1 vidA/vidA_000002.jpg \"\"\n\
         vidA 0 0 vidA/vidA_000001.jpg \"\"\n\
         vidB 1 0 vidB/vidB_000001.jpg \"\"\n",
    );
    let videos = read_frame_list(&list).unwrap();
    assert_eq!(
        videos["vidA"],
        vec![
            PathBuf::from("vidA/vidA_000001.jpg"),
            PathBuf::from("vidA/vidA_000002.jpg")
        ]
    );
    assert_eq!(videos["vidB"].len(), 1);
    let bad = dir.file(
        "val.csv",
        "original_vido_id video_id frame_id path labels\nvidA 0 x vidA/a.jpg \"\"\n",
    );
    assert!(
        read_frame_list(&bad)
            .unwrap_err()
            .to_string()
            .ends_with("val.csv:2: frame_id \"x\" is not an integer")
    );
}

#[test]
fn kinetics_clip_names_give_the_clip_start() {
    assert_eq!(kinetics_clip_start_s("--07WQ2iBlw_000011_000021"), Some(11));
    assert_eq!(
        kinetics_clip_start_s("a_b_c_000300_000310"),
        Some(300),
        "ids may contain '_'"
    );
    assert_eq!(
        kinetics_clip_start_s("-5KQ66BBWC4"),
        None,
        "an AVA video id"
    );
    assert_eq!(kinetics_clip_start_s("x_11_21"), None);
    // A keyframe at second 16 of the source video is frame 150 of the clip starting at 11.
    assert_eq!(keyframe_frame_index(16, 11, 30), 150);
}
