//! Timestamps exactly as `enrich.core.parse` reads and writes them (`normalize_timestamp`,
//! `_json_timestamp`, `_from_iso`, `_iso`), for ASCII text.
//!
//! Each function says which Python outcome it stands for: a value (`Some`), `None` (the
//! reference returns None or catches the error), or [`Raise`] (the reference raises an
//! error it does not catch: the native parser leaves such a record to Python).
//!
//! Dates are proleptic Gregorian, years 1-9999, as Python's `datetime`; the civil-date
//! arithmetic is Howard Hinnant's `days_from_civil` / `civil_from_days`.

/// The reference raises here (an error its caller does not catch).
#[derive(Debug)]
pub struct Raise;

/// Python's `str.isspace` for ASCII: what `str.strip()`, `str.split()` and `re`'s `\s`
/// (for a `str` pattern) treat as whitespace.
pub const PYSPACE: [bool; 256] = {
    let mut t = [false; 256];
    let members = b" \t\n\x0b\x0c\r\x1c\x1d\x1e\x1f";
    let mut i = 0;
    while i < members.len() {
        t[members[i] as usize] = true;
        i += 1;
    }
    t
};

/// The timestamp kinds of `include/log_formats.yaml` (`TIMESTAMP_KINDS`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Iso8601,
    Rfc3164,
    Klog,
    Logcat,
    Apache,
    ApacheError,
    Slash,
    Redis,
    Epoch,
}

impl Kind {
    pub fn from_name(name: &str) -> Option<Kind> {
        Some(match name {
            "iso8601" => Kind::Iso8601,
            "rfc3164" => Kind::Rfc3164,
            "klog" => Kind::Klog,
            "logcat" => Kind::Logcat,
            "apache" => Kind::Apache,
            "apache_error" => Kind::ApacheError,
            "slash" => Kind::Slash,
            "redis" => Kind::Redis,
            "epoch" => Kind::Epoch,
            _ => return None,
        })
    }
}

/// A valid `datetime` (year 1-9999) and its UTC offset in minutes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Civil {
    pub year: i64,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
    pub micro: u32,
    pub offset_min: i64,
}

/// `str.strip()` of an ASCII string.
pub fn py_strip(s: &str) -> &str {
    s.trim_matches(|c: char| c.is_ascii() && PYSPACE[c as usize])
}

/// `str.split()` (no separator) of an ASCII string.
pub fn py_split_ws(s: &str) -> Vec<&str> {
    s.split(|c: char| c.is_ascii() && PYSPACE[c as usize])
        .filter(|p| !p.is_empty())
        .collect()
}

/// `str.isdigit()` of an ASCII string.
pub fn is_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit())
}

/// `int(s)` of an ASCII digit string (`is_digits`): None when it does not fit an i64, a
/// case the native parser leaves to Python.
pub fn digits_to_i64(s: &str) -> Option<i64> {
    let t = s.trim_start_matches('0');
    if t.len() > 18 {
        return None;
    }
    Some(t.bytes().fold(0i64, |n, c| n * 10 + i64::from(c - b'0')))
}

