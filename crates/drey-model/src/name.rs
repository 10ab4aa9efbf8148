//! Naming rules. Each dialect checks its own rule when it creates an object;
//! reading never re-checks, so an object created through one face stays
//! readable through every other.

use crate::error::Error;
use regex::Regex;
use std::sync::LazyLock;

static DNS_SUBDOMAIN: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$").ok()
});

/// CMF's rule: 4 to 253 characters, a DNS subdomain.
pub fn check_cmf_name(field: &str, name: &str) -> Result<(), Error> {
    check_dns_subdomain(field, name, 4)
}

/// A DNS subdomain of `min` to 253 characters (Kubernetes namespaces: 1).
pub fn check_dns_subdomain(field: &str, name: &str, min: usize) -> Result<(), Error> {
    let len = name.chars().count();
    if !(min..=253).contains(&len) {
        return Err(Error::invalid(
            field,
            format!("name '{name}' must be between {min} and 253 characters long (has {len})"),
        ));
    }
    let matches = DNS_SUBDOMAIN
        .as_ref()
        .map(|re| re.is_match(name))
        .unwrap_or(false);
    if !matches {
        return Err(Error::invalid(
            field,
            format!(
                "name '{name}' must match ^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$ \
                 (lower-case letters, digits, '-' and '.', starting and ending with a letter or digit)"
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cmf_names() {
        for ok in ["test", "my-app", "a.b.c.d", "0abc", &"a".repeat(253)] {
            assert!(check_cmf_name("name", ok).is_ok(), "{ok}");
        }
        for bad in [
            "abc",
            "Test",
            "-abc",
            "abc-",
            "ab_cd",
            "ab..cd",
            "abc.",
            &"a".repeat(254),
            "",
        ] {
            assert!(check_cmf_name("name", bad).is_err(), "{bad}");
        }
    }
}
