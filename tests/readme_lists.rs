//! The README's module and datasource tables are the registries': no list
//! is kept by hand. `scripts/readme-lists.sh` rewrites them (this test with
//! `CLOUDBOOT_UPDATE_README=1`).

use std::path::Path;

use cloudboot::docs::{readme_tables, update_readme};
use cloudboot::stages::{lookup, StageMap, DEFAULT_STAGES_YAML};

#[test]
fn the_readme_tables_are_the_registries() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md");
    let readme = std::fs::read_to_string(&path).unwrap();
    let map = StageMap::load(DEFAULT_STAGES_YAML, "stages.yaml", &lookup).unwrap();
    let generated = update_readme(&readme, &readme_tables(&map)).unwrap();
    if std::env::var_os("CLOUDBOOT_UPDATE_README").is_some() {
        if generated != readme {
            std::fs::write(&path, &generated).unwrap();
            eprintln!("README.md: tables rewritten from the registries");
        }
        return;
    }
    assert!(
        generated == readme,
        "README.md's module or datasource table is not what the registries say: run \
         scripts/readme-lists.sh (the tables should read:\n{})",
        readme_tables(&map)
            .iter()
            .map(|(_, t)| t.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    );
}
