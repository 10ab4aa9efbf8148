//! Records the git revision drey is built from and the build time (CMF's
//! `system-information`): `DREY_GIT_REVISION` and `DREY_BUILD_TIME`, taken
//! from the environment when set (release builds), else from `git` and the
//! clock; `unknown` outside a git checkout.

use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
        .filter(|s| !s.is_empty())
}

fn main() {
    println!("cargo:rerun-if-env-changed=DREY_GIT_REVISION");
    println!("cargo:rerun-if-env-changed=DREY_BUILD_TIME");
    let revision = std::env::var("DREY_GIT_REVISION")
        .ok()
        .or_else(|| git(&["rev-parse", "HEAD"]))
        .unwrap_or_else(|| "unknown".into());
    // Built again when the checked-out commit changes.
    for path in ["HEAD", "packed-refs"] {
        if let Some(p) = git(&["rev-parse", "--path-format=absolute", "--git-path", path]) {
            println!("cargo:rerun-if-changed={p}");
        }
    }
    if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
        if let Some(p) = git(&["rev-parse", "--path-format=absolute", "--git-path", &branch]) {
            println!("cargo:rerun-if-changed={p}");
        }
    }
    let built = std::env::var("DREY_BUILD_TIME").ok().unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
            .to_string()
    });
    println!("cargo:rustc-env=DREY_GIT_REVISION={revision}");
    println!("cargo:rustc-env=DREY_BUILD_TIME={built}");
}
