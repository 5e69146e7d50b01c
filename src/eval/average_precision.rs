//! Pascal VOC average precision, as `ava_evaluation/metrics.py`.

/// Precision and recall after each detection, ranked as numpy's `argsort(scores)[::-1]`: by
/// decreasing score, equal scores in reverse input order (numpy's sort is stable for the
/// arrays where it matters in practice; with ties the official code's order is otherwise
/// implementation-defined). `num_gt` must be positive.
pub fn precision_recall(scores: &[f64], tp: &[bool], num_gt: usize) -> (Vec<f64>, Vec<f64>) {
    assert_eq!(scores.len(), tp.len());
    assert!(num_gt > 0, "precision and recall need ground truth");
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    order.reverse();
    let (mut true_positives, mut false_positives) = (0usize, 0usize);
    order
        .iter()
        .map(|&i| {
            if tp[i] {
                true_positives += 1;
            } else {
                false_positives += 1;
            }
            (
                true_positives as f64 / (true_positives + false_positives) as f64,
                true_positives as f64 / num_gt as f64,
            )
        })
        .unzip()
}

/// Area under the interpolated precision/recall curve of detections with `scores` and
/// true-positive flags `tp`, given `num_gt` ground-truth instances (> 0).
pub fn average_precision(scores: &[f64], tp: &[bool], num_gt: usize) -> f64 {
    let (ranked_precision, ranked_recall) = precision_recall(scores, tp, num_gt);
    if ranked_precision.is_empty() {
        return 0.0;
    }
    let precision: Vec<f64> = [0.0]
        .into_iter()
        .chain(ranked_precision)
        .chain([0.0])
        .collect();
    let recall: Vec<f64> = [0.0]
        .into_iter()
        .chain(ranked_recall)
        .chain([1.0])
        .collect();
    let mut envelope = precision;
    for i in (0..envelope.len() - 1).rev() {
        envelope[i] = envelope[i].max(envelope[i + 1]);
    }
    (1..recall.len())
        .filter(|&i| recall[i] != recall[i - 1])
        .map(|i| (recall[i] - recall[i - 1]) * envelope[i])
        .sum()
}
