//! `avaloc backend-check` on flex: the comparison's wiring (flex against itself must agree),
//! its table and its JSON.

mod common;

use common::{avaloc, log};

#[test]
fn backend_check_compares_every_network_with_flex() {
    let json =
        std::env::temp_dir().join(format!("avaloc-backend-check-{}.json", std::process::id()));
    let out = avaloc(&[
        "backend-check",
        "--repeat",
        "1",
        "--json",
        json.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", log(&out));
    let table = String::from_utf8_lossy(&out.stdout);
    for network in ["SlowFast synth", "Faster R-CNN synth (FPN)", "CPN synth"] {
        assert!(table.contains(network), "{network} not in:\n{table}");
    }
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    std::fs::remove_file(&json).unwrap();
    assert_eq!(report["backend"], "flex");
    let rows = report["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 3);
    for row in rows {
        // The same backend, weights and inputs: the same outputs, up to the order of
        // parallel sums.
        let scale = row["scale"].as_f64().unwrap();
        assert!(scale > 0.0, "{row}");
        assert!(
            row["max_diff"].as_f64().unwrap() <= 1e-6 * scale.max(1.0),
            "{row}"
        );
        assert_eq!(row["within_tolerance"], true);
        assert!(row["flex_ms"].as_f64().unwrap() > 0.0);
    }
}

#[test]
fn a_backend_not_compiled_in_is_a_clear_error() {
    if cfg!(feature = "cuda") {
        return;
    }
    let out = avaloc(&["--backend", "cuda", "backend-check"]);
    assert!(!out.status.success());
    let message = log(&out);
    assert!(message.contains("cuda"), "{message}");
}

/// `--bf16` needs CUDA: on flex (float32 only) it is refused saying so, before any work.
#[test]
fn bfloat16_on_a_cpu_backend_is_refused() {
    let out = avaloc(&["backend-check", "--bf16"]);
    assert!(!out.status.success());
    let message = log(&out);
    assert!(
        message.contains("bfloat16 runs on --backend cuda; flex computes in float32"),
        "{message}"
    );
}
