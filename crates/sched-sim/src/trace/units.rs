//! Parsers for the value formats of Nextflow trace fields.
//!
//! Nextflow writes a trace in one of two unit modes. The default, human mode prints durations as
//! `1h 2m 3s`, `16.2s` or `500ms`, sizes as `206.9 MB` with binary multiples (1 KB = 1024 B),
//! percentages as `87.5%` and timestamps as `2021-02-17 17:03:21.800` in the local time of the
//! machine that ran Nextflow. Raw mode (`trace.raw = true`) prints whole milliseconds, whole
//! bytes, bare numbers and milliseconds since the Unix epoch instead.
//!
//! Each parser here reads one value in one mode and answers with a [`ValueProblem`] when the text
//! is not such a value; the reader turns that into an error naming file, line and column. No
//! parser panics and none uses floating point for durations or sizes: decimals are read as exact
//! integers scaled by a power of ten and rounded half up once, at the end.

use chrono::NaiveDateTime;

/// Why a field's text is not a value of the expected kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueProblem {
    /// The text does not have the expected shape (wrong unit, stray characters, empty).
    Malformed,
    /// The text is a negative number where only non-negative ones make sense.
    Negative,
    /// The text is a well-formed number too large for the field's integer type.
    Overflow,
}

/// Milliseconds per unit of Nextflow's duration suffixes.
const DURATION_UNITS: [(&str, u128); 5] =
    [("ms", 1), ("s", 1_000), ("m", 60_000), ("h", 3_600_000), ("d", 86_400_000)];

/// Nextflow's memory suffixes, each 1024 times the one before it.
const SIZE_UNITS: [&str; 8] = ["B", "KB", "MB", "GB", "TB", "PB", "EB", "ZB"];

/// Digits allowed after the decimal point; Nextflow prints at most three.
const MAX_FRACTION_DIGITS: u32 = 18;

/// An exact non-negative decimal: `mantissa / 10^scale`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Decimal {
    mantissa: u128,
    scale: u32,
}

impl Decimal {
    /// `self * factor`, rounded half up to an integer, or `None` when it does not fit.
    fn times_rounded(self, factor: u128) -> Option<u128> {
        let divisor = 10u128.checked_pow(self.scale)?;
        let product = self.mantissa.checked_mul(factor)?;
        let quotient = product / divisor;
        let remainder = product % divisor;
        // Half up: a remainder of at least half the divisor rounds away from zero.
        if remainder.checked_mul(2)? >= divisor {
            quotient.checked_add(1)
        } else {
            Some(quotient)
        }
    }
}

/// Reads a decimal number (`123`, `16.2`) at the start of `text`.
///
/// Returns the number and the rest of the text. A sign, an exponent, a leading or trailing dot
/// are all refused: Nextflow never writes them.
fn leading_decimal(text: &str) -> Result<(Decimal, &str), ValueProblem> {
    if text.strip_prefix('-').is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_digit())) {
        return Err(ValueProblem::Negative);
    }
    let int_len = text.bytes().take_while(u8::is_ascii_digit).count();
    if int_len == 0 {
        return Err(ValueProblem::Malformed);
    }
    let (int_part, rest) = text.split_at(int_len);
    let (frac_part, rest) = match rest.strip_prefix('.') {
        Some(after_dot) => {
            let frac_len = after_dot.bytes().take_while(u8::is_ascii_digit).count();
            if frac_len == 0 {
                return Err(ValueProblem::Malformed);
            }
            after_dot.split_at(frac_len)
        }
        None => ("", rest),
    };
    if frac_part.len() > MAX_FRACTION_DIGITS as usize {
        return Err(ValueProblem::Malformed);
    }
    let mut mantissa: u128 = 0;
    for digit in int_part.bytes().chain(frac_part.bytes()) {
        mantissa = mantissa
            .checked_mul(10)
            .and_then(|m| m.checked_add(u128::from(digit - b'0')))
            .ok_or(ValueProblem::Overflow)?;
    }
    // The length check above bounds the scale, so the cast is lossless.
    let scale = frac_part.len() as u32;
    Ok((Decimal { mantissa, scale }, rest))
}

/// Reads a whole number made only of ASCII digits (no sign, no spaces inside).
///
/// Surrounding whitespace is ignored. A leading `-` is reported as [`ValueProblem::Negative`]
/// and a value beyond `u64::MAX` as [`ValueProblem::Overflow`].
pub fn parse_unsigned(text: &str) -> Result<u64, ValueProblem> {
    let text = text.trim();
    if text.starts_with('-') && text.len() > 1 && text[1..].bytes().all(|b| b.is_ascii_digit()) {
        return Err(ValueProblem::Negative);
    }
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ValueProblem::Malformed);
    }
    let mut value: u64 = 0;
    for digit in text.bytes() {
        value = value
            .checked_mul(10)
            .and_then(|v| v.checked_add(u64::from(digit - b'0')))
            .ok_or(ValueProblem::Overflow)?;
    }
    Ok(value)
}

