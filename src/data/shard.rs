//! Sharding the jobs without a training loop (`bank build`, `persons`, `poses`,
//! `localize --data`) across machines: `--shard I/N` takes the `I`-th of `N` disjoint shares
//! of the videos, by the position of their sorted ids, and writes into the same output folder
//! as the other shares, one file per video, so that the folder is complete, with no merge
//! step, once every share has run. A video whose file is there is skipped, so a killed share
//! resumes.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use anyhow::{Context, bail};

use super::manifest::{Inputs, first_difference, read_record};

/// Share `index` of `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

impl Shard {
    /// The whole: share 0 of 1.
    pub const ALL: Shard = Shard { index: 0, count: 1 };

    /// Whether the item at `position` (of the sorted items) is in this share.
    pub fn takes(&self, position: usize) -> bool {
        position % self.count == self.index
    }

    /// This share of `sorted` (video ids, or `(id, value)` pairs of a map, in id order).
    pub fn select<T>(self, sorted: impl IntoIterator<Item = T>) -> impl Iterator<Item = T> {
        sorted
            .into_iter()
            .enumerate()
            .filter(move |(k, _)| self.takes(*k))
            .map(|(_, v)| v)
    }

    /// The one skeleton of the jobs that fill a folder video by video (`persons --data`,
    /// `poses --shard`, `bank build`): of this share of `videos` (id → what its work is made
    /// from, in id order), those `done` does not count done, each with the work `work` makes
    /// of it, and how many were done. `work` is called for those videos alone: another
    /// machine may lack the other shares' frames.
    pub fn work<I, T, E>(
        self,
        videos: impl IntoIterator<Item = (String, I)>,
        done: impl Fn(&str) -> bool,
        mut work: impl FnMut(&str, I) -> Result<T, E>,
    ) -> Result<ShareWork<T>, E> {
        let mut share = ShareWork {
            todo: BTreeMap::new(),
            done: 0,
        };
        for (id, input) in self.select(videos) {
            if done(&id) {
                share.done += 1;
            } else {
                let made = work(&id, input)?;
                share.todo.insert(id, made);
            }
        }
        Ok(share)
    }

    /// A name for this share's own folder: `shard-I-of-N`.
    pub fn dir_name(&self) -> String {
        format!("shard-{}-of-{}", self.index, self.count)
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl FromStr for Shard {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let parsed = text
            .split_once('/')
            .and_then(|(i, n)| Some((i.trim().parse().ok()?, n.trim().parse().ok()?)));
        match parsed {
            Some((index, count)) if index < count => Ok(Self { index, count }),
            _ => Err(format!(
                "{text:?}: expected I/N with 0 ≤ I < N, e.g. 0/4 for the first of four shares"
            )),
        }
    }
}

/// One share's work ([`Shard::work`]): its videos not done yet, each with its work, and how
/// many were done already.
#[derive(Debug, Clone, PartialEq)]
pub struct ShareWork<T> {
    pub todo: BTreeMap<String, T>,
    pub done: usize,
}

/// An output folder of one CSV per video (`<video_id>.csv`), which every CSV reader of
/// avaloc takes in place of one file, and `settings.txt`: what wrote them.
#[derive(Debug, Clone, PartialEq)]
pub struct VideoFiles {
    pub dir: PathBuf,
}

/// The settings file of a [`VideoFiles`] folder.
pub const SETTINGS: &str = "settings.txt";

impl VideoFiles {
    /// The folder, created, for a job of `settings` (`key`, value): they are written into a
    /// new folder and must be those of a folder written before (a folder of another model or
    /// threshold would mix two runs' rows), or the error names the key.
    pub fn create(dir: &Path, settings: &[(&str, String)]) -> anyhow::Result<Self> {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("{}: cannot be created", dir.display()))?;
        // Shares start together: each probes with its own name.
        let probe = format!(".probe-{}.csv", std::process::id());
        crate::fs::check_writable(&dir.join(probe))?;
        let ours: Inputs = settings
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        let path = dir.join(SETTINGS);
        let record = read_record(&path).with_context(|| format!("reading {}", path.display()))?;
        match &record {
            Some(text) => {
                let theirs: Inputs = text
                    .lines()
                    .filter_map(|l| l.split_once(" = "))
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect();
                if let Some((key, theirs, ours)) = first_difference(&theirs, &ours) {
                    bail!(
                        "{}: the files there were written with {key} = {theirs}; this run has \
                         {ours}: use another folder",
                        path.display()
                    );
                }
            }
            None => {
                let text: String = settings
                    .iter()
                    .map(|(k, v)| format!("{k} = {v}\n"))
                    .collect();
                // Written whole under a name of this process's, as other shares may write
                // the same at the same moment (no lock: the folder holds only its CSVs).
                let tmp = dir.join(format!(".{SETTINGS}-{}.tmp", std::process::id()));
                std::fs::write(&tmp, text)
                    .and_then(|()| std::fs::rename(&tmp, &path))
                    .with_context(|| format!("writing {}", path.display()))?;
            }
        }
        Ok(Self {
            dir: dir.to_path_buf(),
        })
    }

    pub fn path(&self, video_id: &str) -> PathBuf {
        self.dir.join(format!("{video_id}.csv"))
    }

    /// Whether `video_id`'s file is there: files are written atomically, so one that exists is
    /// complete.
    pub fn done(&self, video_id: &str) -> bool {
        self.path(video_id).is_file()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[test]
    fn shares_are_disjoint_and_cover_the_videos() {
        let videos: BTreeMap<String, usize> = (0..7).map(|i| (format!("v{i}"), i)).collect();
        let shares: Vec<Vec<usize>> = (0..3)
            .map(|index| {
                let share = Shard { index, count: 3 }.select(videos.clone());
                share.map(|(_, v)| v).collect()
            })
            .collect();
        assert_eq!(shares, vec![vec![0, 3, 6], vec![1, 4], vec![2, 5]]);
        assert_eq!(
            Shard::ALL
                .select(videos.clone())
                .collect::<BTreeMap<_, _>>(),
            videos
        );
    }

    #[test]
    fn a_share_works_on_its_videos_not_done_and_counts_the_rest() {
        let videos: Vec<(String, usize)> = (0..7).map(|i| (format!("v{i}"), i)).collect();
        let mut made = Vec::new();
        let share = Shard { index: 0, count: 2 }
            .work(
                videos,
                |v| v == "v2",
                |id, i| {
                    made.push(id.to_string());
                    Ok::<_, String>(i * 10)
                },
            )
            .unwrap();
        // The share is v0, v2, v4, v6; v2 is done and its work never made.
        assert_eq!(made, ["v0", "v4", "v6"]);
        assert_eq!(share.done, 1);
        assert_eq!(
            share.todo,
            [("v0".to_string(), 0), ("v4".into(), 40), ("v6".into(), 60)].into()
        );
        let failed = Shard::ALL.work(
            [("v".to_string(), 1)],
            |_| false,
            |_, _| Err::<(), _>("bad"),
        );
        assert_eq!(failed, Err("bad"));
    }

    #[test]
    fn parses_i_of_n_and_refuses_the_rest() {
        assert_eq!("1/4".parse(), Ok(Shard { index: 1, count: 4 }));
        assert_eq!(Shard { index: 1, count: 4 }.to_string(), "1/4");
        assert_eq!(Shard { index: 1, count: 4 }.dir_name(), "shard-1-of-4");
        for bad in ["4/4", "0/0", "1", "a/2", "-1/2", ""] {
            let error = bad.parse::<Shard>().unwrap_err();
            assert!(error.contains("expected I/N"), "{bad}: {error}");
        }
    }
}
