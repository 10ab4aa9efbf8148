//! Kubernetes-style label selectors (`app=web,tier!=db,env in (a,b),!canary`),
//! the `labelSelector` of VVP's list operations.

use crate::Error;
use std::collections::BTreeMap;

/// One requirement on an object's labels.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Requirement {
    Equals(String, String),
    NotEquals(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    Absent(String),
}

/// A parsed selector: every requirement must hold.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LabelSelector(Vec<Requirement>);

fn invalid(selector: &str, why: &str) -> Error {
    Error::invalid(
        "labelSelector",
        format!("'{selector}' is not a label selector: {why}"),
    )
}

fn check_key(selector: &str, key: &str) -> Result<String, Error> {
    let ok = !key.is_empty()
        && key.len() <= 253
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'));
    if ok {
        Ok(key.to_owned())
    } else {
        Err(invalid(selector, &format!("bad label key '{key}'")))
    }
}

fn check_value(selector: &str, value: &str) -> Result<String, Error> {
    let ok = value.len() <= 63
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(value.to_owned())
    } else {
        Err(invalid(selector, &format!("bad label value '{value}'")))
    }
}

/// Splits at commas outside parentheses.
fn terms(selector: &str) -> Result<Vec<&str>, Error> {
    let mut out = Vec::new();
    let (mut depth, mut start) = (0i32, 0usize);
    for (i, c) in selector.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(&selector[start..i]);
                start = i + 1;
            }
            _ => {}
        }
        if !(0..=1).contains(&depth) {
            return Err(invalid(selector, "unbalanced parentheses"));
        }
    }
    if depth != 0 {
        return Err(invalid(selector, "unbalanced parentheses"));
    }
    out.push(&selector[start..]);
    Ok(out)
}

fn set_term(selector: &str, term: &str, op: &str) -> Option<Result<Requirement, Error>> {
    let (key, rest) = term.split_once(op)?;
    let rest = rest.trim();
    let list = rest.strip_prefix('(')?.strip_suffix(')')?;
    Some((|| {
        let key = check_key(selector, key.trim())?;
        let values = list
            .split(',')
            .map(|v| check_value(selector, v.trim()))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(if op == " notin " {
            Requirement::NotIn(key, values)
        } else {
            Requirement::In(key, values)
        })
    })())
}

fn requirement(selector: &str, term: &str) -> Result<Requirement, Error> {
    let term = term.trim();
    if term.is_empty() {
        return Err(invalid(selector, "empty requirement"));
    }
    for op in [" notin ", " in "] {
        if let Some(r) = set_term(selector, term, op) {
            return r;
        }
    }
    if let Some((key, value)) = term.split_once("!=") {
        return Ok(Requirement::NotEquals(
            check_key(selector, key.trim())?,
            check_value(selector, value.trim())?,
        ));
    }
    if let Some((key, value)) = term.split_once("==").or_else(|| term.split_once('=')) {
        return Ok(Requirement::Equals(
            check_key(selector, key.trim())?,
            check_value(selector, value.trim())?,
        ));
    }
    match term.strip_prefix('!') {
        Some(key) => Ok(Requirement::Absent(check_key(selector, key.trim())?)),
        None => Ok(Requirement::Exists(check_key(selector, term)?)),
    }
}

impl LabelSelector {
    /// Parses a selector; an empty one selects everything.
    pub fn parse(selector: &str) -> Result<LabelSelector, Error> {
        if selector.trim().is_empty() {
            return Ok(LabelSelector::default());
        }
        terms(selector)?
            .into_iter()
            .map(|t| requirement(selector, t))
            .collect::<Result<Vec<_>, _>>()
            .map(LabelSelector)
    }

    /// Whether labels satisfy every requirement.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.0.iter().all(|r| match r {
            Requirement::Equals(k, v) => labels.get(k) == Some(v),
            Requirement::NotEquals(k, v) => labels.get(k) != Some(v),
            Requirement::In(k, vs) => labels.get(k).is_some_and(|l| vs.contains(l)),
            Requirement::NotIn(k, vs) => labels.get(k).is_none_or(|l| !vs.contains(l)),
            Requirement::Exists(k) => labels.contains_key(k),
            Requirement::Absent(k) => !labels.contains_key(k),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn every_operator_selects() {
        let web = labels(&[("app", "web"), ("env", "prod")]);
        let db = labels(&[("app", "db"), ("canary", "true")]);
        let pick = |s: &str| {
            let sel = LabelSelector::parse(s).unwrap();
            (sel.matches(&web), sel.matches(&db))
        };
        assert_eq!(pick(""), (true, true));
        assert_eq!(pick("app=web"), (true, false));
        assert_eq!(pick("app==db"), (false, true));
        assert_eq!(pick("app!=web"), (false, true));
        assert_eq!(pick("env"), (true, false));
        assert_eq!(pick("!canary"), (true, false));
        assert_eq!(pick("app in (web, api)"), (true, false));
        assert_eq!(pick("app notin (web)"), (false, true));
        assert_eq!(pick("app=web,env=prod"), (true, false));
        assert_eq!(pick("app=web,env=dev"), (false, false));
    }

    #[test]
    fn malformed_selectors_name_the_attribute() {
        for bad in ["=web", "app in (web", "a b=c", "app=we b", ","] {
            match LabelSelector::parse(bad) {
                Err(Error::Invalid { field, .. }) => assert_eq!(field, "labelSelector", "{bad}"),
                other => panic!("{bad}: {other:?}"),
            }
        }
    }
}