/// Reads a whole number that may carry a leading `-` (exit statuses).
pub fn parse_signed(text: &str) -> Result<i64, ValueProblem> {
    let text = text.trim();
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let magnitude = parse_unsigned(digits).map_err(|problem| match problem {
        // "--5" is malformed, not doubly negative.
        ValueProblem::Negative => ValueProblem::Malformed,
        other => other,
    })?;
    if negative {
        // i64::MIN has a magnitude one above i64::MAX.
        if magnitude == i64::MAX as u64 + 1 {
            return Ok(i64::MIN);
        }
        i64::try_from(magnitude).map(|m| -m).map_err(|_| ValueProblem::Overflow)
    } else {
        i64::try_from(magnitude).map_err(|_| ValueProblem::Overflow)
    }
}

/// Reads a human-mode duration such as `1h 2m 3s`, `16.2s`, `500ms` or `2d 3h` into milliseconds.
///
/// A duration is one or more components, each a decimal number followed by one of the suffixes
/// Nextflow prints: `ms`, `s`, `m`, `h`, `d`. Spaces between components are optional. Each
/// component is rounded half up to a whole millisecond, as Nextflow does, and the components are
/// summed. A bare number without a unit is refused: Nextflow never writes one in human mode.
pub fn parse_duration_ms(text: &str) -> Result<u64, ValueProblem> {
    let mut rest = text.trim();
    if rest.is_empty() {
        return Err(ValueProblem::Malformed);
    }
    let mut total: u128 = 0;
    while !rest.is_empty() {
        let (number, after_number) = leading_decimal(rest)?;
        let unit_len = after_number.bytes().take_while(u8::is_ascii_alphabetic).count();
        let (unit, after_unit) = after_number.split_at(unit_len);
        let per_unit = DURATION_UNITS
            .iter()
            .find(|(name, _)| *name == unit)
            .map(|(_, ms)| *ms)
            .ok_or(ValueProblem::Malformed)?;
        let component = number.times_rounded(per_unit).ok_or(ValueProblem::Overflow)?;
        total = total.checked_add(component).ok_or(ValueProblem::Overflow)?;
        rest = after_unit.trim_start();
    }
    u64::try_from(total).map_err(|_| ValueProblem::Overflow)
}

/// Reads a raw-mode duration: a whole number of milliseconds.
pub fn parse_raw_duration_ms(text: &str) -> Result<u64, ValueProblem> {
    parse_unsigned(text)
}

/// Reads a human-mode size such as `206.9 MB`, `22.9 GB`, `756.3 KB`, `12 B` or `0` into bytes.
///
/// The suffixes are Nextflow's memory units `B`, `KB`, `MB`, `GB`, `TB`, `PB`, `EB`, `ZB`, each
/// 1024 times the previous one (so `1 GB` is 2^30 bytes), matched without regard to case and
/// with or without the final `B` (`4G` is `4 GB`), as Nextflow's own parser accepts them. A bare
/// whole number is a count of bytes: Nextflow prints zero as `0`. The product is rounded half up
/// to a whole byte; since Nextflow rounds to one decimal when printing, a human-mode size is only
/// known to within half a unit of its last digit.
pub fn parse_size_bytes(text: &str) -> Result<u64, ValueProblem> {
    let text = text.trim();
    let (number, after_number) = leading_decimal(text)?;
    let unit = after_number.trim_start();
    if unit.is_empty() {
        if number.scale > 0 {
            // "1.5" bytes: a fractional count of bytes is not a size Nextflow writes.
            return Err(ValueProblem::Malformed);
        }
        return u64::try_from(number.mantissa).map_err(|_| ValueProblem::Overflow);
    }
    let upper = unit.to_ascii_uppercase();
    let power = SIZE_UNITS
        .iter()
        .position(|name| *name == upper)
        .or_else(|| SIZE_UNITS.iter().skip(1).position(|name| name[..1] == upper).map(|p| p + 1))
        .ok_or(ValueProblem::Malformed)?;
    // power < 8, so 1024^power < 2^80 fits in u128.
    let factor = 1u128 << (10 * power as u32);
    let bytes = number.times_rounded(factor).ok_or(ValueProblem::Overflow)?;
    u64::try_from(bytes).map_err(|_| ValueProblem::Overflow)
}

/// Reads a raw-mode size: a whole number of bytes.
pub fn parse_raw_size_bytes(text: &str) -> Result<u64, ValueProblem> {
    parse_unsigned(text)
}

