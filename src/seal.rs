//! `cloudboot seal`: prepares an image for templating by making the fixes
//! `cloudboot doctor` finds, as `virt-sysprep` does for cloud-init's part
//! of an image and as operators do by hand.
//!
//! The fixes are the findings' own effects, applied through the one
//! apply/print path: `--dry-run` lays them on the plan overlay and prints
//! them with their diffs, a real run applies them to the root. One finding
//! is fixed at a time and the image examined again after each fix (through
//! the same view, so a dry run sees its own planned fixes), so two checks
//! that touch the same file (an rc link one moves and another turns off)
//! each see what the other did. A fix after which its finding is still
//! there is an error, never a loop.

use crate::doctor::{self, Finding, Image, Options};
use crate::exec::Runner;
use crate::plan::PlanTarget;
use crate::report;
use crate::rootfs::Root;
use crate::target::{apply_all, LiveTarget, Target};
use std::collections::BTreeSet;

/// How many fixes one seal makes at most: far more than there are checks
/// times the files one fix touches, so only a check whose fix does not
/// hold could reach it (and each of those is stopped after one try).
const MAX_FIXES: usize = 256;

/// Exit codes: 0 sealed (nothing left that seal could fix), 1 findings
/// left or a fix failed, 2 the image could not be read or seal refused.
pub fn run(root: &Root, options: Options, dry_run: bool, force: bool) -> i32 {
    if root.is_host_root() && !force && !dry_run {
        eprintln!(
            "cloudboot seal: refusing to seal the running system (/): it removes this \
             machine's identity, host keys and network files; give --root DIR for an \
             image, or --force if this machine really is the template"
        );
        return 2;
    }
    let mut target: Box<dyn Target> = if dry_run {
        Box::new(PlanTarget::new(root.clone()))
    } else {
        Box::new(LiveTarget::new(
            root.clone(),
            Runner::new(root.clone(), None, true),
        ))
    };
    let mut out = String::new();
    let mut tried: BTreeSet<String> = BTreeSet::new();
    let mut errored: BTreeSet<String> = BTreeSet::new();
    let mut failed = 0;
    let mut fixed = 0;
    let left = loop {
        let findings = match Image::read(target.fs(), root, options.clone()) {
            Ok(image) => doctor::examine(&image),
            Err(e) => {
                eprintln!("cloudboot seal: {e}");
                return 2;
            }
        };
        let next = findings
            .iter()
            .find(|f| f.sealable() && !tried.contains(&key(f)));
        let Some(finding) = next.filter(|_| tried.len() < MAX_FIXES) else {
            break findings;
        };
        tried.insert(key(finding));
        let applied = apply_all(target.as_mut(), &finding.fixes);
        out.push_str(&format!(
            "{} [{}] {}\n",
            if dry_run { "would fix" } else { "fixed" },
            finding.id,
            finding.title
        ));
        out.push_str(&report::render_records(&applied.records, "    ", dry_run));
        for e in &applied.errors {
            out.push_str(&format!("    error: {e}\n"));
        }
        if applied.errors.is_empty() {
            fixed += 1;
        } else {
            failed += 1;
            errored.insert(key(finding));
        }
        // A second settle is harmless; the first makes this fix durable
        // before the next is planned on top of it.
        if let Err(e) = target.settle() {
            out.push_str(&format!("    error: {e}\n"));
            failed += 1;
        }
    };
    let still = left
        .iter()
        .filter(|f| tried.contains(&key(f)) && !errored.contains(&key(f)));
    for f in still {
        failed += 1;
        out.push_str(&format!(
            "error: [{}] {} is still there after its fix\n",
            f.id, f.title
        ));
    }
    let unsealable: Vec<&Finding> = left.iter().filter(|f| !f.sealable()).collect();
    if !unsealable.is_empty() {
        out.push_str(&format!(
            "left for a person ({}; `cloudboot doctor` says how):\n",
            unsealable.len()
        ));
        for f in &unsealable {
            out.push_str(&format!("  [{}] {}\n", f.id, f.title));
        }
    }
    out.push_str(&format!(
        "{}: {fixed} fix{} {}, {failed} failed, {} left\n",
        root.host_path().display(),
        if fixed == 1 { "" } else { "es" },
        if dry_run { "planned" } else { "made" },
        unsealable.len()
    ));
    print!("{out}");
    if failed > 0 || !unsealable.is_empty() {
        1
    } else {
        0
    }
}

/// A finding's identity across examinations: its check and its evidence
/// (the same problem in another file is another finding).
fn key(f: &Finding) -> String {
    let evidence: Vec<String> = f.evidence.iter().map(|e| e.display()).collect();
    format!("{}\n{}", f.id, evidence.join("\n"))
}
