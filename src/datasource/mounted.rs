//! The fallback cloud-init always uses: mount the device read-only and read
//! the files. Only on a live root (`/`) and as root; a scratch root's
//! "devices" are image files that must not be attached to this machine.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::source::SeedSource;
use crate::rootfs::Root;
use crate::userdata::MAX_USER_DATA;

/// A device mounted on a private directory, unmounted when dropped.
pub struct MountedSource {
    dir: PathBuf,
    device: String,
}

impl MountedSource {
    /// `mount -o ro <dev> <tmpdir>` (`util.mount_cb`).
    pub fn mount(root: &Root, host_dev: &Path, shown: &str) -> Result<MountedSource, String> {
        if !root.is_host_root() {
            return Err("not tried: the target root is not this machine's /".into());
        }
        if !crate::exec::privileged() {
            return Err("not tried: mounting needs root".into());
        }
        let dir = std::env::temp_dir().join(format!("cloudboot-mount-{}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let out = Command::new("mount")
            .args(["-o", "ro"])
            .arg(host_dev)
            .arg(&dir)
            .output()
            .map_err(|e| format!("mount: {e}"))?;
        if !out.status.success() {
            let _ = std::fs::remove_dir(&dir);
            return Err(format!(
                "mount failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(MountedSource {
            dir,
            device: shown.to_string(),
        })
    }
}

impl Drop for MountedSource {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.dir).status();
        let _ = std::fs::remove_dir(&self.dir);
    }
}

impl SeedSource for MountedSource {
    fn describe(&self) -> String {
        self.device.clone()
    }

    fn read(&self, rel: &str) -> Result<Option<Vec<u8>>, String> {
        let rel = rel.trim_start_matches('/');
        if rel.split('/').any(|c| c == "..") {
            return Ok(None);
        }
        let p = self.dir.join(rel);
        match std::fs::metadata(&p) {
            Err(_) => Ok(None),
            Ok(md) if !md.is_file() => Ok(None),
            Ok(md) if md.len() > MAX_USER_DATA as u64 => Err(format!(
                "{}: {rel}: larger than {} MiB",
                self.device,
                MAX_USER_DATA >> 20
            )),
            Ok(_) => {
                // The size was checked; a file that grows is still cut off.
                use std::io::Read;
                let mut data = Vec::new();
                std::fs::File::open(&p)
                    .and_then(|f| f.take(MAX_USER_DATA as u64 + 1).read_to_end(&mut data))
                    .map_err(|e| format!("{}: {rel}: {e}", self.device))?;
                if data.len() > MAX_USER_DATA {
                    return Err(format!(
                        "{}: {rel}: larger than {} MiB",
                        self.device,
                        MAX_USER_DATA >> 20
                    ));
                }
                Ok(Some(data))
            }
        }
    }

    fn list(&self, rel: &str) -> Vec<String> {
        std::fs::read_dir(self.dir.join(rel.trim_start_matches('/')))
            .map(|rd| {
                rd.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default()
    }

    fn is_device(&self) -> bool {
        true
    }
}
