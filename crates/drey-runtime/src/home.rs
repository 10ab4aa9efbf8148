//! Finding the Flink distribution.

use std::path::{Path, PathBuf};

use crate::error::RuntimeError;

/// The Flink version drey's local backend runs.
pub const FLINK_VERSION: &str = "2.3.0";

/// drey's data home: `${XDG_DATA_HOME:-$HOME/.local/share}/drey`, or `None` when neither
/// variable is set.
pub fn drey_data_home() -> Option<PathBuf> {
    data_home_from(
        std::env::var_os("XDG_DATA_HOME").map(PathBuf::from),
        std::env::var_os("HOME").map(PathBuf::from),
    )
}

fn data_home_from(xdg: Option<PathBuf>, home: Option<PathBuf>) -> Option<PathBuf> {
    match (xdg, home) {
        (Some(x), _) if !x.as_os_str().is_empty() => Some(x.join("drey")),
        (_, Some(h)) if !h.as_os_str().is_empty() => Some(h.join(".local/share/drey")),
        _ => None,
    }
}

/// A verified Flink distribution directory (it has `bin/jobmanager.sh`,
/// `bin/taskmanager.sh`, `lib/` and `conf/`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlinkHome {
    root: PathBuf,
}

impl FlinkHome {
    /// Finds Flink, in order: `explicit` (`--flink-home`), the `FLINK_HOME` environment
    /// variable, then `${XDG_DATA_HOME:-$HOME/.local/share}/drey/flink-2.3.0` (where
    /// `scripts/install-flink.sh` installs it). An explicit or `FLINK_HOME` directory that is
    /// not a distribution is an error, not a reason to look further.
    pub fn discover(explicit: Option<PathBuf>) -> Result<FlinkHome, RuntimeError> {
        Self::discover_from(
            explicit,
            std::env::var_os("FLINK_HOME")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from),
            drey_data_home(),
        )
    }

    /// [`FlinkHome::discover`] with the environment passed in (for tests and callers that
    /// read their settings elsewhere).
    pub fn discover_from(
        explicit: Option<PathBuf>,
        env_flink_home: Option<PathBuf>,
        data_home: Option<PathBuf>,
    ) -> Result<FlinkHome, RuntimeError> {
        if let Some(p) = explicit {
            return Self::at(&p, "--flink-home");
        }
        if let Some(p) = env_flink_home {
            return Self::at(&p, "FLINK_HOME");
        }
        let mut looked_at = vec![
            "--flink-home (not given)".to_string(),
            "FLINK_HOME (not set)".to_string(),
        ];
        if let Some(d) = data_home {
            let p = d.join(format!("flink-{FLINK_VERSION}"));
            if p.exists() {
                return Self::at(&p, "the default install");
            }
            looked_at.push(p.display().to_string());
        }
        Err(RuntimeError::FlinkNotFound {
            version: FLINK_VERSION,
            looked_at,
        })
    }

    /// Verifies that `path` is a Flink distribution.
    pub fn at(path: &Path, source_name: &'static str) -> Result<FlinkHome, RuntimeError> {
        for needed in ["bin/jobmanager.sh", "bin/taskmanager.sh", "lib", "conf"] {
            if !path.join(needed).exists() {
                return Err(RuntimeError::InvalidFlinkHome {
                    path: path.to_path_buf(),
                    source_name,
                    missing: needed.to_string(),
                });
            }
        }
        let root = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
        Ok(FlinkHome { root })
    }

    /// The distribution directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `bin/`.
    pub fn bin(&self) -> PathBuf {
        self.root.join("bin")
    }

    /// `lib/`.
    pub fn lib(&self) -> PathBuf {
        self.root.join("lib")
    }

    /// `conf/` of the distribution (the defaults each cluster's conf dir starts from).
    pub fn conf(&self) -> PathBuf {
        self.root.join("conf")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fake_dist(dir: &Path) {
        std::fs::create_dir_all(dir.join("bin")).unwrap();
        std::fs::create_dir_all(dir.join("lib")).unwrap();
        std::fs::create_dir_all(dir.join("conf")).unwrap();
        std::fs::write(dir.join("bin/jobmanager.sh"), "").unwrap();
        std::fs::write(dir.join("bin/taskmanager.sh"), "").unwrap();
    }

    #[test]
    fn discovery_order_and_errors() {
        let tmp = tempfile::tempdir().unwrap();
        let explicit = tmp.path().join("explicit");
        let env = tmp.path().join("env");
        let data = tmp.path().join("data/drey");
        fake_dist(&explicit);
        fake_dist(&env);
        fake_dist(&data.join("flink-2.3.0"));

        let h = FlinkHome::discover_from(
            Some(explicit.clone()),
            Some(env.clone()),
            Some(data.clone()),
        )
        .unwrap();
        assert!(h.root().ends_with("explicit"));
        let h = FlinkHome::discover_from(None, Some(env.clone()), Some(data.clone())).unwrap();
        assert!(h.root().ends_with("env"));
        let h = FlinkHome::discover_from(None, None, Some(data.clone())).unwrap();
        assert!(h.root().ends_with("flink-2.3.0"));

        let err =
            FlinkHome::discover_from(None, None, Some(tmp.path().join("nothing"))).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("scripts/install-flink.sh"), "{msg}");
        assert!(msg.contains("FLINK_HOME"), "{msg}");

        let err =
            FlinkHome::discover_from(None, Some(tmp.path().join("nope")), Some(data)).unwrap_err();
        assert!(matches!(
            err,
            RuntimeError::InvalidFlinkHome {
                source_name: "FLINK_HOME",
                ..
            }
        ));
    }

    #[test]
    fn data_home_follows_xdg() {
        assert_eq!(
            data_home_from(Some("/x".into()), Some("/h".into())),
            Some(PathBuf::from("/x/drey"))
        );
        assert_eq!(
            data_home_from(None, Some("/h".into())),
            Some(PathBuf::from("/h/.local/share/drey"))
        );
        assert_eq!(data_home_from(Some("".into()), None), None);
    }
}
