//! Durations in Flink's configuration syntax (`TimeUtils.parseDuration`):
//! an integer and an optional unit, `24h`, `30 min`, `1d`, `500` (ms), so a
//! value copied from a Flink or operator configuration means the same here.

use std::time::Duration;

/// Parses `text` as Flink does; `None` names no duration.
pub fn parse_flink_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    let digits = text.len() - text.trim_start_matches(|c: char| c.is_ascii_digit()).len();
    if digits == 0 {
        return None;
    }
    let amount: u64 = text[..digits].parse().ok()?;
    let unit = text[digits..].trim().to_lowercase();
    let nanos_per: u64 = match unit.as_str() {
        "ns" | "nano" | "nanos" | "nanosecond" | "nanoseconds" => 1,
        "µs" | "us" | "micro" | "micros" | "microsecond" | "microseconds" => 1_000,
        "" | "ms" | "milli" | "millis" | "millisecond" | "milliseconds" => 1_000_000,
        "s" | "sec" | "secs" | "second" | "seconds" => 1_000_000_000,
        "m" | "min" | "minute" | "minutes" => 60 * 1_000_000_000,
        "h" | "hour" | "hours" => 3_600 * 1_000_000_000,
        "d" | "day" | "days" => 86_400 * 1_000_000_000,
        _ => return None,
    };
    amount.checked_mul(nanos_per).map(Duration::from_nanos)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flink_duration_syntax() {
        let h = Duration::from_secs(3600);
        assert_eq!(parse_flink_duration("24h"), Some(24 * h));
        assert_eq!(
            parse_flink_duration(" 30 min "),
            Some(Duration::from_secs(1800))
        );
        assert_eq!(parse_flink_duration("1d"), Some(24 * h));
        assert_eq!(parse_flink_duration("2 Hours"), Some(2 * h));
        assert_eq!(
            parse_flink_duration("500"),
            Some(Duration::from_millis(500))
        );
        assert_eq!(parse_flink_duration("10 s"), Some(Duration::from_secs(10)));
        for bad in ["", "h", "1.5h", "-1h", "3 fortnights", "1h30m"] {
            assert_eq!(parse_flink_duration(bad), None, "{bad}");
        }
    }
}
