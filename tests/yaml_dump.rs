//! `yaml::dump_cloud_config` writes what cloud-init's `safeyaml.dumps` writes.
//!
//! Each `tests/fixtures/yaml-dump/NN-name.json` is a value (or
//! `NN-name.yaml` a document PyYAML loads) and the `.expected` beside it is
//! cloud-init's `safeyaml.dumps` output for it, both made by the committed
//! `generate.py` (run it with /usr/bin/python3 to remake them).

use std::path::Path;

use cloudboot::value::Value;
use cloudboot::yaml;

/// Each fixture's value: from its `.json` (a value) or its `.yaml` (a
/// document, loaded as cloud-init loads user-data).
fn fixture_values() -> Vec<(std::path::PathBuf, Value)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/yaml-dump");
    let mut cases: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json" || e == "yaml"))
        .collect();
    cases.sort();
    assert!(cases.len() >= 24, "fixtures missing in {}", dir.display());
    cases
        .into_iter()
        .map(|path| {
            let text = std::fs::read(&path).unwrap();
            let value = if path.extension().is_some_and(|e| e == "json") {
                Value::from_json(&serde_json::from_slice(&text).unwrap())
            } else {
                yaml::load(&text, &path.display().to_string()).unwrap()
            };
            (path, value)
        })
        .collect()
}

#[test]
fn dumps_match_pyyaml_byte_for_byte() {
    let mut failures = Vec::new();
    for (path, value) in fixture_values() {
        let expected = std::fs::read_to_string(path.with_extension("expected")).unwrap();
        let got = yaml::dump_cloud_config(&value);
        if got != expected {
            failures.push(format!(
                "{}:\n--- PyYAML\n{expected}\n--- cloudboot\n{got}",
                path.display()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn dumps_read_back_to_the_same_value() {
    for (path, value) in fixture_values() {
        let text = yaml::dump_cloud_config(&value);
        let back = yaml::load(text.as_bytes(), "dump").unwrap();
        // NaN is not equal to itself; compare the JSON forms.
        assert_eq!(
            back.to_json(),
            normalise_timestamps(value).in_pyyaml_dump_order().to_json(),
            "{}",
            path.display()
        );
    }
}

/// The dumper writes a timestamp as Python's `str()` of it, so what reads
/// back is that text, not the text we started from.
fn normalise_timestamps(v: Value) -> Value {
    match v {
        Value::Timestamp(t) => Value::Timestamp(Value::Timestamp(t).python_str()),
        Value::Seq(items) => Value::Seq(items.into_iter().map(normalise_timestamps).collect()),
        Value::Map(m) => Value::Map(
            m.iter()
                .map(|(k, v)| (k.clone(), normalise_timestamps(v.clone())))
                .collect(),
        ),
        other => other,
    }
}

mod common;

/// An integer past 64 bits in user-data used to refuse the whole part. It
/// is a plain Python int to cloud-init: the rest of the part applies, and it
/// reaches `cloud-config.txt` and instance-data as cloud-init writes them.
#[test]
fn a_big_integer_keeps_the_rest_of_the_part() {
    let user_data = "#cloud-config\n\
        serial: 18446744073709551616\n\
        write_files:\n\
        - path: /etc/bad-mode\n  content: x\n  permissions: 340282366920938463463374607431768211456\n\
        runcmd: [echo -99999999999999999999]\n";
    let m = common::Machine::seeded(
        "instance-id: iid-test-1\nlocal-hostname: testhost\nbig: -0x1_0000_0000_0000_0000_0000\n",
        user_data,
    );
    // write_files (init stage) fails for that entry alone, as for any
    // mistyped value in an entry; write_files_deferred (final) does not
    // write it (it is not deferred), so it does not fail.
    m.boot_expecting(&[0, 1, 0, 0]);
    let errors = m.stage_errors("init").join("\n");
    assert!(
        errors.contains("user-data, line 6, column 3: write_files[0].permissions: expected a string or an integer, found an int past 64 bits (340282366920938463463374607431768211456)"),
        "{errors}"
    );
    // The rest of the part applied.
    let idir = "/var/lib/cloud/instances/iid-test-1";
    assert_eq!(
        m.read(&format!("{idir}/scripts/runcmd")),
        "#!/bin/sh\necho -99999999999999999999\n"
    );
    // What cloud-init 22.4 writes: /usr/bin/python3 -c "from cloudinit
    // import safeyaml, util; print(safeyaml.dumps(util.load_yaml(open(
    // 'user-data').read())), end='')" after the part handler's header.
    assert_eq!(
        m.read(&format!("{idir}/cloud-config.txt")),
        "#cloud-config\n\n# from 1 files\n# part-001\n\n---\nruncmd:\n- echo -99999999999999999999\n\
         serial: 18446744073709551616\nwrite_files:\n-   content: x\n    path: /etc/bad-mode\n\
         \x20   permissions: 340282366920938463463374607431768211456\n...\n"
    );
    // instance-data.json has the meta-data's number as json.dumps writes it.
    let instance_data = m.read("/run/cloud-init/instance-data.json");
    assert!(
        instance_data.contains("\n   \"big\": -1208925819614629174706176,\n"),
        "{instance_data}"
    );
}
