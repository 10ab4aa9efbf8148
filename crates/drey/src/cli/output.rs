//! Printing: tables for people, the server's JSON or YAML exactly for scripts.

use super::client::CliError;
use super::Format;
use comfy_table::{presets::NOTHING, Table};
use serde_json::Value;

/// A column: header and JSON pointer into each object.
pub type Column = (&'static str, &'static str);

fn cell(object: &Value, pointer: &str) -> String {
    match object.pointer(pointer) {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

fn table(rows: &[Value], columns: &[Column]) -> String {
    let mut table = Table::new();
    table.load_preset(NOTHING);
    table.set_header(columns.iter().map(|(h, _)| *h));
    for row in rows {
        table.add_row(columns.iter().map(|(_, p)| cell(row, p)));
    }
    table.to_string()
}

/// Prints any value as JSON or YAML.
pub fn print_value(format: Format, value: &Value) -> Result<(), CliError> {
    match format {
        Format::Yaml => print_yaml(value),
        _ => {
            let text =
                serde_json::to_string_pretty(value).map_err(|e| CliError::Failed(e.to_string()))?;
            println!("{text}");
            Ok(())
        }
    }
}

/// Prints a value as YAML.
pub fn print_yaml(value: &Value) -> Result<(), CliError> {
    let text = serde_yaml_ng::to_string(value).map_err(|e| CliError::Failed(e.to_string()))?;
    print!("{text}");
    Ok(())
}

/// Prints one object.
pub fn print_one(format: Format, object: &Value, columns: &[Column]) -> Result<(), CliError> {
    match format {
        Format::Table => {
            println!("{}", table(std::slice::from_ref(object), columns));
            Ok(())
        }
        other => print_value(other, object),
    }
}

/// Prints a CMF page: the rows as a table, or the page's items as JSON/YAML.
pub fn print_list(format: Format, page: &Value, columns: &[Column]) -> Result<(), CliError> {
    let items = page["items"].as_array().cloned().unwrap_or_default();
    match format {
        Format::Table if items.is_empty() => {
            eprintln!("nothing found");
            Ok(())
        }
        Format::Table => {
            println!("{}", table(&items, columns));
            Ok(())
        }
        other => print_value(other, &Value::Array(items)),
    }
}