fn is_leap(y: i64) -> bool {
    y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if is_leap(y) => 29,
        _ => 28,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

/// The date of a day number (days since 1970-01-01).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719468;
    let era = z.div_euclid(146097);
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// The UTC `Civil` of seconds since the epoch (and microseconds); None outside years 1-9999.
fn civil_of_seconds(secs: i64, micro: u32) -> Option<Civil> {
    let days = secs.div_euclid(86400);
    let rem = secs.rem_euclid(86400) as u32;
    let (year, month, day) = civil_from_days(days);
    if !(1..=9999).contains(&year) {
        return None;
    }
    Some(Civil {
        year,
        month,
        day,
        hour: rem / 3600,
        minute: rem / 60 % 60,
        second: rem % 60,
        micro,
        offset_min: 0,
    })
}

/// `_iso(dt)`: RFC 3339 in UTC. `Raise` where `dt.astimezone(UTC)` overflows (OverflowError).
/// The year is written as glibc's `strftime("%Y")` writes it: not padded below 1000.
pub fn iso(c: &Civil) -> Result<String, Raise> {
    let c = if c.offset_min == 0 {
        *c
    } else {
        let local = days_from_civil(c.year, c.month, c.day) * 86400
            + i64::from(c.hour * 3600 + c.minute * 60 + c.second);
        civil_of_seconds(local - c.offset_min * 60, c.micro).ok_or(Raise)?
    };
    let mut out = String::with_capacity(32);
    out.push_str(&c.year.to_string());
    for (sep, n) in [
        ('-', c.month),
        ('-', c.day),
        ('T', c.hour),
        (':', c.minute),
        (':', c.second),
    ] {
        out.push(sep);
        out.push(char::from(b'0' + (n / 10) as u8));
        out.push(char::from(b'0' + (n % 10) as u8));
    }
    if c.micro != 0 {
        // the microseconds, trailing zeros stripped, at least 3 digits
        let mut digits = [0u8; 6];
        let mut m = c.micro;
        for d in digits.iter_mut().rev() {
            *d = b'0' + (m % 10) as u8;
            m /= 10;
        }
        let keep = 6 - digits.iter().rev().take_while(|&&d| d == b'0').count();
        out.push('.');
        for &d in &digits[..keep.max(3)] {
            out.push(char::from(d));
        }
    }
    out.push('Z');
    Ok(out)
}

fn digits_at(s: &[u8], i: usize, n: usize) -> Option<u32> {
    let part = s.get(i..i + n)?;
    if !part.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(part.iter().fold(0u32, |v, &c| v * 10 + u32::from(c - b'0')))
}

/// `_from_iso(text)` of an ASCII string: `Ok(None)` where the regex does not match or
/// `datetime(...)` raises ValueError; `Err(Raise)` where `timezone(...)` raises ValueError
/// (an offset of 24 hours or more), which `_from_iso` does not catch.
pub fn from_iso(text: &str) -> Result<Option<Civil>, Raise> {
    // (\d{4})-(\d\d)-(\d\d)[T ](\d\d):(\d\d):(\d\d)(?:[,.](\d+))?\s*(Z|[+-]\d\d:?\d\d)?$
    let s = py_strip(text).as_bytes();
    let fixed = || -> Option<[u32; 6]> {
        if s.len() < 19
            || s[4] != b'-'
            || s[7] != b'-'
            || !(s[10] == b'T' || s[10] == b' ')
            || s[13] != b':'
            || s[16] != b':'
        {
            return None;
        }
        Some([
            digits_at(s, 0, 4)?,
            digits_at(s, 5, 2)?,
            digits_at(s, 8, 2)?,
            digits_at(s, 11, 2)?,
            digits_at(s, 14, 2)?,
            digits_at(s, 17, 2)?,
        ])
    };
    let Some([y, mo, d, h, mi, sec]) = fixed() else {
        return Ok(None);
    };
    let mut i = 19;
    let mut micro = 0u32;
    if i + 1 < s.len() && (s[i] == b',' || s[i] == b'.') && s[i + 1].is_ascii_digit() {
        let start = i + 1;
        i = start;
        while i < s.len() && s[i].is_ascii_digit() {
            i += 1;
        }
        let frac = &s[start..i.min(start + 6)];
        micro = frac.iter().fold(0u32, |v, &c| v * 10 + u32::from(c - b'0'));
        for _ in frac.len()..6 {
            micro *= 10;
        }
    }
    while i < s.len() && PYSPACE[s[i] as usize] {
        i += 1;
    }
    let mut offset: i64 = 0;
    if i < s.len() {
        match s[i] {
            b'Z' => i += 1,
            b'+' | b'-' => {
                let sign = if s[i] == b'+' { 1 } else { -1 };
                let Some(hh) = digits_at(s, i + 1, 2) else {
                    return Ok(None);
                };
                let mut j = i + 3;
                if s.get(j) == Some(&b':') && digits_at(s, j + 1, 2).is_some() {
                    j += 1;
                }
                let Some(mm) = digits_at(s, j, 2) else {
                    return Ok(None);
                };
                i = j + 2;
                if i != s.len() {
                    return Ok(None);
                }
                offset = sign * i64::from(hh * 60 + mm);
            }
            _ => return Ok(None),
        }
    }
    if i != s.len() {
        return Ok(None);
    }
    if offset.abs() >= 24 * 60 {
        return Err(Raise); // timezone(timedelta(minutes=...)): ValueError, not caught
    }
    let year = i64::from(y);
    if !(1..=9999).contains(&year)
        || !(1..=12).contains(&mo)
        || d < 1
        || d > days_in_month(year, mo)
        || h > 23
        || mi > 59
        || sec > 59
    {
        return Ok(None);
    }
    Ok(Some(Civil {
        year,
        month: mo,
        day: d,
        hour: h,
        minute: mi,
        second: sec,
        micro,
        offset_min: offset,
    }))
}

/// `datetime.fromtimestamp(seconds, UTC)`: None where it raises (ValueError for NaN or a
/// year outside 1-9999, OverflowError beyond time_t). Microseconds are rounded half to
/// even, as CPython's `_PyTime_DoubleToDenominator` rounds them.
pub fn from_timestamp(d: f64) -> Option<Civil> {
    if !d.is_finite() {
        return None;
    }
    let mut intpart = d.trunc();
    let mut floatpart = (d - intpart) * 1e6;
    let rounded = floatpart.round();
    floatpart = if (floatpart - rounded).abs() == 0.5 {
        2.0 * (floatpart / 2.0).round()
    } else {
        rounded
    };
    if floatpart >= 1e6 {
        floatpart -= 1e6;
        intpart += 1.0;
    } else if floatpart < 0.0 {
        floatpart += 1e6;
        intpart -= 1.0;
    }
    // years 1-9999 are well inside time_t; anything outside raises in Python
    if !(-62_135_596_800.0..=253_402_300_799.0).contains(&intpart) {
        return None;
    }
    civil_of_seconds(intpart as i64, floatpart as u32)
}

/// `_json_timestamp` of a number (int or float, as a float).
pub fn json_epoch(value: f64) -> Option<String> {
    let mut seconds = value;
    if seconds > 1e14 {
        seconds /= 1e6;
    } else if seconds > 1e11 {
        seconds /= 1e3;
    }
    // a date from fromtimestamp is in UTC already: `_iso` cannot overflow
    from_timestamp(seconds).map(|c| iso(&c).expect("a UTC datetime never overflows"))
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

fn month_number(name: &str) -> Option<usize> {
    MONTHS.iter().position(|m| *m == name).map(|i| i + 1)
}

/// `f"{int(s):02d}"` for an ASCII string; None where `int(s)` raises ValueError. (Python
/// ints are unbounded: the digits are copied, not parsed.)
fn int_02d(s: &str) -> Option<String> {
    let t = py_strip(s);
    let (negative, body) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    // digits with single underscores between them
    let b = body.as_bytes();
    if b.is_empty() || !b[0].is_ascii_digit() || !b[b.len() - 1].is_ascii_digit() {
        return None;
    }
    let mut digits = String::with_capacity(b.len());
    for (k, &c) in b.iter().enumerate() {
        if c.is_ascii_digit() {
            digits.push(c as char);
        } else if c == b'_' && b[k + 1] != b'_' {
            continue;
        } else {
            return None;
        }
    }
    let digits = digits.trim_start_matches('0');
    Some(match (negative, digits.len()) {
        (_, 0) => "00".to_owned(),
        (false, 1) => format!("0{digits}"),
        (false, _) => digits.to_owned(),
        (true, _) => format!("-{digits}"),
    })
}

/// Python's `str.split(sep, maxsplit)` into exactly `n` parts, or None (the unpacking's
/// ValueError).
fn split_exact<'a>(s: &'a str, sep: &str, maxsplit: usize, n: usize) -> Option<Vec<&'a str>> {
    let parts: Vec<&str> = s.splitn(maxsplit + 1, sep).collect();
    (parts.len() == n).then_some(parts)
}

