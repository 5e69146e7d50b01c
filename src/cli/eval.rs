//! `avaloc eval`: AVA frame-mAP of a detections CSV, official protocol; `avaloc eval
//! keypoints`: COCO keypoint AP of a results JSON, as pycocotools computes it.

use std::path::PathBuf;

use anyhow::{Context, Result, anyhow};
use clap::{Args, Subcommand};

use crate::data::{CocoKeypoints, read_coco_results};
use crate::eval::{
    EvalOptions, KeypointStats, evaluate_files, evaluate_keypoints, evaluate_parts, parts_table,
    per_class_table, write_json, write_parts_json, write_plot,
};

#[derive(Debug, Args)]
#[command(subcommand_negates_reqs = true, args_conflicts_with_subcommands = true)]
pub struct EvalArgs {
    #[command(subcommand)]
    pub command: Option<EvalCommand>,
    /// Ground-truth CSV (e.g. ava_val_v2.2.csv). Repeat it for a dataset in parts
    /// (AVA-Kinetics: the AVA and the Kinetics file): their union and each part alone (on the
    /// detections of its videos) are reported side by side.
    #[arg(long, required = true)]
    pub groundtruth: Vec<PathBuf>,
    /// Detections CSV: video_id, timestamp, x1, y1, x2, y2, action_id, score.
    #[arg(long, required = true)]
    pub detections: Option<PathBuf>,
    /// Label map of the evaluated classes (e.g. ava_action_list_v2.2_for_activitynet_2019.pbtxt).
    #[arg(long, required = true)]
    pub labelmap: Option<PathBuf>,
    /// Excluded timestamps CSV (e.g. ava_val_excluded_timestamps_v2.2.csv).
    #[arg(long)]
    pub exclusions: Option<PathBuf>,
    /// Write {"mAP", "per_class"} here as JSON (with parts: the union's, and "parts": [{
    /// "groundtruth", "mAP", "per_class"}, ...]).
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Detections kept per keyframe (official: 50); 0 keeps all.
    #[arg(long, default_value_t = 50)]
    pub max_per_frame: usize,
    /// Write a PNG: per-class AP bars, and precision/recall curves of --pr-classes.
    #[arg(long)]
    pub plot: Option<PathBuf>,
    /// Class ids whose precision/recall curves go in the plot (comma-separated).
    #[arg(long, value_delimiter = ',')]
    pub pr_classes: Vec<i64>,
}

#[derive(Debug, Subcommand)]
pub enum EvalCommand {
    /// COCO keypoint AP (OKS, COCO's sigmas, maxDets 20), exactly as pycocotools'
    /// COCOeval(iouType="keypoints"): the ten numbers of its summary.
    Keypoints(KeypointEvalArgs),
}

#[derive(Debug, Args)]
pub struct KeypointEvalArgs {
    /// COCO keypoint ground truth (images, annotations, categories).
    #[arg(long)]
    pub groundtruth: PathBuf,
    /// COCO results: a JSON list of {image_id, category_id, keypoints, score}.
    #[arg(long)]
    pub detections: PathBuf,
    /// Write {"AP", "AP50", "AP75", "APm", "APl", "AR", "AR50", "AR75", "ARm", "ARl"} here.
    #[arg(long)]
    pub json: Option<PathBuf>,
}

fn run_keypoints(args: KeypointEvalArgs) -> Result<()> {
    let truth = CocoKeypoints::read(&args.groundtruth)?;
    let results = read_coco_results(&args.detections)?;
    let stats = evaluate_keypoints(&truth, &results)
        .map_err(|e| anyhow!("{}: {e}", args.detections.display()))?;
    print!("{}", keypoint_table(&stats));
    if let Some(path) = &args.json {
        let map: serde_json::Map<String, serde_json::Value> = KeypointStats::NAMES
            .iter()
            .zip(stats.0)
            .map(|(name, v)| (name.to_string(), v.into()))
            .collect();
        let text = serde_json::to_string_pretty(&map)?;
        crate::fs::write_atomic(path, text.as_bytes())
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

/// pycocotools' summary lines.
pub fn keypoint_table(stats: &KeypointStats) -> String {
    let rows = [
        ("Average Precision", "0.50:0.95", "all"),
        ("Average Precision", "0.50", "all"),
        ("Average Precision", "0.75", "all"),
        ("Average Precision", "0.50:0.95", "medium"),
        ("Average Precision", "0.50:0.95", "large"),
        ("Average Recall", "0.50:0.95", "all"),
        ("Average Recall", "0.50", "all"),
        ("Average Recall", "0.75", "all"),
        ("Average Recall", "0.50:0.95", "medium"),
        ("Average Recall", "0.50:0.95", "large"),
    ];
    let mut out = String::new();
    for ((what, iou, area), v) in rows.iter().zip(stats.0) {
        let short = if what.contains("Precision") {
            "(AP)"
        } else {
            "(AR)"
        };
        out.push_str(&format!(
            " {what:<18} {short} @[ IoU={iou:<9} | area={area:>6} | maxDets= 20 ] = {v:.3}\n"
        ));
    }
    out
}

pub fn run(args: EvalArgs) -> Result<()> {
    if let Some(EvalCommand::Keypoints(keypoints)) = args.command {
        return run_keypoints(keypoints);
    }
    // clap requires the three without a subcommand.
    let missing = || anyhow!("give --groundtruth, --detections and --labelmap");
    let options = EvalOptions {
        max_detections_per_frame: args.max_per_frame,
        pr_curve_classes: args.pr_classes.clone(),
    };
    let detections = args.detections.as_deref().ok_or_else(missing)?;
    let labelmap = args.labelmap.as_deref().ok_or_else(missing)?;
    let result = match args.groundtruth.as_slice() {
        [] => return Err(missing()),
        [one] => {
            let result = evaluate_files(
                one,
                detections,
                labelmap,
                args.exclusions.as_deref(),
                &options,
            )?;
            print!("{}", per_class_table(&result));
            if let Some(path) = &args.json {
                write_json(&result, path).with_context(|| format!("writing {}", path.display()))?;
            }
            result
        }
        several => {
            let parts = evaluate_parts(
                several,
                detections,
                labelmap,
                args.exclusions.as_deref(),
                &options,
            )?;
            print!("{}", parts_table(&parts));
            if let Some(path) = &args.json {
                write_parts_json(&parts, path)
                    .with_context(|| format!("writing {}", path.display()))?;
            }
            parts.union
        }
    };
    if let Some(path) = &args.plot {
        write_plot(&result, path).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}
