//! Durations in the usual human form: `100ms`, `2s`, `1.5s`, `5m`, `1h`,
//! and sums of them such as `1m30s`.

use std::time::Duration;

/// Parses a duration: one or more `<number><unit>` parts, the number an
/// integer or a decimal, the unit one of `ms`, `s`, `m` or `h`.
///
/// `parse("100ms")` is 100 milliseconds and `parse("1m30s")` 90 seconds;
/// a number without a unit is refused, so `500` cannot be misread.
pub(crate) fn parse(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("empty duration (expected e.g. 100ms, 2s, 5m)".into());
    }
    let mut total = Duration::ZERO;
    let mut rest = text;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (number, after) = rest.split_at(number_len);
        let unit_len = after
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(after.len());
        let (unit, after) = after.split_at(unit_len);
        let value: f64 = number
            .parse()
            .map_err(|_| format!("invalid duration {text:?}: {number:?} is not a number"))?;
        let seconds_per_unit = match unit {
            "ms" => 0.001,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            "" => {
                return Err(format!(
                    "invalid duration {text:?}: missing unit (ms, s, m or h)"
                ));
            }
            other => {
                return Err(format!(
                    "invalid duration {text:?}: unknown unit {other:?} (ms, s, m or h)"
                ));
            }
        };
        let part = Duration::try_from_secs_f64(value * seconds_per_unit)
            .map_err(|_| format!("invalid duration {text:?}: out of range"))?;
        total = total
            .checked_add(part)
            .ok_or_else(|| format!("invalid duration {text:?}: out of range"))?;
        rest = after;
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_each_unit() {
        assert_eq!(parse("100ms"), Ok(Duration::from_millis(100)));
        assert_eq!(parse("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse("0s"), Ok(Duration::ZERO));
    }

    #[test]
    fn parses_decimals_and_sums() {
        assert_eq!(parse("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse("1s250ms"), Ok(Duration::from_millis(1250)));
        assert_eq!(parse(" 2s "), Ok(Duration::from_secs(2)));
    }

    #[test]
    fn refuses_what_it_cannot_read() {
        for bad in [
            "",
            "500",
            "ms",
            "2x",
            "1.2.3s",
            "-1s",
            "s2",
            "1e400h",
            "99999999999999999999h",
        ] {
            assert!(parse(bad).is_err(), "{bad:?} was accepted");
        }
        assert_eq!(
            parse("2 s").unwrap_err(),
            "invalid duration \"2 s\": unknown unit \" s\" (ms, s, m or h)"
        );
    }
}
