//! Python-compatibility helpers: the one home of the code that reproduces
//! what Python (CPython 3.11, as cloud-init 22.4 runs on it) does where
//! cloud-init's output or decisions depend on it, and of the few small
//! `cloudinit/util.py` helpers that several layers share.
//!
//! What belongs here: a Python built-in or standard-library behaviour that
//! cloud-init leans on and Rust answers differently (`str.strip`'s notion
//! of whitespace, `int(text)`, `float(text)`, truth values, `json.dumps`,
//! `set` order, `os.path.abspath`, `shlex.quote`), and cloud-init's generic
//! `util` functions on top of them (`is_true`, `translate_bool`,
//! `make_header`, `shellify`). Each function names the Python it reproduces
//! and keeps its corner cases, so a caller that needs "what cloud-init would
//! do" calls it instead of writing its own.
//!
//! What does not: anything about one subsystem (a configobj quote for
//! sysconfig files, a renderer's header, YAML's or jinja's syntax), which
//! stays with the code it serves; and anything that does I/O.
//!
//! `str()` and `repr()` of a value live with the value model
//! (`Value::python_str`, `Value::python_str_any`, `Value::python_repr`,
//! `value::python_float_repr`): this folder builds on [`crate::value`], and
//! the value model needs none of it, so the two make no circle.

pub mod cfg;
pub mod float;
pub mod header;
pub mod int;
pub mod json;
pub mod path;
pub mod set;
pub mod shell;
pub mod str;
pub mod truth;
pub mod url;
