//! The rootfs mounts containerd hands over in Create (overlay, bind, ...),
//! mounted on `<bundle>/rootfs` and unmounted on delete.

use std::path::Path;

use containerd_shim_protos::api::Mount;

use crate::error::{Error, Result};

pub fn mount_rootfs(mounts: &[Mount], rootfs: &Path) -> Result<()> {
    std::fs::create_dir_all(rootfs).map_err(|e| Error::io(format!("mkdir {rootfs:?}"), e))?;
    for m in mounts {
        let ty = (!m.type_.is_empty()).then_some(m.type_.as_str());
        let src = (!m.source.is_empty()).then_some(m.source.as_str());
        if let Err(e) = containerd_shim::mount::mount_rootfs(ty, src, &m.options, rootfs) {
            unmount_rootfs(rootfs);
            return Err(Error::Other(format!(
                "mount {} {} on {}: {e}",
                m.type_,
                m.source,
                rootfs.display()
            )));
        }
    }
    Ok(())
}

/// Unmounts everything at and below `rootfs` (lazily if busy). Best effort.
pub fn unmount_rootfs(rootfs: &Path) {
    let Some(p) = rootfs.to_str() else { return };
    if let Err(e) = containerd_shim::mount::umount_recursive(Some(p), libc::MNT_DETACH) {
        tracing::warn!("unmount {p}: {e}");
    }
}
