//! Paging and sorting, independent of any dialect's query syntax.

use crate::error::Error;

/// Which property a list is sorted by.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SortKey {
    /// `metadata.name` / `name`.
    Name,
    /// `metadata.creationTimestamp` / `created_time`.
    CreationTime,
    /// `metadata.updateTimestamp` / `updated_time`.
    UpdateTime,
    /// A scalar inside `spec` or `status`, e.g. `["spec", "type"]`.
    Field(Vec<String>),
}

/// Ascending or descending.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SortDirection {
    /// Smallest first.
    Asc,
    /// Largest first.
    Desc,
}

/// One sort criterion.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SortOrder {
    /// The property.
    pub key: SortKey,
    /// The direction.
    pub direction: SortDirection,
}

/// A zero-based page of a sorted list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PageRequest {
    /// Zero-based page index.
    pub page: u32,
    /// Items per page, at least 1.
    pub size: u32,
    /// Sort criteria in order; empty means the kind's natural order.
    pub sort: Vec<SortOrder>,
}

/// The largest page a client may ask for.
pub const MAX_PAGE_SIZE: u32 = 1000;
/// The page size when a client names none (Spring's default).
pub const DEFAULT_PAGE_SIZE: u32 = 20;

impl Default for PageRequest {
    fn default() -> Self {
        PageRequest {
            page: 0,
            size: DEFAULT_PAGE_SIZE,
            sort: Vec::new(),
        }
    }
}

impl PageRequest {
    /// Everything, in one page (for internal callers).
    pub fn all() -> Self {
        PageRequest {
            page: 0,
            size: u32::MAX,
            sort: Vec::new(),
        }
    }

    /// Offset of the first item.
    pub fn offset(&self) -> u64 {
        u64::from(self.page) * u64::from(self.size)
    }
}

impl SortKey {
    /// Parses a property name as clients send it. Both the flat CMF names
    /// (`name`, `created_time`) and metadata paths are accepted.
    pub fn parse(property: &str) -> Result<SortKey, Error> {
        match property {
            "name" | "metadata.name" => Ok(SortKey::Name),
            "created_time"
            | "creationTimestamp"
            | "metadata.creationTimestamp"
            | "createdAt"
            | "metadata.createdAt" => Ok(SortKey::CreationTime),
            "updated_time"
            | "updateTimestamp"
            | "metadata.updateTimestamp"
            | "modifiedAt"
            | "metadata.modifiedAt" => Ok(SortKey::UpdateTime),
            other => {
                let parts: Vec<&str> = other.split('.').collect();
                let valid_root = matches!(parts.first(), Some(&"spec") | Some(&"status"));
                let valid_segments = parts.len() >= 2
                    && parts.iter().all(|p| {
                        !p.is_empty()
                            && p.chars()
                                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
                    });
                if valid_root && valid_segments {
                    Ok(SortKey::Field(
                        parts.into_iter().map(str::to_owned).collect(),
                    ))
                } else {
                    Err(Error::BadRequest(format!(
                        "cannot sort by '{other}': sortable properties are name, created_time, \
                         updated_time, metadata.name, metadata.creationTimestamp, \
                         metadata.updateTimestamp and spec.<field> or status.<field> paths"
                    )))
                }
            }
        }
    }
}

/// One page of results plus the total count.
#[derive(Clone, Debug, PartialEq)]
pub struct Page<T> {
    /// The items on this page.
    pub items: Vec<T>,
    /// How many items match in all pages.
    pub total: u64,
}

impl<T> Page<T> {
    /// Transforms every item.
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            total: self.total,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sort_keys() {
        assert_eq!(SortKey::parse("name").unwrap(), SortKey::Name);
        assert_eq!(
            SortKey::parse("created_time").unwrap(),
            SortKey::CreationTime
        );
        assert_eq!(
            SortKey::parse("spec.job.parallelism").unwrap(),
            SortKey::Field(vec!["spec".into(), "job".into(), "parallelism".into()])
        );
        for bad in ["", "spec", "foo", "spec..x", "spec.x'y", "status.a b"] {
            assert!(SortKey::parse(bad).is_err(), "{bad}");
        }
    }
}
