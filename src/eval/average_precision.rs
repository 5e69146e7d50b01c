//! Pascal VOC average precision, as `ava_evaluation/metrics.py`.

/// Area under the interpolated precision/recall curve of detections with `scores` and
/// true-positive flags `tp`, given `num_gt` ground-truth instances (> 0).
///
/// Detections are ranked as numpy's `argsort(scores)[::-1]`: by decreasing score, equal
/// scores in reverse input order (numpy's sort is stable for the arrays where it matters in
/// practice; with ties the official code's order is otherwise implementation-defined).
pub fn average_precision(scores: &[f64], tp: &[bool], num_gt: usize) -> f64 {
    assert_eq!(scores.len(), tp.len());
    assert!(num_gt > 0, "average precision needs ground truth");
    if scores.is_empty() {
        return 0.0;
    }
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    order.reverse();
    let mut precision = Vec::with_capacity(order.len() + 2);
    let mut recall = Vec::with_capacity(order.len() + 2);
    precision.push(0.0);
    recall.push(0.0);
    let (mut true_positives, mut false_positives) = (0usize, 0usize);
    for &i in &order {
        if tp[i] {
            true_positives += 1;
        } else {
            false_positives += 1;
        }
        precision.push(true_positives as f64 / (true_positives + false_positives) as f64);
        recall.push(true_positives as f64 / num_gt as f64);
    }
    precision.push(0.0);
    recall.push(1.0);
    for i in (0..precision.len() - 1).rev() {
        precision[i] = precision[i].max(precision[i + 1]);
    }
    (1..recall.len())
        .filter(|&i| recall[i] != recall[i - 1])
        .map(|i| (recall[i] - recall[i - 1]) * precision[i])
        .sum()
}