/// Reads a percentage. In human mode the value must end in `%` (`87.5%`); in raw mode it must
/// be a bare number (`87.5`).
///
/// Percentages are kept as `f64`: they are measurements (`%cpu` is cpu time over wall time, so
/// `1577.7` means almost 16 busy cpus), not capacity, and never take part in fit arithmetic.
pub fn parse_percent(text: &str, raw: bool) -> Result<f64, ValueProblem> {
    let text = text.trim();
    let number_text =
        if raw { text } else { text.strip_suffix('%').ok_or(ValueProblem::Malformed)?.trim_end() };
    let (_, rest) = leading_decimal(number_text)?;
    if !rest.is_empty() {
        return Err(ValueProblem::Malformed);
    }
    // The text is now known to be digits with at most one dot, which `f64` parses exactly to the
    // nearest double; only absurdly long digit strings could reach infinity.
    let value: f64 = number_text.parse().map_err(|_| ValueProblem::Malformed)?;
    if value.is_finite() {
        Ok(value)
    } else {
        Err(ValueProblem::Overflow)
    }
}

/// Reads a human-mode timestamp `YYYY-MM-DD HH:MM:SS[.fff]` into milliseconds since the Unix
/// epoch, taking the wall-clock time as if it were UTC.
///
/// Nextflow prints timestamps in the local time zone of the machine that ran it and does not
/// say which zone that was, so the true instant cannot be recovered. Reading them as UTC keeps
/// every difference between two timestamps of one trace exact (daylight-saving changes during
/// a run aside), which is all a replay needs.
pub fn parse_timestamp_ms(text: &str) -> Result<i64, ValueProblem> {
    let text = text.trim();
    let parsed = NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f")
        .or_else(|_| NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S"))
        .map_err(|_| ValueProblem::Malformed)?;
    Ok(parsed.and_utc().timestamp_millis())
}

/// Reads a raw-mode timestamp: whole milliseconds since the Unix epoch.
pub fn parse_raw_timestamp_ms(text: &str) -> Result<i64, ValueProblem> {
    let value = parse_unsigned(text)?;
    i64::try_from(value).map_err(|_| ValueProblem::Overflow)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KIB: u64 = 1 << 10;
    const MIB: u64 = 1 << 20;
    const GIB: u64 = 1 << 30;
    const TIB: u64 = 1 << 40;

    #[test]
    fn durations_in_human_units() {
        let table: &[(&str, u64)] = &[
            ("0ms", 0),
            ("500ms", 500),
            ("241ms", 241),
            ("1s", 1_000),
            ("16.2s", 16_200),
            ("46.3s", 46_300),
            ("59.9s", 59_900),
            ("7m", 420_000),
            ("1m 20s", 80_000),
            ("7m 8s", 428_000),
            ("1h 2m 3s", 3_723_000),
            ("4h 12m 10s", 15_130_000),
            ("4h 4m 23s", 14_663_000),
            ("2d 3h", 183_600_000),
            ("1d", 86_400_000),
            ("1h2m", 3_720_000),
            ("  30s  ", 30_000),
            ("0.0005s", 1), // 0.5 ms rounds half up
            ("0.0004s", 0), // 0.4 ms rounds down
            ("1.5ms", 2),   // as Nextflow's Math.round does
        ];
        for (text, ms) in table {
            assert_eq!(parse_duration_ms(text), Ok(*ms), "duration `{text}`");
        }
    }

    #[test]
    fn malformed_durations_are_refused() {
        for text in ["", " ", "5", "5 x", "1h 2", "ms", "1.s", ".5s", "1e3ms", "1M", "1hr", "5s-"] {
            assert_eq!(parse_duration_ms(text), Err(ValueProblem::Malformed), "`{text}`");
        }
        assert_eq!(parse_duration_ms("-5s"), Err(ValueProblem::Negative));
        assert_eq!(parse_duration_ms("1m -5s"), Err(ValueProblem::Negative));
    }

    #[test]
    fn overflowing_durations_are_refused() {
        assert_eq!(parse_duration_ms("99999999999999999999d"), Err(ValueProblem::Overflow));
        let digits = "9".repeat(60);
        assert_eq!(parse_duration_ms(&format!("{digits}ms")), Err(ValueProblem::Overflow));
        assert_eq!(parse_raw_duration_ms("18446744073709551616"), Err(ValueProblem::Overflow));
        assert_eq!(parse_raw_duration_ms("18446744073709551615"), Ok(u64::MAX));
    }

    #[test]
    fn sizes_use_binary_units() {
        let table: &[(&str, u64)] = &[
            ("0", 0),
            ("12 B", 12),
            ("913 B", 913),
            ("1 KB", KIB),
            ("756.3 KB", 774_451), // 756.3 * 1024 = 774451.2
            ("1 MB", MIB),
            ("206.9 MB", 216_950_374), // 206.9 * 2^20 = 216950374.4
            ("14.2 MB", 14_889_779),   // 14.2 * 2^20 = 14889779.2
            ("1 GB", GIB),
            ("1.5 GB", 1_610_612_736),
            ("22.9 GB", 24_588_687_770), // 22.9 * 2^30 = 24588687769.6
            ("1.5 TB", 1_649_267_441_664),
            ("1 TB", TIB),
            ("4G", 4 * GIB),
            ("4 gb", 4 * GIB),
            ("2 PB", 2 << 50),
            ("15 EB", 15 << 60),
            ("12884901888", 12_884_901_888),
        ];
        for (text, bytes) in table {
            assert_eq!(parse_size_bytes(text), Ok(*bytes), "size `{text}`");
        }
    }

    #[test]
    fn malformed_or_overflowing_sizes_are_refused() {
        for text in ["", "MB", "1.5", "1 XB", "1 MiB", "1 MB extra", "1,5 MB", "1. MB", "- MB"] {
            assert_eq!(parse_size_bytes(text), Err(ValueProblem::Malformed), "`{text}`");
        }
        assert_eq!(parse_size_bytes("-1 MB"), Err(ValueProblem::Negative));
        assert_eq!(parse_size_bytes("16 EB"), Err(ValueProblem::Overflow));
        assert_eq!(parse_size_bytes("1 ZB"), Err(ValueProblem::Overflow));
        assert_eq!(parse_size_bytes("18446744073709551616"), Err(ValueProblem::Overflow));
        let digits = "9".repeat(50);
        assert_eq!(parse_size_bytes(&format!("{digits} GB")), Err(ValueProblem::Overflow));
    }

    #[test]
    fn percentages() {
        assert_eq!(parse_percent("87.5%", false), Ok(87.5));
        assert_eq!(parse_percent("1577.7%", false), Ok(1577.7));
        assert_eq!(parse_percent("0.0%", false), Ok(0.0));
        assert_eq!(parse_percent("44.4", true), Ok(44.4));
        assert_eq!(parse_percent("100", true), Ok(100.0));
        for text in ["87.5", "%", "x%", "1e3%", "inf%", "NaN%", ""] {
            assert_eq!(parse_percent(text, false), Err(ValueProblem::Malformed), "`{text}`");
        }
        for text in ["87.5%", "inf", "NaN", "1e3", ""] {
            assert_eq!(parse_percent(text, true), Err(ValueProblem::Malformed), "`{text}`");
        }
        assert_eq!(parse_percent("-3.0%", false), Err(ValueProblem::Negative));
        assert_eq!(parse_percent(&"9".repeat(400), true), Err(ValueProblem::Overflow));
    }

    #[test]
    fn timestamps_read_as_utc() {
        // Checked against `calendar.timegm` for the same wall-clock time.
        assert_eq!(parse_timestamp_ms("2021-02-17 17:03:21.800"), Ok(1_613_581_401_800));
        assert_eq!(parse_timestamp_ms("2022-05-13 03:02:26.406"), Ok(1_652_410_946_406));
        assert_eq!(parse_timestamp_ms("2021-02-17 17:03:21"), Ok(1_613_581_401_000));
        assert_eq!(parse_timestamp_ms("1970-01-01 00:00:00.000"), Ok(0));
        for text in ["2021-02-17", "2021-02-30 00:00:00.000", "17:03:21.800", "1613581401800"] {
            assert_eq!(parse_timestamp_ms(text), Err(ValueProblem::Malformed), "`{text}`");
        }
        assert_eq!(parse_raw_timestamp_ms("1669569904223"), Ok(1_669_569_904_223));
        assert_eq!(parse_raw_timestamp_ms("9223372036854775808"), Err(ValueProblem::Overflow));
        assert_eq!(parse_raw_timestamp_ms("-5"), Err(ValueProblem::Negative));
    }

    #[test]
    fn whole_numbers() {
        assert_eq!(parse_unsigned("0"), Ok(0));
        assert_eq!(parse_unsigned(" 42 "), Ok(42));
        assert_eq!(parse_unsigned("+5"), Err(ValueProblem::Malformed));
        assert_eq!(parse_unsigned("-5"), Err(ValueProblem::Negative));
        assert_eq!(parse_unsigned("5.0"), Err(ValueProblem::Malformed));
        assert_eq!(parse_unsigned("-"), Err(ValueProblem::Malformed));
        assert_eq!(parse_signed("-1"), Ok(-1));
        assert_eq!(parse_signed("137"), Ok(137));
        assert_eq!(parse_signed("--1"), Err(ValueProblem::Malformed));
        assert_eq!(parse_signed("-9223372036854775808"), Ok(i64::MIN));
        assert_eq!(parse_signed("-9223372036854775809"), Err(ValueProblem::Overflow));
        assert_eq!(parse_signed("9223372036854775808"), Err(ValueProblem::Overflow));
    }
}
