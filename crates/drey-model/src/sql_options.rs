//! The table options a DDL statement sets: the `WITH ('k' = 'v', ...)` of a
//! `CREATE TABLE` and the `SET ('k' = 'v', ...)` of an `ALTER TABLE`. drey
//! keeps an environment's catalog as the DDL that made it, so which tables
//! use a connector or a format (VVP's `connectors/{name}:list-tables`) is
//! read from there without a SQL session.

use std::collections::BTreeMap;

/// The options of the first top-level `WITH (...)` or `SET (...)` list of
/// `ddl`, in order; empty when it has none (or it cannot be read).
pub fn table_options(ddl: &str) -> BTreeMap<String, String> {
    let chars: Vec<char> = ddl.chars().collect();
    let mut i = 0;
    let mut depth = 0i32;
    while i < chars.len() {
        let c = chars[i];
        if let Some(end) = skip_noise(&chars, i) {
            i = end;
        } else if c == '\'' {
            i = string_literal(&chars, i).map_or(chars.len(), |(_, end)| end);
        } else if c == '(' {
            depth += 1;
            i += 1;
        } else if c == ')' {
            depth -= 1;
            i += 1;
        } else if c.is_alphanumeric() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            let keyword = word.eq_ignore_ascii_case("WITH") || word.eq_ignore_ascii_case("SET");
            if depth == 0 && keyword {
                let at = skip_all_noise(&chars, i);
                if chars.get(at) == Some(&'(') {
                    return option_list(&chars, at + 1).unwrap_or_default();
                }
            }
        } else {
            i += 1;
        }
    }
    BTreeMap::new()
}

/// Whitespace, a comment or a quoted identifier at `i`: where it ends.
fn skip_noise(chars: &[char], i: usize) -> Option<usize> {
    let c = chars[i];
    if c.is_whitespace() {
        return Some(i + 1);
    }
    if c == '-' && chars.get(i + 1) == Some(&'-') {
        let end = chars[i..].iter().position(|&c| c == '\n');
        return Some(end.map_or(chars.len(), |n| i + n + 1));
    }
    if c == '/' && chars.get(i + 1) == Some(&'*') {
        let mut j = i + 2;
        while j < chars.len() && !(chars[j] == '*' && chars.get(j + 1) == Some(&'/')) {
            j += 1;
        }
        return Some((j + 2).min(chars.len()));
    }
    if c == '`' || c == '"' {
        let mut j = i + 1;
        while j < chars.len() {
            if chars[j] == c {
                if chars.get(j + 1) == Some(&c) {
                    j += 2;
                    continue;
                }
                return Some(j + 1);
            }
            j += 1;
        }
        return Some(chars.len());
    }
    None
}

fn skip_all_noise(chars: &[char], mut i: usize) -> usize {
    while i < chars.len() {
        match skip_noise(chars, i) {
            Some(end) => i = end,
            None => break,
        }
    }
    i
}

/// The SQL string literal starting at `i` (`''` is a quote), and where it ends.
fn string_literal(chars: &[char], i: usize) -> Option<(String, usize)> {
    let mut out = String::new();
    let mut j = i + 1;
    while j < chars.len() {
        if chars[j] == '\'' {
            if chars.get(j + 1) == Some(&'\'') {
                out.push('\'');
                j += 2;
                continue;
            }
            return Some((out, j + 1));
        }
        out.push(chars[j]);
        j += 1;
    }
    None
}

/// `'k' = 'v', ... )` from just after the opening parenthesis.
fn option_list(chars: &[char], mut i: usize) -> Option<BTreeMap<String, String>> {
    let mut options = BTreeMap::new();
    loop {
        i = skip_all_noise(chars, i);
        if chars.get(i) == Some(&')') {
            return Some(options);
        }
        let (key, end) = string_literal(chars, i).filter(|_| chars.get(i) == Some(&'\''))?;
        i = skip_all_noise(chars, end);
        if chars.get(i) != Some(&'=') {
            return None;
        }
        i = skip_all_noise(chars, i + 1);
        let (value, end) = string_literal(chars, i).filter(|_| chars.get(i) == Some(&'\''))?;
        options.insert(key, value);
        i = skip_all_noise(chars, end);
        match chars.get(i) {
            Some(',') => i += 1,
            Some(')') => return Some(options),
            _ => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_with_clause_of_a_create_table() {
        let ddl = "CREATE TABLE `orders` (id BIGINT, note STRING COMMENT 'with (x)', \
                   ts AS PROCTIME()) -- with ('no' = 'no')\n \
                   WITH ('connector' = 'filesystem', 'path' = '/tmp/it''s', \
                   'format'='json')";
        let options = table_options(ddl);
        assert_eq!(options.len(), 3, "{options:?}");
        assert_eq!(options["connector"], "filesystem");
        assert_eq!(options["path"], "/tmp/it's");
        assert_eq!(options["format"], "json");
    }

    #[test]
    fn reads_the_set_of_an_alter_and_ignores_what_is_not_an_option_list() {
        let ddl = "alter table t set ('value.format' = 'csv')";
        assert_eq!(table_options(ddl)["value.format"], "csv");
        assert!(table_options("CREATE VIEW v AS WITH x AS (SELECT 1) SELECT * FROM x").is_empty());
        assert!(table_options("CREATE TABLE t (a INT)").is_empty());
        assert!(table_options("CREATE TABLE t (a INT) WITH ('connector' = ").is_empty());
        assert!(table_options("CREATE TABLE t (a INT) WITH (connector = 'x')").is_empty());
    }
}
