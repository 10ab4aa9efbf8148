//! What drey needs to know about a SQL statement before an engine runs it:
//! its kind (CMF's `sqlKind`), whether it runs a job, which catalog object it
//! creates or drops, and how the engine's answers map onto CMF's shapes.
//! Pure text work; the engine itself is the SQL Gateway.

use serde_json::{json, Map, Value};

/// How drey runs a statement.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Execution {
    /// A query whose rows come back through `/results` (`SELECT`, `WITH`, `VALUES`).
    Query,
    /// A job that writes somewhere and runs detached (`INSERT`, `EXECUTE STATEMENT SET`,
    /// `CREATE TABLE ... AS`).
    Job,
    /// Changes the environment's catalog (`CREATE`/`DROP`/`ALTER` of tables, views,
    /// functions, databases); completes at once.
    CatalogChange(CatalogChange),
    /// Reads metadata or session state (`SHOW`, `DESCRIBE`, `EXPLAIN`, ...); completes at once.
    Metadata,
}

impl Execution {
    /// Whether the statement runs a Flink job on a compute pool.
    pub fn runs_job(&self) -> bool {
        matches!(self, Execution::Query | Execution::Job)
    }
}

/// A change to one catalog object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CatalogChange {
    /// What happens to it.
    pub action: ChangeAction,
    /// The object, fully qualified.
    pub object: SqlObjectId,
}

/// What a DDL statement does to its object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChangeAction {
    /// `CREATE [OR REPLACE]`; `if_not_exists` keeps an existing object.
    Create {
        /// `CREATE OR REPLACE`.
        replace: bool,
        /// `IF NOT EXISTS`.
        if_not_exists: bool,
    },
    /// `DROP`; with `cascade` a database takes its objects along.
    Drop {
        /// `DROP DATABASE ... CASCADE`.
        cascade: bool,
    },
    /// `ALTER`; `rename_to` when the object gets a new name.
    Alter {
        /// The new identity after `RENAME TO`.
        rename_to: Option<SqlObjectId>,
    },
}

/// A catalog object: its kind and its path (`[catalog, database, name]`,
/// `[catalog, database]` for a database, `[name]` for a temporary system function).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SqlObjectId {
    /// `table`, `view`, `function` or `database`.
    pub kind: &'static str,
    /// The qualified path.
    pub path: Vec<String>,
}

impl SqlObjectId {
    /// The stable name drey stores the object under, e.g.
    /// ``table:default_catalog.default_database.`my table` ``.
    pub fn storage_name(&self) -> String {
        let parts: Vec<String> = self.path.iter().map(|p| quote_identifier(p)).collect();
        format!("{}:{}", self.kind, parts.join("."))
    }

    /// Whether this object lives inside the database `db` (`[catalog, database]`).
    pub fn is_inside(&self, db: &SqlObjectId) -> bool {
        db.kind == "database"
            && self.kind != "database"
            && self.path.len() == 3
            && self.path[..2] == db.path[..]
    }
}

/// Quotes an identifier with backticks unless it is a plain word.
pub fn quote_identifier(part: &str) -> String {
    let plain = !part.is_empty()
        && part
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
        && !part.starts_with(|c: char| c.is_ascii_digit());
    if plain {
        part.to_owned()
    } else {
        format!("`{}`", part.replace('`', "``"))
    }
}

/// The string literals of a statement (`'...'`, `''` an escaped quote), each
/// as its byte range in `sql` (quotes included) and its text; comments and
/// backtick identifiers are skipped.
pub fn string_literals(sql: &str) -> Vec<(std::ops::Range<usize>, String)> {
    let mut out = Vec::new();
    let mut chars = sql.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            '-' if chars.peek().map(|(_, n)| *n) == Some('-') => {
                for (_, c) in chars.by_ref() {
                    if c == '\n' {
                        break;
                    }
                }
            }
            '/' if chars.peek().map(|(_, n)| *n) == Some('*') => {
                chars.next();
                let mut star = false;
                for (_, c) in chars.by_ref() {
                    if star && c == '/' {
                        break;
                    }
                    star = c == '*';
                }
            }
            '`' => {
                // `` inside an identifier is a quote of it; the scan resumes after.
                for (_, c) in chars.by_ref() {
                    if c == '`' {
                        break;
                    }
                }
            }
            '\'' => {
                let mut text = String::new();
                let mut end = sql.len();
                while let Some((j, c)) = chars.next() {
                    if c == '\'' {
                        if chars.peek().map(|(_, n)| *n) == Some('\'') {
                            chars.next();
                            text.push('\'');
                            continue;
                        }
                        end = j + 1;
                        break;
                    }
                    text.push(c);
                }
                out.push((i..end, text));
            }
            _ => {}
        }
    }
    out
}

