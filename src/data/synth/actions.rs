//! What each synthetic person does over time, and the pose that follows from it.

use rand::Rng;
use rand::rngs::StdRng;

/// A whole-body action (exactly one at a time), with its AVA v2.2 id and name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Body {
    Stand,
    Walk,
    Sit,
    Bend,
    Jump,
}

/// An arm action of the front arm (at most one at a time).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arm {
    Wave,
    Point,
    Throw,
    Hit,
}

/// A video's hidden social context, labelled on everyone in it at every keyframe: while
/// someone sings, everyone listens to a person; while someone dances, everyone watches one.
/// Someone sings or dances during two segments, with a two-armed [`Cue`] (labelled "sing to"
/// or "dance" then), and every other 2-second clip of the video looks like a plain one: only
/// the seconds around the keyframe can tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scene {
    Plain,
    Song,
    Show,
}

/// The two-armed performance that gives a scene away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cue {
    /// Both hands held up before the mouth round a microphone, swaying with the breath
    /// ("sing to (e.g., self, a person, a group)"). No other action brings the back arm
    /// forward or shows a microphone.
    Sing,
    /// Both arms raised overhead, swaying ("dance").
    Dance,
}

impl Scene {
    /// The three scenes in turn.
    pub fn nth(index: usize) -> Self {
        [Self::Plain, Self::Song, Self::Show][index % 3]
    }

    /// The AVA action everyone in the video does.
    pub fn id(self) -> Option<i64> {
        match self {
            Self::Plain => None,
            Self::Song => Some(74),
            Self::Show => Some(80),
        }
    }

    pub fn cue(self) -> Option<Cue> {
        match self {
            Self::Plain => None,
            Self::Song => Some(Cue::Sing),
            Self::Show => Some(Cue::Dance),
        }
    }
}

impl Cue {
    pub fn id(self) -> i64 {
        match self {
            Self::Sing => 77,
            Self::Dance => 4,
        }
    }
}

/// The synthetic actions with AVA v2.2's ids, names and label types, rarest last.
pub const LABELS: [(i64, &str, &str); 13] = [
    (12, "stand", "PERSON_MOVEMENT"),
    (14, "walk", "PERSON_MOVEMENT"),
    (74, "listen to (a person)", "PERSON_INTERACTION"),
    (80, "watch (a person)", "PERSON_INTERACTION"),
    (11, "sit", "PERSON_MOVEMENT"),
    (69, "hand wave", "PERSON_INTERACTION"),
    (1, "bend/bow (at the waist)", "PERSON_MOVEMENT"),
    (43, "point to (an object)", "OBJECT_MANIPULATION"),
    (58, "throw", "OBJECT_MANIPULATION"),
    (7, "jump/leap", "PERSON_MOVEMENT"),
    (34, "hit (an object)", "OBJECT_MANIPULATION"),
    (
        77,
        "sing to (e.g., self, a person, a group)",
        "PERSON_INTERACTION",
    ),
    (4, "dance", "PERSON_MOVEMENT"),
];

impl Body {
    pub fn id(self) -> i64 {
        match self {
            Self::Stand => 12,
            Self::Walk => 14,
            Self::Sit => 11,
            Self::Bend => 1,
            Self::Jump => 7,
        }
    }
}

impl Arm {
    pub fn id(self) -> i64 {
        match self {
            Self::Wave => 69,
            Self::Point => 43,
            Self::Throw => 58,
            Self::Hit => 34,
        }
    }
}

/// One stretch of time with fixed actions.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Segment {
    pub start_s: f64,
    pub body: Body,
    pub arm: Option<Arm>,
    /// Overrides both arms (the segment then has no arm action).
    pub cue: Option<Cue>,
}

/// A schedule of segments of 3–6 s covering `[0, duration_s)`, with AVA-like imbalance
/// (standing and walking common, jumping and hitting rare).
pub fn schedule(duration_s: f64, rng: &mut StdRng) -> Vec<Segment> {
    let mut segments = Vec::new();
    let mut t = 0.0;
    while t < duration_s {
        let body = pick(
            rng,
            &[
                (Body::Stand, 40),
                (Body::Walk, 30),
                (Body::Sit, 15),
                (Body::Bend, 9),
                (Body::Jump, 6),
            ],
        );
        let arms: &[(Option<Arm>, u32)] = match body {
            Body::Stand => &[
                (None, 45),
                (Some(Arm::Wave), 18),
                (Some(Arm::Point), 15),
                (Some(Arm::Throw), 12),
                (Some(Arm::Hit), 10),
            ],
            Body::Walk => &[(None, 75), (Some(Arm::Wave), 25)],
            Body::Sit => &[(None, 60), (Some(Arm::Wave), 20), (Some(Arm::Point), 20)],
            Body::Bend | Body::Jump => &[(None, 1)],
        };
        let arm = pick(rng, arms);
        segments.push(Segment {
            start_s: t,
            body,
            arm,
            cue: None,
        });
        t += rng.random_range(3.0..6.0);
    }
    segments
}

