#!/usr/bin/env bash
# Rewrites the README's module and datasource tables (between their marker
# comments) from the registries: modules/mod.rs, src/datasource/registry.rs
# and stages.yaml. tests/readme_lists.rs fails when they differ.
#
#   scripts/readme-lists.sh
set -euo pipefail
cd "$(dirname "$0")/.."
CLOUDBOOT_UPDATE_README=1 exec cargo test -q --test readme_lists