/// A string as a SQL literal: quoted, its quotes doubled.
pub fn string_literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// The words and identifiers of a statement, comments and whitespace skipped;
/// enough to recognise a statement's head. Literals end the scan.
fn tokens(sql: &str, max: usize) -> Vec<Token> {
    let mut out = Vec::new();
    let chars: Vec<char> = sql.chars().collect();
    let mut i = 0;
    while i < chars.len() && out.len() < max {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '-' && chars.get(i + 1) == Some(&'-') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && chars.get(i + 1) == Some(&'*') {
            i += 2;
            while i < chars.len() && !(chars[i] == '*' && chars.get(i + 1) == Some(&'/')) {
                i += 1;
            }
            i += 2;
        } else if c == '`' {
            let mut word = String::new();
            i += 1;
            while i < chars.len() {
                if chars[i] == '`' {
                    if chars.get(i + 1) == Some(&'`') {
                        word.push('`');
                        i += 2;
                        continue;
                    }
                    break;
                }
                word.push(chars[i]);
                i += 1;
            }
            i += 1;
            out.push(Token::Quoted(word));
        } else if c.is_alphanumeric() || c == '_' || c == '$' {
            let start = i;
            while i < chars.len()
                && (chars[i].is_alphanumeric() || chars[i] == '_' || chars[i] == '$')
            {
                i += 1;
            }
            out.push(Token::Word(chars[start..i].iter().collect()));
        } else if c == '.' {
            out.push(Token::Dot);
            i += 1;
        } else if c == '(' {
            out.push(Token::Open);
            i += 1;
        } else {
            // A literal, an operator or the end of the head: stop here.
            break;
        }
    }
    out
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Token {
    Word(String),
    Quoted(String),
    Dot,
    Open,
}

impl Token {
    fn keyword(&self) -> Option<String> {
        match self {
            Token::Word(w) => Some(w.to_ascii_uppercase()),
            _ => None,
        }
    }
}

/// A cursor over the head of a statement.
struct Head {
    tokens: Vec<Token>,
    at: usize,
}

impl Head {
    fn new(sql: &str) -> Head {
        Head {
            tokens: tokens(sql, 64),
            at: 0,
        }
    }

    fn peek(&self) -> Option<String> {
        self.tokens.get(self.at).and_then(Token::keyword)
    }

    fn eat(&mut self, word: &str) -> bool {
        if self.peek().as_deref() == Some(word) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn eat_all(&mut self, words: &[&str]) -> bool {
        let start = self.at;
        for w in words {
            if !self.eat(w) {
                self.at = start;
                return false;
            }
        }
        true
    }

    /// A possibly qualified, possibly quoted identifier.
    fn identifier(&mut self) -> Option<Vec<String>> {
        let mut parts = Vec::new();
        loop {
            match self.tokens.get(self.at) {
                Some(Token::Word(w)) | Some(Token::Quoted(w)) => parts.push(w.clone()),
                _ => return None,
            }
            self.at += 1;
            if self.tokens.get(self.at) == Some(&Token::Dot) {
                self.at += 1;
            } else {
                return Some(parts);
            }
        }
    }
}

/// CMF's `sqlKind`: the statement's leading keywords joined by `_`
/// (`SELECT`, `INSERT_INTO`, `CREATE_TABLE`, `SHOW_TABLES`, `DESCRIBE`, ...).
pub fn sql_kind(sql: &str) -> String {
    let mut head = Head::new(sql);
    let Some(first) = head.peek() else {
        return "UNKNOWN".into();
    };
    head.at += 1;
    match first.as_str() {
        "SELECT" | "WITH" | "VALUES" => "SELECT".into(),
        "INSERT" => {
            if head.eat("OVERWRITE") {
                "INSERT_OVERWRITE".into()
            } else {
                "INSERT_INTO".into()
            }
        }
        "CREATE" | "DROP" | "ALTER" => {
            head.eat_all(&["OR", "REPLACE"]);
            head.eat("TEMPORARY");
            head.eat("SYSTEM");
            match head.peek() {
                Some(object) => format!("{first}_{object}"),
                None => first,
            }
        }
        "SHOW" => match head.peek() {
            Some(w) if w == "CREATE" => {
                head.at += 1;
                match head.peek() {
                    Some(object) => format!("SHOW_CREATE_{object}"),
                    None => "SHOW_CREATE".into(),
                }
            }
            Some(w) if w == "CURRENT" => {
                head.at += 1;
                match head.peek() {
                    Some(object) => format!("SHOW_CURRENT_{object}"),
                    None => "SHOW_CURRENT".into(),
                }
            }
            Some(w) if w == "USER" || w == "FULL" => {
                head.at += 1;
                format!("SHOW_{}", head.peek().unwrap_or_default())
            }
            Some(w) => format!("SHOW_{w}"),
            None => "SHOW".into(),
        },
        "DESC" => "DESCRIBE".into(),
        "EXECUTE" => {
            if head.eat_all(&["STATEMENT", "SET"]) {
                "EXECUTE_STATEMENT_SET".into()
            } else {
                "EXECUTE".into()
            }
        }
        "BEGIN" => "EXECUTE_STATEMENT_SET".into(),
        other => other.to_owned(),
    }
}

/// How the statement runs; `catalog` and `database` qualify unqualified names
/// (the session's current catalog and database).
pub fn classify(sql: &str, catalog: &str, database: &str) -> Execution {
    let kind = sql_kind(sql);
    match kind.as_str() {
        "SELECT" => Execution::Query,
        "INSERT_INTO" | "INSERT_OVERWRITE" | "EXECUTE_STATEMENT_SET" | "EXECUTE" => Execution::Job,
        _ if kind.starts_with("CREATE_")
            || kind.starts_with("DROP_")
            || kind.starts_with("ALTER_") =>
        {
            if is_create_as(sql) {
                return Execution::Job;
            }
            match catalog_change(sql, catalog, database) {
                Some(change) => Execution::CatalogChange(change),
                None => Execution::Metadata,
            }
        }
        _ => Execution::Metadata,
    }
}

/// `CREATE TABLE ... AS SELECT` / `REPLACE TABLE ... AS`: a table plus a job.
fn is_create_as(sql: &str) -> bool {
    let mut head = Head::new(sql);
    if !head.eat("CREATE") {
        return false;
    }
    head.eat_all(&["OR", "REPLACE"]);
    head.eat("TEMPORARY");
    if !head.eat("TABLE") {
        return false;
    }
    head.eat_all(&["IF", "NOT", "EXISTS"]);
    if head.identifier().is_none() {
        return false;
    }
    // CTAS: the name is followed by AS (or by WITH options and then AS).
    match head.tokens.get(head.at) {
        Some(Token::Word(w)) if w.eq_ignore_ascii_case("AS") => true,
        Some(Token::Word(w)) if w.eq_ignore_ascii_case("WITH") => {
            let upper = sql.to_ascii_uppercase();
            let after_with = upper.find(") AS ").or_else(|| upper.find(")\nAS"));
            after_with.is_some()
        }
        _ => false,
    }
}

fn qualify(kind: &'static str, parts: Vec<String>, catalog: &str, database: &str) -> SqlObjectId {
    let path = match (kind, parts.len()) {
        ("database", 1) => vec![catalog.to_owned(), parts[0].clone()],
        (_, 1) if kind != "database" => {
            vec![catalog.to_owned(), database.to_owned(), parts[0].clone()]
        }
        (_, 2) if kind != "database" => {
            vec![catalog.to_owned(), parts[0].clone(), parts[1].clone()]
        }
        _ => parts,
    };
    SqlObjectId { kind, path }
}

/// The catalog object a DDL statement creates, drops or alters.
pub fn catalog_change(sql: &str, catalog: &str, database: &str) -> Option<CatalogChange> {
    let mut head = Head::new(sql);
    let verb = head.peek()?;
    head.at += 1;
    let replace = head.eat_all(&["OR", "REPLACE"]);
    let temporary = head.eat("TEMPORARY");
    let system = temporary && head.eat("SYSTEM");
    let kind: &'static str = match head.peek()?.as_str() {
        "TABLE" => "table",
        "VIEW" => "view",
        "FUNCTION" => "function",
        "DATABASE" => "database",
        _ => return None,
    };
    head.at += 1;
    let if_not_exists = head.eat_all(&["IF", "NOT", "EXISTS"]);
    head.eat_all(&["IF", "EXISTS"]);
    let parts = head.identifier()?;
    let object = if system {
        SqlObjectId { kind, path: parts }
    } else {
        qualify(kind, parts, catalog, database)
    };
    let action = match verb.as_str() {
        "CREATE" => ChangeAction::Create {
            replace,
            if_not_exists,
        },
        "DROP" => ChangeAction::Drop {
            cascade: sql
                .to_ascii_uppercase()
                .trim_end()
                .trim_end_matches(';')
                .ends_with("CASCADE"),
        },
        "ALTER" => {
            let rename_to = if head.eat_all(&["RENAME", "TO"]) {
                head.identifier().map(|parts| {
                    let mut renamed = qualify(kind, parts, catalog, database);
                    // A rename keeps the catalog and database of the original.
                    if renamed.path.len() == object.path.len() && kind != "database" {
                        let n = renamed.path.len();
                        renamed.path[..n - 1].clone_from_slice(&object.path[..n - 1]);
                    }
                    renamed
                })
            } else {
                None
            };
            ChangeAction::Alter { rename_to }
        }
        _ => return None,
    };
    Some(CatalogChange { action, object })
}

/// A Flink SQL Gateway `LogicalType` (as its JSON serializer writes it) in
/// CMF's `DataType` shape.
pub fn cmf_data_type(logical: &Value) -> Value {
    let mut out = Map::new();
    let kind = logical
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("RAW")
        .to_owned();
    out.insert("type".into(), json!(kind));
    out.insert(
        "nullable".into(),
        json!(logical
            .get("nullable")
            .and_then(Value::as_bool)
            .unwrap_or(true)),
    );
    for (from, to) in [
        ("length", "length"),
        ("precision", "precision"),
        ("scale", "scale"),
        ("resolution", "resolution"),
        ("fractionalPrecision", "fractionalPrecision"),
    ] {
        if let Some(v) = logical.get(from).filter(|v| !v.is_null()) {
            out.insert(to.into(), v.clone());
        }
    }
    for key in ["elementType", "keyType", "valueType"] {
        if let Some(v) = logical.get(key).filter(|v| v.is_object()) {
            out.insert(key.into(), cmf_data_type(v));
        }
    }
    if let Some(fields) = logical.get("fields").and_then(Value::as_array) {
        let fields: Vec<Value> = fields
            .iter()
            .map(|f| {
                let mut field = json!({
                    "name": f.get("name").cloned().unwrap_or(Value::Null),
                    "fieldType": cmf_data_type(f.get("fieldType").unwrap_or(&Value::Null)),
                });
                if let Some(d) = f.get("description").filter(|d| !d.is_null()) {
                    field["description"] = d.clone();
                }
                field
            })
            .collect();
        out.insert("fields".into(), Value::Array(fields));
    }
    Value::Object(out)
}

/// What `EXPLAIN CHANGELOG_MODE` says about a query's output: whether it only
/// appends, and for an aggregation the positions of its grouping columns
/// (the columns its updates are keyed on).
pub fn changelog_traits(explain: &str) -> (bool, Option<Vec<u32>>) {
    let plan = explain
        .split("== Optimized Physical Plan ==")
        .nth(1)
        .unwrap_or(explain);
    let plan = plan.split("\n==").next().unwrap_or(plan);
    for line in plan.lines() {
        let Some(modes) = bracket_after(line, "changelogMode=[") else {
            continue;
        };
        if modes == "NONE" {
            continue; // a sink: its input carries the changelog
        }
        let append_only = modes.split(',').all(|m| m.trim() == "I");
        let upsert = if append_only {
            None
        } else {
            group_positions(line)
        };
        return (append_only, upsert);
    }
    (true, None)
}

/// The text between `prefix` and the next `]` on a line.
fn bracket_after<'a>(line: &'a str, prefix: &str) -> Option<&'a str> {
    let start = line.find(prefix)? + prefix.len();
    let rest = &line[start..];
    Some(&rest[..rest.find(']')?])
}

