//! The trace header a receiving server prepends (RFC 5321 §4.4) and the
//! RFC 5322 §3.3 date in it, computed from the system clock without a date
//! library.

use std::net::{IpAddr, SocketAddr};
use std::time::{SystemTime, UNIX_EPOCH};

/// How the message came in, for the `with` clause (RFC 3848 registers the
/// `S` suffix for TLS and `A` for an authenticated client).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Via {
    /// LMTP rather than SMTP.
    pub lmtp: bool,
    /// The client said EHLO (or LHLO) rather than HELO.
    pub extended: bool,
    /// The transport was TLS.
    pub tls: bool,
    /// The client authenticated.
    pub authenticated: bool,
}

impl Via {
    /// The RFC 3848 protocol name: SMTP, ESMTP, ESMTPS, ESMTPA, ESMTPSA,
    /// LMTP, LMTPS, LMTPA or LMTPSA.
    pub fn protocol(self) -> String {
        let base = match (self.lmtp, self.extended) {
            (true, _) => "LMTP",
            (false, true) => "ESMTP",
            (false, false) => return "SMTP".to_string(),
        };
        let mut name = base.to_string();
        if self.tls {
            name.push('S');
        }
        if self.authenticated {
            name.push('A');
        }
        name
    }
}

/// What goes into one `Received:` field.
pub struct Received<'a> {
    /// The name the client gave in HELO/EHLO/LHLO.
    pub helo: &'a str,
    /// Where the client connected from.
    pub client: SocketAddr,
    /// This server's name.
    pub by: &'a str,
    /// How the message came in.
    pub via: Via,
    /// The message id this server gave it.
    pub id: &'a str,
    /// The recipient, when the copy is for exactly one (RFC 5321 §4.4 `for`).
    pub recipient: Option<&'a str>,
    /// When it arrived.
    pub time: SystemTime,
}

impl Received<'_> {
    /// The folded header field, CRLF-terminated. Every part is line-safe: the
    /// names and paths come from the session's parsed, validated values.
    pub fn to_field(&self) -> String {
        let mut field = format!(
            "Received: from {} ({})\r\n\tby {} with {} id {}",
            self.helo,
            address_literal(self.client.ip()),
            self.by,
            self.via.protocol(),
            self.id,
        );
        if let Some(recipient) = self.recipient {
            field.push_str("\r\n\tfor ");
            field.push_str(recipient);
        }
        field.push_str(";\r\n\t");
        field.push_str(&rfc5322_date(self.time));
        field.push_str("\r\n");
        field
    }
}

/// RFC 5321 §4.1.3 address literal: `[192.0.2.1]` or `[IPv6:2001:db8::1]`.
pub fn address_literal(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => format!("[{v4}]"),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => format!("[{v4}]"),
            None => format!("[IPv6:{v6}]"),
        },
    }
}

/// `Fri, 27 Nov 2026 10:54:42 +0000` (RFC 5322 §3.3), in UTC.
pub fn rfc5322_date(time: SystemTime) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let seconds = time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let days = seconds / 86_400;
    let of_day = seconds % 86_400;
    let (year, month, day) = civil_from_days(days);
    format!(
        "{}, {day} {} {year} {:02}:{:02}:{:02} +0000",
        DAYS[(days % 7) as usize],
        MONTHS[(month - 1) as usize],
        of_day / 3600,
        of_day / 60 % 60,
        of_day % 60,
    )
}

/// Year, month (1-12) and day (1-31) of a day count since 1970-01-01, by the
/// proleptic Gregorian calendar's 400-year cycle of 146 097 days.
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    // Shift the epoch to 0000-03-01 so the leap day ends each year.
    let z = days + 719_468;
    let era = z / 146_097;
    let day_of_era = z % 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    };
    let year = era * 400 + year_of_era + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn dates_match_known_instants() {
        let at = |secs| rfc5322_date(UNIX_EPOCH + Duration::from_secs(secs));
        assert_eq!(at(0), "Thu, 1 Jan 1970 00:00:00 +0000");
        assert_eq!(at(951_782_400), "Tue, 29 Feb 2000 00:00:00 +0000");
        assert_eq!(at(1_709_164_799), "Wed, 28 Feb 2024 23:59:59 +0000");
        assert_eq!(at(4_102_444_800), "Fri, 1 Jan 2100 00:00:00 +0000");
    }
}