/// `float(v)` of a plain decimal (`[+-]?(\d+(\.\d*)?|\.\d+)`); other spellings Python also
/// reads (exponents, underscores, inf, nan) are left to it.
fn plain_float(v: &str) -> Option<f64> {
    let b = v.as_bytes();
    let body = match b.first() {
        Some(b'+' | b'-') => &b[1..],
        _ => b,
    };
    let int_len = body.iter().take_while(|c| c.is_ascii_digit()).count();
    let rest = &body[int_len..];
    let ok = match rest.split_first() {
        None => int_len > 0,
        Some((b'.', frac)) => {
            frac.iter().all(u8::is_ascii_digit) && (int_len > 0 || !frac.is_empty())
        }
        _ => false,
    };
    if ok {
        v.parse::<f64>().ok()
    } else {
        None
    }
}

/// `normalize_timestamp(value, kind, year)` of an ASCII value: the RFC 3339 UTC timestamp,
/// or None; `Raise` where the reference raises (or where it reads a spelling left to it).
pub fn normalize_timestamp(
    value: &str,
    kind: Option<Kind>,
    year: Option<i64>,
) -> Result<Option<String>, Raise> {
    let v = py_strip(value);
    let civil = match read_timestamp(v, kind.unwrap_or(Kind::Iso8601), year)? {
        None => return Ok(None),
        Some(c) => c,
    };
    iso(&civil).map(Some)
}

