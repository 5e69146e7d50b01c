//! Articulated stick figures: a skeleton from a [`Pose`], its COCO-17 keypoints, and its
//! rasterisation as thick limbs.

use image::{Rgb, RgbImage};

use super::actions::Pose;

/// Where a figure stands and how it looks.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Placement {
    /// Hip centre when standing, in pixels.
    pub hip: [f64; 2],
    /// Standing height in pixels.
    pub height: f64,
    /// +1 facing right, -1 facing left.
    pub facing: f64,
    pub shirt: [u8; 3],
    pub pants: [u8; 3],
    pub skin: [u8; 3],
}

/// Joint positions in pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Skeleton {
    pub head: [f64; 2],
    pub neck: [f64; 2],
    pub hip: [f64; 2],
    /// Back and front: shoulder, elbow, wrist.
    pub arms: [[[f64; 2]; 3]; 2],
    /// Back and front: hip, knee, ankle.
    pub legs: [[[f64; 2]; 3]; 2],
    /// Radii of the head, torso and limbs.
    pub radii: [f64; 3],
    pub facing: f64,
    pub microphone: bool,
}

fn along(from: [f64; 2], angle: f64, facing: f64, length: f64) -> [f64; 2] {
    [
        from[0] + facing * angle.sin() * length,
        from[1] + angle.cos() * length,
    ]
}

impl Skeleton {
    pub fn new(place: &Placement, pose: &Pose) -> Self {
        let (h, f) = (place.height, place.facing);
        let hip = [place.hip[0], place.hip[1] - pose.lift * h];
        let up = [f * pose.torso.sin(), -pose.torso.cos()];
        let neck = [hip[0] + up[0] * 0.30 * h, hip[1] + up[1] * 0.30 * h];
        let head = [neck[0] + up[0] * 0.11 * h, neck[1] + up[1] * 0.11 * h];
        let arm = |side: f64, (shoulder, elbow): (f64, f64)| {
            let s = [neck[0] + side * f * 0.09 * h, neck[1] + 0.02 * h];
            let e = along(s, shoulder, f, 0.16 * h);
            [s, e, along(e, shoulder + elbow, f, 0.15 * h)]
        };
        let leg = |side: f64, (hip_angle, knee): (f64, f64)| {
            let p = [hip[0] + side * f * 0.05 * h, hip[1]];
            let k = along(p, hip_angle, f, 0.25 * h);
            [p, k, along(k, hip_angle + knee, f, 0.25 * h)]
        };
        Self {
            head,
            neck,
            hip,
            arms: [arm(-1.0, pose.arms[0]), arm(1.0, pose.arms[1])],
            legs: [leg(-1.0, pose.legs[0]), leg(1.0, pose.legs[1])],
            radii: [0.07 * h, 0.06 * h, 0.035 * h],
            facing: f,
            microphone: pose.microphone,
        }
    }

    /// Tight box `[x1, y1, x2, y2]` around everything drawn, in pixels (not clipped).
    pub fn bounds(&self) -> [f64; 4] {
        let mut b = [f64::MAX, f64::MAX, f64::MIN, f64::MIN];
        let mut add = |p: [f64; 2], r: f64| {
            b = [
                b[0].min(p[0] - r),
                b[1].min(p[1] - r),
                b[2].max(p[0] + r),
                b[3].max(p[1] + r),
            ];
        };
        add(self.head, self.radii[0]);
        add(self.neck, self.radii[1]);
        add(self.hip, self.radii[1]);
        for limb in self.arms.iter().chain(&self.legs) {
            for &p in limb {
                add(p, self.radii[2]);
            }
        }
        for p in self.microphone_ends().into_iter().flatten() {
            add(p, self.radii[2]);
        }
        b
    }

