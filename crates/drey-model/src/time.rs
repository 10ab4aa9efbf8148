//! Timestamps as every dialect shows them: RFC 3339, UTC, milliseconds
//! (`2025-03-31T11:34:01.503Z`). The fixed width makes the text sort by time.

use chrono::{DateTime, SubsecRound, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// A point in time with millisecond precision.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(DateTime<Utc>);

impl Timestamp {
    /// The current time, truncated to milliseconds.
    pub fn now() -> Self {
        Timestamp(Utc::now().trunc_subsecs(3))
    }

    /// Parses the RFC 3339 text form.
    pub fn parse(text: &str) -> Option<Self> {
        DateTime::parse_from_rfc3339(text)
            .ok()
            .map(|t| Timestamp(t.with_timezone(&Utc).trunc_subsecs(3)))
    }

    /// Milliseconds since the Unix epoch.
    pub fn millis(&self) -> i64 {
        self.0.timestamp_millis()
    }

    /// From milliseconds since the Unix epoch.
    pub fn from_millis(ms: i64) -> Option<Self> {
        DateTime::from_timestamp_millis(ms).map(Timestamp)
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.format("%Y-%m-%dT%H:%M:%S%.3fZ"))
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Timestamp::parse(&text)
            .ok_or_else(|| serde::de::Error::custom(format!("not an RFC 3339 time: {text}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_with_milliseconds_and_z() {
        let t = Timestamp::parse("2025-03-31T11:34:01.503Z").unwrap();
        assert_eq!(t.to_string(), "2025-03-31T11:34:01.503Z");
        let t = Timestamp::parse("2025-03-31T13:34:01+02:00").unwrap();
        assert_eq!(t.to_string(), "2025-03-31T11:34:01.000Z");
    }

    #[test]
    fn now_has_fixed_width() {
        assert_eq!(Timestamp::now().to_string().len(), 24);
    }
}