/// `_read_timestamp` with the errors `normalize_timestamp` catches (ValueError, KeyError,
/// IndexError) as `Ok(None)`.
fn read_timestamp(v: &str, kind: Kind, year: Option<i64>) -> Result<Option<Civil>, Raise> {
    // `_from_iso` raising ValueError (the offset) is caught here
    let iso_of = |s: &str| Ok(from_iso(s).unwrap_or(None));
    let month = |name: &str| month_number(name).map(|m| format!("{m:02}"));
    match kind {
        Kind::Iso8601 => {
            if v.ends_with(" UTC") {
                iso_of(&v.replace(" UTC", "Z"))
            } else {
                iso_of(v)
            }
        }
        Kind::Slash => iso_of(&v.replacen('/', "-", 2)),
        Kind::Apache => {
            // day, mon, rest = v.split("/", 2); yr, clock = rest.split(":", 1);
            // hms, zone = clock.split(" ")
            let Some(p) = split_exact(v, "/", 2, 3) else {
                return Ok(None);
            };
            let Some(q) = split_exact(p[2], ":", 1, 2) else {
                return Ok(None);
            };
            let Some(r) = split_exact(q[1], " ", usize::MAX - 1, 2) else {
                return Ok(None);
            };
            let (Some(mm), Some(dd)) = (month(p[1]), int_02d(p[0])) else {
                return Ok(None);
            };
            iso_of(&format!("{}-{mm}-{dd}T{}{}", q[0], r[0], r[1]))
        }
        Kind::ApacheError => {
            let p = py_split_ws(v);
            if p.len() != 5 {
                return Ok(None);
            }
            let (Some(mm), Some(dd)) = (month(p[1]), int_02d(p[2])) else {
                return Ok(None);
            };
            iso_of(&format!("{}-{mm}-{dd}T{}", p[4], p[3]))
        }
        Kind::Redis => {
            let p = py_split_ws(v);
            if p.len() != 4 {
                return Ok(None);
            }
            let (Some(mm), Some(dd)) = (month(p[1]), int_02d(p[0])) else {
                return Ok(None);
            };
            iso_of(&format!("{}-{mm}-{dd}T{}", p[2], p[3]))
        }
        Kind::Epoch => {
            // float(v) then fromtimestamp: ValueError (caught) for a year outside 1-9999,
            // OverflowError / OSError (not caught) further out: all left to Python
            let seconds = plain_float(v).ok_or(Raise)?;
            from_timestamp(seconds).map(Some).ok_or(Raise)
        }
        Kind::Rfc3164 | Kind::Klog | Kind::Logcat => {
            let Some(year) = year else {
                return Ok(None);
            };
            let p = py_split_ws(v);
            match kind {
                Kind::Rfc3164 => {
                    if p.len() != 3 {
                        return Ok(None);
                    }
                    let (Some(mm), Some(dd)) = (month(p[0]), int_02d(p[1])) else {
                        return Ok(None);
                    };
                    iso_of(&format!("{year}-{mm}-{dd}T{}", p[2]))
                }
                Kind::Klog => {
                    if p.len() != 2 {
                        return Ok(None);
                    }
                    let mmdd = p[0];
                    let cut = mmdd.len().min(2);
                    iso_of(&format!(
                        "{year}-{}-{}T{}",
                        &mmdd[..cut],
                        &mmdd[cut..],
                        p[1]
                    ))
                }
                _ => {
                    if p.len() != 2 {
                        return Ok(None);
                    }
                    iso_of(&format!("{year}-{}T{}", p[0], p[1]))
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_round_trip() {
        for z in [-719162i64, -1, 0, 1, 11_000, 2_932_896] {
            let (y, m, d) = civil_from_days(z);
            assert_eq!(days_from_civil(y, m, d), z);
        }
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(days_from_civil(1, 1, 1), -719162);
    }

    #[test]
    fn iso_forms() {
        let c = from_iso("2026-11-29T10:00:00.123456789+01:30")
            .unwrap()
            .unwrap();
        assert_eq!(iso(&c).unwrap(), "2026-11-29T08:30:00.123456Z");
        let c = from_iso("2026-11-29 10:00:00,5").unwrap().unwrap();
        assert_eq!(iso(&c).unwrap(), "2026-11-29T10:00:00.500Z");
        assert!(from_iso("2026-11-31T10:00:00").unwrap().is_none());
        assert!(from_iso("2026-11-29T10:00:00+24:00").is_err());
        assert!(iso(&from_iso("0001-01-01T00:00:00+01:00").unwrap().unwrap()).is_err());
    }
}
