use alloc::vec::Vec;

use crate::delivery::{SendLog, Warmup};

const DAY: u64 = 86_400;
/// Midnight UTC.
const MIDNIGHT: u64 = 1_700_000_000 - 1_700_000_000 % DAY;

fn schedule(daily: u64, hourly: u64, growth_percent: u32, max_daily: Option<u64>) -> Warmup {
    Warmup {
        daily,
        hourly,
        growth_percent,
        max_daily,
    }
}

#[test]
fn caps_grow_by_the_percentage_each_day_up_to_the_ceiling() {
    let warmup = schedule(100, 20, 150, Some(400));
    let daily: Vec<u64> = (0..6).map(|day| warmup.daily_cap(day)).collect();
    assert_eq!(daily, [100, 150, 225, 337, 400, 400]);
    let hourly: Vec<u64> = (0..3).map(|day| warmup.hourly_cap(day)).collect();
    assert_eq!(hourly, [20, 30, 45]);
}

#[test]
fn slow_growth_of_a_small_cap_is_not_lost_to_rounding() {
    let warmup = schedule(1000, 10, 105, None);
    // 10 × 1.05^10 = 16.29
    assert_eq!(warmup.hourly_cap(10), 16);
    assert_eq!(warmup.daily_cap(1), 1050);
}

#[test]
fn growth_below_one_hundred_percent_keeps_the_caps() {
    let warmup = schedule(10, 5, 50, None);
    assert_eq!(warmup.daily_cap(30), 10);
    assert_eq!(warmup.hourly_cap(30), 5);
}

#[test]
fn an_hourly_cap_above_the_daily_one_is_held_to_it() {
    let warmup = schedule(10, 50, 200, None);
    assert_eq!(warmup.hourly_cap(0), 10);
    assert_eq!(warmup.hourly_cap(2), 40);
}

#[test]
fn huge_growth_saturates_instead_of_overflowing() {
    let warmup = schedule(u64::MAX / 2, u64::MAX / 2, u32::MAX, None);
    assert_eq!(warmup.daily_cap(u64::MAX), u64::MAX);
}

#[test]
fn the_daily_cap_holds_across_hours_and_resets_the_next_day() {
    let warmup = schedule(50, 30, 200, None);
    let mut log = SendLog::default();
    log.record(MIDNIGHT + 10, 30);
    assert_eq!(log.allowance(&warmup, MIDNIGHT + 20), 0);
    assert_eq!(log.allowance(&warmup, MIDNIGHT + 3600), 20);
    log.record(MIDNIGHT + 3600, 20);
    assert_eq!(log.allowance(&warmup, MIDNIGHT + 5 * 3600), 0);
    // Day 1 of the warm-up: 100 a day, 60 an hour.
    assert_eq!(log.allowance(&warmup, MIDNIGHT + DAY), 60);
    log.record(MIDNIGHT + DAY, 60);
    assert_eq!(log.allowance(&warmup, MIDNIGHT + DAY + 3600), 40);
    assert_eq!(log.first_day, Some(MIDNIGHT / DAY));
    // Day 3 without sending on day 2: the schedule goes by the calendar.
    assert_eq!(log.allowance(&warmup, MIDNIGHT + 3 * DAY), 240);
}
