//! Time as a dependency: the server uses [`SystemClock`], tests a [`ManualClock`] they move.

use chrono::{DateTime, FixedOffset, NaiveDate, TimeZone, Utc};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

/// UTC microseconds since the Unix epoch: the one timestamp format stored everywhere.
pub type Micros = i64;

pub trait Clock: Send + Sync + std::fmt::Debug {
    fn now(&self) -> Micros;
}

#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Micros {
        Utc::now().timestamp_micros()
    }
}

/// A clock tests set and advance; shared, so the app under test sees the same time.
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<AtomicI64>);

impl ManualClock {
    pub fn at(micros: Micros) -> Self {
        ManualClock(Arc::new(AtomicI64::new(micros)))
    }

    pub fn set(&self, micros: Micros) {
        self.0.store(micros, Ordering::SeqCst);
    }

    pub fn advance_secs(&self, secs: i64) {
        self.0.fetch_add(secs * 1_000_000, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Micros {
        self.0.load(Ordering::SeqCst)
    }
}

/// China Standard Time: UTC+8 all year, no daylight saving.
pub fn china() -> FixedOffset {
    FixedOffset::east_opt(8 * 3600).expect("valid offset")
}

/// The local (Beijing) time of a stored timestamp.
pub fn to_local(micros: Micros) -> DateTime<FixedOffset> {
    china()
        .timestamp_micros(micros)
        .single()
        .unwrap_or_else(|| {
            china()
                .timestamp_opt(0, 0)
                .single()
                .expect("epoch is valid")
        })
}

/// The local calendar date of a stored timestamp: what "today" means in a hall.
pub fn local_date(micros: Micros) -> NaiveDate {
    to_local(micros).date_naive()
}

/// `2026-11-23 14:05` in Beijing time, as shown on pages.
pub fn format_local(micros: Micros) -> String {
    to_local(micros).format("%Y-%m-%d %H:%M").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_date_is_beijing() {
        // 2026-11-23 17:30 UTC is already 24 November in Beijing.
        let t = Utc
            .with_ymd_and_hms(2026, 11, 23, 17, 30, 0)
            .unwrap()
            .timestamp_micros();
        assert_eq!(
            local_date(t),
            NaiveDate::from_ymd_opt(2026, 11, 24).unwrap()
        );
        assert_eq!(format_local(t), "2026-11-24 01:30");
    }

    #[test]
    fn manual_clock_moves() {
        let c = ManualClock::at(0);
        c.advance_secs(2);
        assert_eq!(c.now(), 2_000_000);
    }
}
