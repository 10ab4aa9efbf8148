//! Spring-style paging (`page`, `size`, repeated `sort=property,(asc|desc)`)
//! and the `pageable` / `metadata.size` / `items` page shape CMF returns.

use drey_model::page::{SortDirection, SortKey, SortOrder, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE};
use drey_model::{Error, PageRequest};
use serde_json::{json, Value};

/// The raw query string, decoded into pairs (keys may repeat).
#[derive(Clone, Debug, Default)]
pub struct QueryPairs(pub Vec<(String, String)>);

impl QueryPairs {
    /// Decodes a query string.
    pub fn parse(query: Option<&str>) -> Self {
        QueryPairs(
            form_urlencoded::parse(query.unwrap_or("").as_bytes())
                .into_owned()
                .collect(),
        )
    }

    /// The last value of a key.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of a key, in order.
    pub fn all<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The page request these parameters describe; bad values are a 400.
    pub fn page_request(&self) -> Result<PageRequest, Error> {
        let page = match self.get("page") {
            None => 0,
            Some(v) => v.trim().parse::<u32>().map_err(|_| {
                Error::BadRequest(format!(
                    "invalid page '{v}': must be a zero-based page index (0, 1, 2, ...)"
                ))
            })?,
        };
        let size = match self.get("size") {
            None => DEFAULT_PAGE_SIZE,
            Some(v) => match v.trim().parse::<u32>() {
                Ok(n) if (1..=MAX_PAGE_SIZE).contains(&n) => n,
                _ => {
                    return Err(Error::BadRequest(format!(
                        "invalid size '{v}': must be between 1 and {MAX_PAGE_SIZE}"
                    )))
                }
            },
        };
        let mut sort = Vec::new();
        for criterion in self.all("sort") {
            sort.extend(parse_sort(criterion)?);
        }
        Ok(PageRequest { page, size, sort })
    }
}

/// `property[,property...][,asc|desc]`.
fn parse_sort(criterion: &str) -> Result<Vec<SortOrder>, Error> {
    let mut parts: Vec<&str> = criterion.split(',').map(str::trim).collect();
    let direction = match parts.last().map(|p| p.to_ascii_lowercase()) {
        Some(d) if d == "asc" => {
            parts.pop();
            SortDirection::Asc
        }
        Some(d) if d == "desc" => {
            parts.pop();
            SortDirection::Desc
        }
        _ => SortDirection::Asc,
    };
    if parts.is_empty() || parts.iter().any(|p| p.is_empty()) {
        return Err(Error::BadRequest(format!(
            "invalid sort '{criterion}': expected property,(asc|desc)"
        )));
    }
    parts
        .into_iter()
        .map(|p| {
            Ok(SortOrder {
                key: SortKey::parse(p)?,
                direction,
            })
        })
        .collect()
}

/// The CMF page body around already-rendered items.
pub fn cmf_page(request: &PageRequest, total: u64, items: Vec<Value>) -> Value {
    let sorted = !request.sort.is_empty();
    json!({
        "pageable": {
            "page": request.page,
            "size": request.size,
            "sort": {"sorted": sorted, "unsorted": !sorted, "empty": !sorted},
        },
        "metadata": {"size": total},
        "items": items,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_spring_parameters() {
        let q = QueryPairs::parse(Some("page=2&size=5&sort=name,desc&sort=created_time"));
        let p = q.page_request().unwrap();
        assert_eq!((p.page, p.size), (2, 5));
        assert_eq!(p.sort.len(), 2);
        assert_eq!(p.sort[0].direction, SortDirection::Desc);
        assert_eq!(p.sort[1].key, SortKey::CreationTime);
    }

    #[test]
    fn refuses_bad_values() {
        for q in [
            "page=-1",
            "page=x",
            "size=0",
            "size=100000",
            "sort=,desc",
            "sort=bogus",
            "sort=name,sideways",
        ] {
            assert!(QueryPairs::parse(Some(q)).page_request().is_err(), "{q}");
        }
    }
}
