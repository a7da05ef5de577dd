//! The module API: everything a module under `modules/` may name from the
//! engine, in one place. A module imports `crate::module::prelude::*` (plus
//! std, its own submodules and the shared module code in
//! `modules/shared/`) and nothing else of the engine's, so what a module can
//! see and do is what this file lists.

// What a module is, what it is given and what it hands back.
pub use super::{run_parts, ConfigError, Context, Module, ModuleInfo, ModuleOutput};
pub use crate::schedule::{Frequency, Stage};
pub use crate::schema::{all_digits, uri_format, Field, Rule, Ty, Verdict, VENDOR_DATA_PREFIX};

// Config values, and cloud-init's `mergemanydict`.
pub use crate::merge::merge_many_reversed;
pub use crate::value::{python_float_repr, python_str_repr, Mapping, Value};

// Effects: what a module asks the target to do.
pub use crate::effect::later::Later;
pub use crate::effect::probe::{Branch, Probe, When, PROBE_ERROR};
pub use crate::effect::{
    shell_quote, Append, Command, Data, Effect, HostAction, HttpRequest, Named, OnFailure, Owner,
};

// The root, read-only, as `ctx.fs` shows it; guest paths resolved inside it.
pub use crate::rootfs::{canonical_path, FsView, Kind as FileKind};

// What the engine knows and modules read: the instance, cloud-init's paths,
// the machine cloudboot runs on.
pub use crate::blockdev::{
    BlockDevice, DevKind, DevNum, DiskQuery, HostRoot, Mount, MountOf, PartInfo, QueryFailed,
};
pub use crate::datasource::events::network_event_enabled;
pub use crate::datasource::{BlockDevices, DeviceLookup, Instance};
pub use crate::host::Host;
pub use crate::paths::{Paths, OUTPUT_LOG_FILE};

// The distro layer: what differs between distributions.
pub use crate::distro::accounts::{self, Account};
pub use crate::distro::apk::ApkRepos;
pub use crate::distro::hostname::{BUILTIN_TEMPLATES, HOSTS_FN};
pub use crate::distro::hotplug_hook_path;
pub use crate::distro::names::Names;
pub use crate::distro::ntp::ntp_client_installed;
pub use crate::distro::packages::{PackageError, PackageSpec, SourcesMark};
pub use crate::distro::service::SshService;
pub use crate::distro::shutdown::shutdown_command;
pub use crate::distro::users::{normalize_users_groups, uniq_merge, SUDOERS_FILE};
pub use crate::distro::{runs_systemd, Distro};

// Python-compatible helpers (cloud-init's behaviour, byte for byte) and
// encodings.
pub use crate::py::{self, set::PySet};
pub use crate::{base64, jinja, md5, sha256, templater, yaml};

// The version cloudboot reports as cloud-init's (`Cloud-init v. ...`).
pub use crate::VERSION_STRING;

// The one overlay: a view of the root with planned changes laid over it
// (a module that reads its own planned effects keeps one).
pub use crate::plan::{Node as OverlayNode, Overlay};

// A probe's log lines, logged from the module's own file.
pub use crate::log_at;

// The in-process module test kit, for the tests beside each module.
#[cfg(test)]
pub use super::testing::{Kit, Planned, Written};
#[cfg(test)]
pub use crate::host::FakeHost;
