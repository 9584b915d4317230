//! Warm-up caps for a new sending address: receivers judge a sender by its
//! history, so a new one starts with little mail and sends more day by day.

/// Seconds in an hour and a day of the caller's clock (Unix time, say).
const HOUR: u64 = 3600;
const DAY: u64 = 86_400;

/// A warm-up schedule: the caps of the first day and how they grow.
///
/// On day `d` (counting from 0, the day of the first send) the caps are the
/// first day's times `growth_percent / 100` to the power `d`, never more
/// than `max_daily` a day.
///
/// ```
/// use smtpwire::delivery::Warmup;
///
/// let doubling = Warmup { daily: 50, hourly: 10, growth_percent: 200, max_daily: Some(1_000) };
/// assert_eq!(doubling.daily_cap(0), 50);
/// assert_eq!(doubling.daily_cap(3), 400);
/// assert_eq!(doubling.hourly_cap(3), 80);
/// assert_eq!(doubling.daily_cap(10), 1_000);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Warmup {
    /// Messages on the first day.
    pub daily: u64,
    /// Messages in any hour of the first day.
    pub hourly: u64,
    /// Each day's caps as a percentage of the day before's: 200 doubles,
    /// 100 keeps them; less than 100 is taken as 100.
    pub growth_percent: u32,
    /// The daily cap at which the warm-up ends.
    pub max_daily: Option<u64>,
}

impl Warmup {
    /// The messages allowed on day `day` of the warm-up.
    pub fn daily_cap(&self, day: u64) -> u64 {
        let ceiling = self.max_daily.unwrap_or(u64::MAX);
        self.grow(self.daily, day, ceiling)
    }

    /// The messages allowed in any one hour of day `day`.
    pub fn hourly_cap(&self, day: u64) -> u64 {
        self.grow(self.hourly, day, self.daily_cap(day))
    }

    fn grow(&self, start: u64, days: u64, ceiling: u64) -> u64 {
        let factor = f64::from(self.growth_percent.max(100)) / 100.0;
        // Rounded down once, at the end: rounding each day would keep a
        // small cap with slow growth (10 at 105 %) from ever growing.
        let mut cap = start.min(ceiling) as f64;
        for _ in 0..days {
            // Once at the ceiling (or not growing) it stays there.
            if cap >= ceiling as f64 || factor == 1.0 {
                break;
            }
            cap *= factor;
        }
        if cap >= ceiling as f64 {
            ceiling
        } else {
            // Below the ceiling, so within u64; `as` rounds toward zero.
            cap as u64
        }
    }
}

/// How many messages went out today and this hour, since the first send:
/// what a [`Warmup`] schedule is checked against. Keep it across runs.
///
/// ```
/// use smtpwire::delivery::{SendLog, Warmup};
///
/// let schedule = Warmup { daily: 100, hourly: 30, growth_percent: 200, max_daily: None };
/// let mut log = SendLog::default();
/// let nine_am = 1_700_000_000 - 1_700_000_000 % 86_400 + 9 * 3600;
/// assert_eq!(log.allowance(&schedule, nine_am), 30);
/// log.record(nine_am, 30);
/// assert_eq!(log.allowance(&schedule, nine_am + 60), 0);
/// // The next hour has its own 30, until the day's 100 are used.
/// assert_eq!(log.allowance(&schedule, nine_am + 3600), 30);
/// // The next day, both caps have doubled.
/// assert_eq!(log.allowance(&schedule, nine_am + 86_400), 60);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SendLog {
    /// The day of the first send (seconds / 86 400), if there was one.
    pub first_day: Option<u64>,
    /// The day `sent_today` counts.
    pub day: u64,
    /// Messages sent on `day`.
    pub sent_today: u64,
    /// The hour (seconds / 3600) `sent_this_hour` counts.
    pub hour: u64,
    /// Messages sent in `hour`.
    pub sent_this_hour: u64,
}

impl SendLog {
    /// How many more messages may go out at `now` (seconds).
    pub fn allowance(&self, schedule: &Warmup, now: u64) -> u64 {
        let day = now / DAY;
        let warmup_day = day.saturating_sub(self.first_day.unwrap_or(day));
        let today = if self.day == day { self.sent_today } else { 0 };
        let hour = if self.hour == now / HOUR {
            self.sent_this_hour
        } else {
            0
        };
        let daily_left = schedule.daily_cap(warmup_day).saturating_sub(today);
        let hourly_left = schedule.hourly_cap(warmup_day).saturating_sub(hour);
        daily_left.min(hourly_left)
    }

    /// Counts `count` messages sent at `now`.
    pub fn record(&mut self, now: u64, count: u64) {
        let (day, hour) = (now / DAY, now / HOUR);
        self.first_day.get_or_insert(day);
        if self.day != day {
            self.day = day;
            self.sent_today = 0;
        }
        if self.hour != hour {
            self.hour = hour;
            self.sent_this_hour = 0;
        }
        self.sent_today = self.sent_today.saturating_add(count);
        self.sent_this_hour = self.sent_this_hour.saturating_add(count);
    }
}