    /// COCO-17 keypoints in pixels. The person faces the camera, so their left is image right.
    pub fn keypoints(&self) -> [[f64; 2]; 17] {
        let [hx, hy] = self.head;
        let r = self.radii[0];
        // Index 1 is the limb on the facing side; "left" is the +x side.
        let (left, right) = if self.facing > 0.0 { (1, 0) } else { (0, 1) };
        [
            [hx, hy + 0.2 * r],
            [hx + 0.35 * r, hy - 0.15 * r],
            [hx - 0.35 * r, hy - 0.15 * r],
            [hx + 0.9 * r, hy],
            [hx - 0.9 * r, hy],
            self.arms[left][0],
            self.arms[right][0],
            self.arms[left][1],
            self.arms[right][1],
            self.arms[left][2],
            self.arms[right][2],
            self.legs[left][0],
            self.legs[right][0],
            self.legs[left][1],
            self.legs[right][1],
            self.legs[left][2],
            self.legs[right][2],
        ]
    }

    /// Draws the figure: back limbs, torso, front limbs, head.
    pub fn draw(&self, img: &mut RgbImage, place: &Placement) {
        let limb = |img: &mut RgbImage, joints: &[[f64; 2]; 3], upper: [u8; 3], lower: [u8; 3]| {
            capsule(img, joints[0], joints[1], self.radii[2], upper);
            capsule(img, joints[1], joints[2], self.radii[2], lower);
        };
        limb(img, &self.arms[0], shade(place.shirt), shade(place.skin));
        limb(img, &self.legs[0], shade(place.pants), shade(place.pants));
        capsule(img, self.hip, self.neck, self.radii[1], place.shirt);
        limb(img, &self.legs[1], place.pants, place.pants);
        capsule(img, self.head, self.head, self.radii[0], place.skin);
        limb(img, &self.arms[1], place.shirt, place.skin);
        if let Some([bottom, head]) = self.microphone_ends() {
            let r = self.radii[2];
            capsule(img, bottom, head, 0.5 * r, MICROPHONE_HANDLE);
            capsule(img, head, head, 0.9 * r, MICROPHONE_HEAD);
        }
    }

    /// A microphone's handle bottom and head: held upright in the front hand.
    fn microphone_ends(&self) -> Option<[[f64; 2]; 2]> {
        let [wx, wy] = self.arms[1][2];
        let r = self.radii[2];
        self.microphone
            .then_some([[wx, wy + r], [wx + self.facing * 0.3 * r, wy - 2.5 * r]])
    }
}

const MICROPHONE_HANDLE: [u8; 3] = [20, 20, 24];
const MICROPHONE_HEAD: [u8; 3] = [235, 235, 245];

/// The far-side limbs are drawn darker, so the two arms are told apart.
fn shade(c: [u8; 3]) -> [u8; 3] {
    c.map(|v| (v as u16 * 7 / 10) as u8)
}

/// Fills the pixels within `r` of segment `a`–`b`.
fn capsule(img: &mut RgbImage, a: [f64; 2], b: [f64; 2], r: f64, color: [u8; 3]) {
    let (w, h) = (img.width() as f64, img.height() as f64);
    let x0 = (a[0].min(b[0]) - r).floor().max(0.0) as u32;
    let y0 = (a[1].min(b[1]) - r).floor().max(0.0) as u32;
    let x1 = (a[0].max(b[0]) + r).ceil().min(w - 1.0);
    let y1 = (a[1].max(b[1]) + r).ceil().min(h - 1.0);
    if x1 < 0.0 || y1 < 0.0 {
        return;
    }
    let (dx, dy) = (b[0] - a[0], b[1] - a[1]);
    let len2 = (dx * dx + dy * dy).max(1e-12);
    for y in y0..=y1 as u32 {
        for x in x0..=x1 as u32 {
            let (px, py) = (x as f64 + 0.5 - a[0], y as f64 + 0.5 - a[1]);
            let t = ((px * dx + py * dy) / len2).clamp(0.0, 1.0);
            let (ex, ey) = (px - t * dx, py - t * dy);
            if ex * ex + ey * ey <= r * r {
                img.put_pixel(x, y, Rgb(color));
            }
        }
    }
}
