//! The configs that inherit (`base = ...`) read as the full files they replaced, kept in
//! tests/fixtures/configs/*.full.toml.

use std::path::Path;

#[test]
fn each_inheriting_config_reads_as_the_full_file_it_replaces() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for name in ["ms_ava_lfb_avg", "ms_ava_lfb_max", "ms_ava_lfb_nl3l"] {
        let config = root.join("configs").join(format!("{name}.toml"));
        let text = std::fs::read_to_string(&config).unwrap();
        assert!(text.contains("base = "), "{name} no longer inherits");
        let merged = avaloc::config::read_toml(&config).unwrap();
        let full_path = root
            .join("tests/fixtures/configs")
            .join(format!("{name}.full.toml"));
        let full: toml::Table = std::fs::read_to_string(&full_path)
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(merged, full, "{name}");
        // And as the network file every command loads.
        let loaded = avaloc::config::ActionFile::load(&config).unwrap();
        let expected = avaloc::config::ActionFile::load(&full_path).unwrap();
        assert_eq!(loaded.network, expected.network, "{name}");
        assert_eq!(
            loaded.train_settings().unwrap(),
            expected.train_settings().unwrap(),
            "{name}"
        );
    }
}