/// For `GroupAggregate(groupBy=[a, b], select=[a, b, COUNT(*) AS c], ...)`,
/// the positions of `a` and `b` in `select`.
fn group_positions(line: &str) -> Option<Vec<u32>> {
    let group: Vec<&str> = bracket_after(line, "groupBy=[")?
        .split(',')
        .map(str::trim)
        .collect();
    let select = bracket_after(line, "select=[")?;
    let outputs: Vec<&str> = split_top_level(select)
        .into_iter()
        .map(|s| match s.rfind(" AS ") {
            Some(i) => s[i + 4..].trim(),
            None => s.trim(),
        })
        .collect();
    group
        .iter()
        .map(|g| outputs.iter().position(|o| o == g).map(|p| p as u32))
        .collect()
}

fn split_top_level(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut depth = 0i32;
    let mut start = 0;
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

#[cfg(test)]
mod tests {

    #[test]
    fn string_literals_skip_comments_and_identifiers() {
        let sql = "CREATE FUNCTION `it''s` AS 'a.B' -- 'not this'\n\
                   USING JAR 'cmf://env/x.jar?version=2' /* 'nor this' */ , 'it''s'";
        let found: Vec<String> = string_literals(sql).into_iter().map(|(_, t)| t).collect();
        assert_eq!(found, ["a.B", "cmf://env/x.jar?version=2", "it's"]);
        let (range, _) = &string_literals(sql)[1];
        assert_eq!(&sql[range.clone()], "'cmf://env/x.jar?version=2'");
        assert_eq!(string_literal("it's"), "'it''s'");
        assert_eq!(
            string_literals("SELECT 'open"),
            [(7..12, "open".to_owned())]
        );
    }

    use super::*;

    #[test]
    fn kinds() {
        for (sql, kind) in [
            ("SELECT 1", "SELECT"),
            ("  -- note\n select * from t", "SELECT"),
            ("/* c */ WITH x AS (SELECT 1) SELECT * FROM x", "SELECT"),
            ("INSERT INTO s SELECT * FROM t", "INSERT_INTO"),
            ("insert overwrite s select 1", "INSERT_OVERWRITE"),
            ("CREATE TABLE t (a INT)", "CREATE_TABLE"),
            (
                "CREATE OR REPLACE TEMPORARY VIEW v AS SELECT 1",
                "CREATE_VIEW",
            ),
            (
                "CREATE TEMPORARY SYSTEM FUNCTION f AS 'x'",
                "CREATE_FUNCTION",
            ),
            ("DROP TABLE IF EXISTS t", "DROP_TABLE"),
            ("SHOW TABLES", "SHOW_TABLES"),
            ("SHOW CREATE TABLE t", "SHOW_CREATE_TABLE"),
            ("SHOW CURRENT CATALOG", "SHOW_CURRENT_CATALOG"),
            ("DESCRIBE t", "DESCRIBE"),
            ("desc t", "DESCRIBE"),
            ("EXPLAIN SELECT 1", "EXPLAIN"),
            (
                "EXECUTE STATEMENT SET BEGIN INSERT INTO a SELECT 1; END",
                "EXECUTE_STATEMENT_SET",
            ),
            ("", "UNKNOWN"),
        ] {
            assert_eq!(sql_kind(sql), kind, "{sql}");
        }
    }

    #[test]
    fn classification() {
        assert_eq!(classify("SELECT 1", "c", "d"), Execution::Query);
        assert_eq!(
            classify("INSERT INTO s VALUES (1)", "c", "d"),
            Execution::Job
        );
        assert_eq!(
            classify(
                "CREATE TABLE t WITH ('connector'='blackhole') AS SELECT 1",
                "c",
                "d"
            ),
            Execution::Job
        );
        assert_eq!(
            classify("CREATE TABLE t2 AS SELECT * FROM t", "c", "d"),
            Execution::Job
        );
        assert_eq!(classify("SHOW TABLES", "c", "d"), Execution::Metadata);
        assert!(matches!(
            classify(
                "CREATE TABLE t (a INT) WITH ('connector'='datagen')",
                "c",
                "d"
            ),
            Execution::CatalogChange(_)
        ));
        assert!(Execution::Query.runs_job() && !Execution::Metadata.runs_job());
    }

    #[test]
    fn catalog_changes_are_qualified() {
        let c = catalog_change(
            "CREATE TABLE IF NOT EXISTS orders (id INT) WITH ('connector'='datagen')",
            "default_catalog",
            "default_database",
        )
        .unwrap();
        assert_eq!(
            c.action,
            ChangeAction::Create {
                replace: false,
                if_not_exists: true
            }
        );
        assert_eq!(
            c.object.storage_name(),
            "table:default_catalog.default_database.orders"
        );

        let c = catalog_change("drop view `my db`.`v``1`", "cat", "db").unwrap();
        assert_eq!(c.action, ChangeAction::Drop { cascade: false });
        assert_eq!(c.object.path, vec!["cat", "my db", "v`1"]);
        assert_eq!(c.object.storage_name(), "view:cat.`my db`.`v``1`");

        let c = catalog_change("DROP DATABASE IF EXISTS d2 CASCADE;", "cat", "db").unwrap();
        assert_eq!(c.action, ChangeAction::Drop { cascade: true });
        assert_eq!(c.object.path, vec!["cat", "d2"]);
        let t = catalog_change("CREATE TABLE d2.t (a INT)", "cat", "db").unwrap();
        assert!(t.object.is_inside(&c.object));

        let c = catalog_change("ALTER TABLE t RENAME TO t2", "cat", "db").unwrap();
        assert_eq!(
            c.action,
            ChangeAction::Alter {
                rename_to: Some(SqlObjectId {
                    kind: "table",
                    path: vec!["cat".into(), "db".into(), "t2".into()]
                })
            }
        );
        let f = catalog_change("CREATE TEMPORARY SYSTEM FUNCTION f AS 'a.B'", "c", "d").unwrap();
        assert_eq!(f.object.path, vec!["f"]);
        assert!(catalog_change("SHOW TABLES", "c", "d").is_none());
    }

    #[test]
    fn data_types() {
        let t = cmf_data_type(&json!({
            "type": "ROW", "nullable": true,
            "fields": [{"name": "a", "fieldType": {"type": "VARCHAR", "nullable": false, "length": 10}}]
        }));
        assert_eq!(t["fields"][0]["fieldType"]["length"], 10);
        assert_eq!(t["fields"][0]["name"], "a");
        let t = cmf_data_type(
            &json!({"type": "ARRAY", "nullable": false, "elementType": {"type": "INTEGER", "nullable": true}}),
        );
        assert_eq!(t["elementType"]["type"], "INTEGER");
        assert_eq!(t["nullable"], false);
    }

    #[test]
    fn changelog_modes() {
        let explain = "== Abstract Syntax Tree ==\nLogicalAggregate(group=[{0}])\n\n\
            == Optimized Physical Plan ==\n\
            GroupAggregate(groupBy=[name], select=[name, COUNT(*) AS cnt], changelogMode=[I,UB,UA])\n\
            +- Exchange(distribution=[hash[name]], changelogMode=[I])\n\n\
            == Optimized Execution Plan ==\nGroupAggregate(groupBy=[name])\n";
        assert_eq!(changelog_traits(explain), (false, Some(vec![0])));
        let explain = "== Optimized Physical Plan ==\n\
            Sink(table=[default_catalog.default_database.s], fields=[a], changelogMode=[NONE])\n\
            +- Calc(select=[a], changelogMode=[I])\n";
        assert_eq!(changelog_traits(explain), (true, None));
    }
}
