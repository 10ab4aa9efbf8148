//! Retained checkpoints on disk: where a last-state deployment restores from.

use super::*;

/// `path`, unless it is one of the application's checkpoints that is gone
/// from disk: then the newest retained checkpoint, if there is one.
pub(super) fn usable_restore_point(path: String, checkpoint_dir: &Path) -> String {
    let local = path
        .strip_prefix("file://")
        .or_else(|| path.strip_prefix("file:"))
        .map(PathBuf::from);
    match local {
        Some(dir) if dir.starts_with(checkpoint_dir) && !dir.join("_metadata").is_file() => {
            latest_checkpoint_on_disk(checkpoint_dir).unwrap_or(path)
        }
        _ => path,
    }
}

/// The newest retained checkpoint (`<job>/chk-N` with `_metadata`) under a
/// dir, by the time its metadata was written (checkpoint numbers restart per job).
pub(super) fn latest_checkpoint_on_disk(dir: &Path) -> Option<String> {
    let mut best: Option<(std::time::SystemTime, PathBuf)> = None;
    for job in std::fs::read_dir(dir).ok()?.flatten() {
        for chk in std::fs::read_dir(job.path())
            .ok()
            .into_iter()
            .flatten()
            .flatten()
        {
            if !chk.file_name().to_string_lossy().starts_with("chk-") {
                continue;
            }
            let Ok(written) = chk
                .path()
                .join("_metadata")
                .metadata()
                .and_then(|m| m.modified())
            else {
                continue;
            };
            if best.as_ref().map(|(t, _)| written > *t).unwrap_or(true) {
                best = Some((written, chk.path()));
            }
        }
    }
    best.map(|(_, p)| format!("file://{}", p.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_subsumed_checkpoint_gives_way_to_the_newest_on_disk() {
        let dir = tempfile::tempdir().unwrap();
        let job = dir.path().join("job");
        std::fs::create_dir_all(job.join("chk-7")).unwrap();
        std::fs::write(job.join("chk-7").join("_metadata"), b"x").unwrap();
        let gone = format!("file:{}", job.join("chk-6").display());
        assert_eq!(
            usable_restore_point(gone, dir.path()),
            format!("file://{}", job.join("chk-7").display())
        );
        let savepoint = "file:/elsewhere/savepoint-1".to_owned();
        assert_eq!(
            usable_restore_point(savepoint.clone(), dir.path()),
            savepoint
        );
        let kept = format!("file://{}", job.join("chk-7").display());
        assert_eq!(usable_restore_point(kept.clone(), dir.path()), kept);
    }
}
