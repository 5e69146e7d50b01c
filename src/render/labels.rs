//! Where the label block of each box goes: inside the frame, over no other label. Each block
//! tries, in order, just above its box, inside its box's top, just below it; each place is
//! pulled into the frame, and the first that overlaps no block placed before wins. Where all
//! three overlap, the block slides down from the first place until it is free (or up from the
//! bottom of the frame), stacking under its neighbours.

/// A pixel rectangle `[x, y, w, h]`.
pub type Rect = [f64; 4];

fn overlaps(a: &Rect, b: &Rect) -> bool {
    a[0] < b[0] + b[2] && b[0] < a[0] + a[2] && a[1] < b[1] + b[3] && b[1] < a[1] + a[3]
}

/// `block` (`[w, h]`) placed at `(x, y)`, moved the least into a `frame` (`[w, h]`) frame.
fn inside(x: f64, y: f64, block: [f64; 2], frame: [f64; 2]) -> Rect {
    let clamp = |v: f64, size: f64, limit: f64| v.min(limit - size).max(0.0);
    [
        clamp(x, block[0], frame[0]),
        clamp(y, block[1], frame[1]),
        block[0],
        block[1],
    ]
}

/// The place of each label block (`blocks[i]`, `[w, h]` in pixels) of box `boxes[i]`
/// (`[x1, y1, x2, y2]` in pixels) in a frame of `frame` pixels, in input order. Earlier boxes
/// choose first.
pub fn place_labels(boxes: &[[f64; 4]], blocks: &[[f64; 2]], frame: [f64; 2]) -> Vec<Rect> {
    let mut placed: Vec<Rect> = Vec::with_capacity(boxes.len());
    for (b, &block) in boxes.iter().zip(blocks) {
        let [x1, y1, _, y2] = *b;
        let candidates = [
            inside(x1, y1 - block[1], block, frame),
            inside(x1, y1, block, frame),
            inside(x1, y2, block, frame),
        ];
        let free = |r: &Rect| !placed.iter().any(|p| overlaps(p, r));
        let rect = match candidates.iter().find(|r| free(r)) {
            Some(r) => *r,
            None => slide(candidates[0], &placed, frame),
        };
        placed.push(rect);
    }
    placed
}

/// `start` moved down past each block it overlaps until it is free; where the frame's bottom
/// comes first, moved up from the bottom instead; where neither frees it, left at `start`.
fn slide(start: Rect, placed: &[Rect], frame: [f64; 2]) -> Rect {
    let mut down = start;
    while down[1] + down[3] <= frame[1] {
        match placed
            .iter()
            .filter(|p| overlaps(p, &down))
            .map(|p| p[1] + p[3])
            .reduce(f64::max)
        {
            None => return down,
            Some(bottom) => down[1] = bottom,
        }
    }
    let mut up = start;
    up[1] = frame[1] - up[3];
    while up[1] >= 0.0 {
        match placed
            .iter()
            .filter(|p| overlaps(p, &up))
            .map(|p| p[1])
            .reduce(f64::min)
        {
            None => return up,
            Some(top) => up[1] = top - up[3],
        }
    }
    start
}

#[cfg(test)]
mod tests {
    use super::*;

    fn within(r: &Rect, frame: [f64; 2]) -> bool {
        r[0] >= 0.0 && r[1] >= 0.0 && r[0] + r[2] <= frame[0] && r[1] + r[3] <= frame[1]
    }

    #[test]
    fn a_label_goes_above_its_box_and_inside_the_frame() {
        let frame = [320.0, 240.0];
        // Room above: just above the box's top-left corner.
        let r = place_labels(&[[100.0, 100.0, 150.0, 200.0]], &[[60.0, 14.0]], frame);
        assert_eq!(r, vec![[100.0, 86.0, 60.0, 14.0]]);
        // A box at the top right: the block is pulled left and down into the frame.
        let r = place_labels(&[[300.0, 0.0, 320.0, 50.0]], &[[60.0, 14.0]], frame);
        assert_eq!(r, vec![[260.0, 0.0, 60.0, 14.0]]);
    }

    #[test]
    fn labels_of_overlapping_boxes_do_not_overlap() {
        let frame = [320.0, 240.0];
        let boxes = [[100.0, 100.0, 150.0, 200.0]; 5];
        let blocks = [[80.0, 40.0]; 5];
        let placed = place_labels(&boxes, &blocks, frame);
        // Above, inside the top, below, then stacked under them, then up from the bottom.
        assert_eq!(placed[0], [100.0, 60.0, 80.0, 40.0]);
        assert_eq!(placed[1], [100.0, 100.0, 80.0, 40.0]);
        assert_eq!(placed[2], [100.0, 200.0, 80.0, 40.0]);
        for (i, a) in placed.iter().enumerate() {
            assert!(within(a, frame), "{a:?}");
            for b in &placed[i + 1..] {
                assert!(!overlaps(a, b), "{a:?} overlaps {b:?}");
            }
        }
    }
}