fn pick<T: Copy>(rng: &mut StdRng, weighted: &[(T, u32)]) -> T {
    let total: u32 = weighted.iter().map(|(_, w)| w).sum();
    let mut r = rng.random_range(0..total);
    for &(item, w) in weighted {
        if r < w {
            return item;
        }
        r -= w;
    }
    weighted[weighted.len() - 1].0
}

/// Joint angles (radians from straight down, positive towards the facing side) and offsets
/// that place a figure; see `figure.rs` for the skeleton they drive.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Pose {
    pub torso: f64,
    /// Hip lowering (sitting) and lift (jumping), in body heights (positive is up).
    pub lift: f64,
    /// (hip, knee) of the two legs.
    pub legs: [(f64, f64); 2],
    /// (shoulder, elbow) of the back and the front arm.
    pub arms: [(f64, f64); 2],
    /// A microphone in the front hand (singers hold one, as AVA's do).
    pub microphone: bool,
}

/// The pose of a person doing `segment` at `t` seconds into it.
pub fn pose(segment: &Segment, t: f64) -> Pose {
    use std::f64::consts::{PI, TAU};
    let mut p = Pose {
        legs: [(0.06, 0.0), (-0.06, 0.0)],
        arms: [(-0.12, 0.05), (0.12, 0.05)],
        ..Pose::default()
    };
    match segment.body {
        Body::Stand => p.torso = 0.03 * (TAU * 0.3 * t).sin(),
        Body::Walk => {
            let s = (TAU * t).sin();
            p.legs = [
                (0.45 * s, 0.5 * (TAU * t).cos().max(0.0)),
                (-0.45 * s, 0.5 * (-(TAU * t).cos()).max(0.0)),
            ];
            p.arms = [(-0.35 * s, 0.1), (0.35 * s, 0.1)];
        }
        Body::Sit => {
            p.lift = -0.2;
            p.legs = [(1.5, -1.5), (1.4, -1.45)];
            p.arms = [(0.5, 0.4), (0.6, 0.4)];
        }
        Body::Bend => {
            p.torso = 0.9 + 0.25 * (TAU * 0.5 * t).sin();
            p.arms = [(0.9, 0.0), (1.0, 0.0)];
        }
        Body::Jump => {
            let air = (PI * 1.2 * t).sin().abs();
            p.lift = 0.25 * air;
            p.legs = [(0.4 * air, -0.9 * air), (0.3 * air, -0.8 * air)];
            p.arms = [(-0.4 - air, 0.2), (0.4 + air, 0.2)];
        }
    }
    match segment.arm {
        None => {}
        Some(Arm::Wave) => p.arms[1] = (2.6, 0.7 * (TAU * 2.0 * t).sin()),
        Some(Arm::Point) => p.arms[1] = (1.57, 0.0),
        Some(Arm::Throw) => {
            // Slow wind-up behind, then a fast release forward, every 1.5 s.
            let u = (t / 1.5).fract();
            let shoulder = if u < 0.6 {
                -0.5 - 2.0 * u / 0.6
            } else {
                -2.5 + 3.9 * (u - 0.6) / 0.4
            };
            p.arms[1] = (shoulder, 0.3);
        }
        Some(Arm::Hit) => {
            let extend = 0.5 + 0.5 * (TAU * 1.5 * t).cos();
            p.arms[1] = (1.3, -1.8 * (1.0 - extend));
        }
    }
    match segment.cue {
        None => {}
        Some(Cue::Sing) => {
            let breath = (TAU * 0.7 * t).sin();
            p.torso -= 0.08 * breath;
            p.arms = [(0.9 + 0.15 * breath, 1.7), (1.0 + 0.15 * breath, 1.6)];
            p.microphone = true;
        }
        Some(Cue::Dance) => {
            let sway = (TAU * 0.8 * t).sin();
            p.torso += 0.15 * sway;
            p.arms = [(-2.7 + 0.25 * sway, 0.3), (2.7 + 0.25 * sway, -0.3)];
        }
    }
    p
}
