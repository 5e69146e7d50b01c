//! The anchor/proposal matcher against torchvision's `Matcher` (tests/reference/matcher.py),
//! on our own `box_iou` of the same boxes: identical assignments.

mod common;

use avaloc::models::detector::Matcher;
use avaloc::ops::box_iou;
use common::{Fixture, TestBackend, assert_close, values};

#[test]
fn assignments_match_torchvision() {
    let fx = Fixture::open("matcher");
    let iou = values(box_iou::<TestBackend>(
        fx.tensor("gt"),
        fx.tensor("anchors"),
    ));
    assert_close("iou", &iou, &fx.floats("iou"), 1e-6);
    let (m, n) = (fx.shape("gt")[0], fx.shape("anchors")[0]);
    let rpn = Matcher::rpn().assign(&iou, m, n);
    assert_eq!(rpn, fx.ints("rpn"));
    assert!(rpn.iter().any(|&v| v >= 0) && rpn.contains(&-1) && rpn.contains(&-2));
    assert_eq!(Matcher::box_head().assign(&iou, m, n), fx.ints("heads"));
}
