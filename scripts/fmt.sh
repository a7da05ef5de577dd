#!/bin/sh
# cargo fmt, and the files cargo fmt cannot see: the module and datasource
# files are declared by their registries' macros (one line per plugin), and
# rustfmt does not follow a `mod` a macro declares. `scripts/fmt.sh --check`
# checks without changing anything (.ci/run does).
set -e
cd "$(dirname "$0")/.."
cargo fmt ${1:+-- "$1"}
# A module of several files is `modules/<name>/mod.rs` (its own `mod`
# lines reach the rest).
files=$(ls modules/*.rs modules/*/mod.rs src/datasource/*.rs)
if [ "$1" = --check ]; then
    rustfmt --edition 2021 --check $files
else
    # Twice: one pass of rustfmt does not always reach its fixed point.
    rustfmt --edition 2021 $files
    rustfmt --edition 2021 $files
fi
