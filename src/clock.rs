//! One clock for all time in kube-spread: wall-clock timestamps that follow tokio's clock, so
//! the controller and the simulated cluster agree on time, and `tokio::time::pause()` makes hours
//! of cluster time pass in seconds. Nothing else in the crate reads the system time.

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use tokio::time::Instant;

/// Wall-clock time anchored to a tokio instant.
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    origin: Instant,
    origin_wall: Timestamp,
}

impl Clock {
    /// The real time of day, advancing with tokio's clock from now on.
    pub fn system() -> Self {
        Self::starting_at(Timestamp::now())
    }

    /// A clock that reads `start` now and advances with tokio's clock (paused or not).
    pub fn starting_at(start: Timestamp) -> Self {
        Self {
            origin: Instant::now(),
            origin_wall: start,
        }
    }

    /// The current wall-clock time.
    pub fn now(&self) -> Timestamp {
        let elapsed = Instant::now().saturating_duration_since(self.origin);
        let elapsed = SignedDuration::try_from(elapsed).unwrap_or(SignedDuration::MAX);
        self.origin_wall
            .checked_add(elapsed)
            .unwrap_or(Timestamp::MAX)
    }

    /// The tokio instant for a wall-clock time (for `sleep_until`); times past the origin clamp.
    pub fn instant_at(&self, at: Timestamp) -> Instant {
        let since = at.duration_since(self.origin_wall);
        match Duration::try_from(since) {
            Ok(ahead) => self.origin + ahead,
            Err(_) => self.origin,
        }
    }

    /// Time elapsed since `origin` on this clock (zero if it lies in the future).
    pub fn since(&self, origin: Timestamp) -> Duration {
        Duration::try_from(self.now().duration_since(origin)).unwrap_or(Duration::ZERO)
    }

    /// Sleeps for `duration` of this clock's time.
    pub async fn sleep(&self, duration: Duration) {
        tokio::time::sleep(duration).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn the_clock_follows_paused_tokio_time() {
        let start: Timestamp = "2025-10-20T08:00:00Z".parse().expect("timestamp");
        let clock = Clock::starting_at(start);
        assert_eq!(clock.now(), start);
        clock.sleep(Duration::from_secs(7200)).await;
        assert_eq!(clock.now().to_string(), "2025-10-20T10:00:00Z");
        assert_eq!(clock.since(start), Duration::from_secs(7200));
        assert_eq!(
            clock.instant_at(start) + Duration::from_secs(7200),
            Instant::now()
        );
    }
}
