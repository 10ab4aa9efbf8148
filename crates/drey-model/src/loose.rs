//! Tolerant typed reading of stored JSON. Specs keep fields drey does not
//! act on, and one dialect may write shapes another never expected, so a
//! typed view must never fail: a field of the wrong type reads as absent
//! for the reader and is written back exactly as it was.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

/// A field that is either of its type or something else, kept verbatim.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Loose<T> {
    /// The value has the expected shape.
    Typed(T),
    /// Anything else, kept so a write of the view loses nothing.
    Odd(Value),
}

impl<T> Loose<T> {
    /// The typed value, if the field has the expected shape.
    pub fn typed(&self) -> Option<&T> {
        match self {
            Loose::Typed(t) => Some(t),
            Loose::Odd(_) => None,
        }
    }
}

impl<T: DeserializeOwned> Loose<T> {
    /// A field from any JSON: typed when it has the shape, else kept as it is.
    pub fn of(value: &Value) -> Loose<T> {
        T::deserialize(value).map_or_else(|_| Loose::Odd(value.clone()), Loose::Typed)
    }
}

/// Reads an optional [`Loose`] field: the typed value, when present and well formed.
pub fn typed<T>(field: &Option<Loose<T>>) -> Option<&T> {
    field.as_ref().and_then(Loose::typed)
}

/// The typed value of a field, or its default when it was absent or odd,
/// for a writer that sets a part of it and stores it back whole.
pub fn typed_or_default<T: Clone + Default>(field: &Option<Loose<T>>) -> T {
    typed(field).cloned().unwrap_or_default()
}

/// A field of a request body: absent, or of its type; anything else is a
/// 400 naming `path` and what it `must_be`.
pub fn checked<'a, T>(
    field: &'a Option<Loose<T>>,
    path: &str,
    must_be: &str,
) -> Result<Option<&'a T>, crate::Error> {
    match field {
        None => Ok(None),
        Some(Loose::Typed(t)) => Ok(Some(t)),
        Some(Loose::Odd(v)) => Err(crate::Error::invalid(
            path,
            format!("must be {must_be}, not {v}"),
        )),
    }
}

/// Reads an optional field of a status drey wrote (`deserialize_with`):
/// the value when it has the type, absent otherwise. Statuses are drey's
/// alone, so an odd value (one an older version wrote) is not kept: the
/// next write replaces it.
pub fn lenient<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: DeserializeOwned,
{
    let value = Option::<Value>::deserialize(deserializer)?;
    Ok(value.and_then(|v| T::deserialize(v).ok()))
}

/// A typed view of `value`: its default when `value` is not of the shape
/// (types whose fields are all optional and loose read any object).
pub fn view<T: DeserializeOwned + Default>(value: &Value) -> T {
    T::deserialize(value).unwrap_or_default()
}

/// A typed value as JSON (`null` if it cannot be represented, which no
/// type of this crate allows).
pub fn to_json<T: Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Map};

    #[derive(Default, Serialize, Deserialize)]
    #[serde(default, rename_all = "camelCase")]
    struct Job {
        #[serde(skip_serializing_if = "Option::is_none")]
        parallelism: Option<Loose<u64>>,
        #[serde(flatten)]
        extra: Map<String, Value>,
    }

    #[test]
    fn odd_fields_read_as_absent_and_write_back_verbatim() {
        for given in [
            json!({"parallelism": "abc", "x": [1]}),
            json!({"parallelism": 3}),
        ] {
            let job: Job = view(&given);
            assert_eq!(
                typed(&job.parallelism).is_some(),
                given["parallelism"].is_u64()
            );
            assert_eq!(to_json(&job), given);
        }
        let job: Job = view(&json!([1]));
        assert!(job.parallelism.is_none());
    }

    #[test]
    fn an_odd_value_is_replaced_by_a_default() {
        let field: Option<Loose<Map<String, Value>>> = Some(Loose::Odd(json!(5)));
        assert!(typed_or_default(&field).is_empty());
    }
}
