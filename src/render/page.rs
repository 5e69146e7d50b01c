//! The summary page (`index.html`) that opens offline: the stages' times, the evaluation
//! where there is ground truth, a few annotated keyframes, the video and the files.

use std::path::{Path, PathBuf};

/// Up to `n` keyframes spread evenly over those in `keys`.
pub fn spread<T: Clone>(keys: &[T], n: usize) -> Vec<T> {
    if keys.len() <= n {
        return keys.to_vec();
    }
    (0..n).map(|i| keys[i * keys.len() / n].clone()).collect()
}

/// What the summary page shows; paths relative to OUT.
pub struct Page<'a> {
    pub title: String,
    /// `(stage, seconds, reused, what it processed, note)`.
    pub stages: Vec<(String, f64, bool, String, String)>,
    /// The evaluation's table and plot, where the videos have ground truth.
    pub evaluation: Option<(String, Option<PathBuf>)>,
    pub keyframes: &'a [PathBuf],
    pub videos: &'a [PathBuf],
    pub outputs: &'a [PathBuf],
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn link(path: &Path) -> String {
    // Relative links, each path segment percent-escaped where needed.
    path.iter()
        .map(|part| {
            part.to_string_lossy()
                .bytes()
                .map(|b| match b {
                    b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                        (b as char).to_string()
                    }
                    _ => format!("%{b:02X}"),
                })
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// The page's HTML (no scripts, no remote resources).
pub fn page_html(page: &Page) -> String {
    let mut h = String::new();
    h.push_str(&format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title>\n\
         <style>body{{font-family:sans-serif;margin:2em;max-width:1100px}}\
         table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:3px 8px;\
         text-align:left}}img,video{{max-width:100%}}.grid{{display:flex;flex-wrap:wrap;\
         gap:8px}}.grid img{{width:320px}}pre{{background:#f6f6f6;padding:8px}}</style>\
         </head><body>\n<h1>{}</h1>\n",
        escape(&page.title),
        escape(&page.title)
    ));
    if !page.stages.is_empty() {
        // The note column only where a stage has a note.
        let notes = page.stages.iter().any(|s| !s.4.is_empty());
        h.push_str(
            "<h2>Stages</h2>\n<table><tr><th>stage</th><th>seconds</th><th>run</th>\
             <th>processed</th>",
        );
        h.push_str(if notes {
            "<th>note</th></tr>\n"
        } else {
            "</tr>\n"
        });
        for (stage, seconds, reused, processed, note) in &page.stages {
            h.push_str(&format!(
                "<tr><td>{}</td><td>{seconds:.1}</td><td>{}</td><td>{}</td>",
                escape(stage),
                if *reused { "reused" } else { "now" },
                escape(processed),
            ));
            if notes {
                h.push_str(&format!("<td>{}</td>", escape(note)));
            }
            h.push_str("</tr>\n");
        }
        h.push_str("</table>\n");
    }
    if let Some((table, plot)) = &page.evaluation {
        h.push_str(&format!(
            "<h2>Evaluation (AVA frame-mAP)</h2>\n<pre>{}</pre>\n",
            escape(table)
        ));
        if let Some(plot) = plot {
            h.push_str(&format!(
                "<img src=\"{}\" alt=\"per-class AP\">\n",
                link(plot)
            ));
        }
    }
    for video in page.videos {
        h.push_str(&format!(
            "<h2>Video</h2>\n<video controls src=\"{}\"></video>\n<p><a href=\"{}\">{}</a></p>\n",
            link(video),
            link(video),
            escape(&video.display().to_string())
        ));
    }
    if !page.keyframes.is_empty() {
        h.push_str("<h2>Keyframes</h2>\n<div class=\"grid\">\n");
        for k in page.keyframes {
            h.push_str(&format!(
                "<a href=\"{}\"><img src=\"{}\" alt=\"{}\"></a>\n",
                link(k),
                link(k),
                escape(&k.display().to_string())
            ));
        }
        h.push_str("</div>\n");
    }
    h.push_str("<h2>Files</h2>\n<ul>\n");
    for f in page.outputs {
        h.push_str(&format!(
            "<li><a href=\"{}\">{}</a></li>\n",
            link(f),
            escape(&f.display().to_string())
        ));
    }
    h.push_str("</ul>\n</body></html>\n");
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_are_relative_and_escaped() {
        assert_eq!(
            link(Path::new("keyframes/a b#1.png")),
            "keyframes/a%20b%231.png"
        );
        assert_eq!(escape("<a&\">"), "&lt;a&amp;&quot;&gt;");
        assert_eq!(spread(&[1, 2, 3, 4, 5, 6], 3), vec![1, 3, 5]);
        assert_eq!(spread(&[1, 2], 3), vec![1, 2]);
    }
}
