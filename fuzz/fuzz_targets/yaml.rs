//! Any bytes as a YAML document, as cloud-init's loader would read
//! user-data: load it, dump what loaded as `cloud-config.txt` is written,
//! and load that again. Nothing may panic or take unbounded time; a
//! document that loads must dump to text that loads back to the same value
//! (the dumper is PyYAML's, whose output PyYAML reads back unchanged).
#![no_main]

use cloudboot::value::Value;
use cloudboot::yaml;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(value) = yaml::load(data, "fuzz") else {
        return;
    };
    let text = yaml::dump_cloud_config(&value);
    let again = match yaml::load(text.as_bytes(), "dump") {
        Ok(v) => v,
        Err(e) => panic!("the dump of a loaded document does not load: {e}\n{text}"),
    };
    // JSON forms, so that NaN compares equal to NaN.
    assert_eq!(
        again.to_json(),
        as_dumped(&value).to_json(),
        "the dump reads back differently:\n{text}"
    );
});

/// The value as its dump says it: timestamps as Python's `str()` of them
/// (what PyYAML writes), keys in the order the dump has them.
fn as_dumped(v: &Value) -> Value {
    match v {
        Value::Timestamp(_) => Value::Timestamp(v.python_str()),
        Value::Seq(items) => Value::Seq(items.iter().map(as_dumped).collect()),
        Value::Map(m) => Value::Map(m.iter().map(|(k, v)| (as_dumped(k), as_dumped(v))).collect()),
        other => other.clone(),
    }
    .in_pyyaml_dump_order()
}
