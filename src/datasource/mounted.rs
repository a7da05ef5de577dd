//! The fallback cloud-init always uses: mount the device read-only and read
//! the files. Only on a live root (`/`) and as root; a scratch root's
//! "devices" are image files that must not be attached to this machine.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::source::SeedSource;
use super::DsError;
use super::MAX_USER_DATA;
use crate::rootfs::read_limited;
use crate::rootfs::{FsView, Kind, RealFs, Root};

/// A device mounted on a private directory, unmounted when dropped.
pub struct MountedSource {
    dir: PathBuf,
    device: String,
}

impl MountedSource {
    /// `mount -o ro <dev> <tmpdir>` (`util.mount_cb`).
    pub fn mount(root: &Root, host_dev: &Path, shown: &str) -> Result<MountedSource, DsError> {
        if !root.is_host_root() {
            return Err(DsError::MountNotHostRoot);
        }
        if !crate::exec::privileged() {
            return Err(DsError::MountNotPrivileged);
        }
        let dir = std::env::temp_dir().join(format!("cloudboot-mount-{}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|e| DsError::MountDir {
            dir: dir.display().to_string(),
            error: e.to_string(),
        })?;
        let out = Command::new("mount")
            .args(["-o", "ro"])
            .arg(host_dev)
            .arg(&dir)
            .output()
            .map_err(|e| DsError::MountSpawn(e.to_string()))?;
        if !out.status.success() {
            let _ = std::fs::remove_dir(&dir);
            return Err(DsError::MountFailed(
                String::from_utf8_lossy(&out.stderr).trim().to_string(),
            ));
        }
        Ok(MountedSource {
            dir,
            device: shown.to_string(),
        })
    }
}

impl MountedSource {
    /// The mount as a root: paths resolve inside it as in a chroot, so a
    /// symlink on the device cannot name a file of this machine.
    fn fs(&self) -> RealFs {
        RealFs {
            root: Root::new(&self.dir),
        }
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

    fn read(&self, rel: &str) -> Result<Option<Vec<u8>>, DsError> {
        let fs = self.fs();
        let path = Path::new("/").join(rel.trim_start_matches('/'));
        match fs.stat(&path) {
            Some(st) if st.kind != Kind::File => Ok(None),
            _ => read_limited(&fs, &path, MAX_USER_DATA).map_err(|error| DsError::Mounted {
                device: self.device.clone(),
                error,
            }),
        }
    }

    fn list(&self, rel: &str) -> Vec<String> {
        self.fs()
            .list_dir(&Path::new("/").join(rel.trim_start_matches('/')))
            .unwrap_or_default()
    }

    fn is_device(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_symlink_on_the_device_does_not_reach_this_machine() {
        let host = tempfile::tempdir().unwrap();
        let secret = host.path().join("secret");
        std::fs::write(&secret, "this machine's file").unwrap();
        let mount = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(&secret, mount.path().join("user-data")).unwrap();
        std::fs::write(mount.path().join("meta-data"), "instance-id: i\n").unwrap();
        let src = MountedSource {
            dir: mount.path().to_path_buf(),
            device: "/dev/sr0".into(),
        };
        assert_eq!(src.read("meta-data").unwrap().unwrap(), b"instance-id: i\n");
        assert_eq!(src.read("user-data"), Ok(None));
        std::os::unix::fs::symlink(host.path(), mount.path().join("openstack")).unwrap();
        assert_eq!(src.list("openstack"), Vec::<String>::new());
        // Nothing was mounted: dropping it must not run umount.
        std::mem::forget(src);
    }
}
