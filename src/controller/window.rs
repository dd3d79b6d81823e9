//! Disruption windows: whether a policy's `rebalance.windows` let a move start at an instant,
//! and until or from when. Pure: no clock reads, no I/O; the one place cron schedules and time
//! zones are read, so the controller and `plan` agree.

use croner::{
    Cron,
    errors::CronError,
    parser::{CronParser, Seconds},
};
use jiff::{SignedDuration, Timestamp, Zoned, tz::TimeZone};

use crate::{api::DisruptionWindow, planner::model::PolicySpec};

/// How many back-to-back or overlapping occurrences [`Windows::state`] follows to say when an
/// open window closes; a schedule that fires every minute would otherwise chain without end.
const MERGE_LIMIT: usize = 64;

/// Why a policy's windows cannot be read; [`InvalidWindow::field`] names the field at fault.
#[derive(Debug, thiserror::Error)]
pub enum InvalidWindow {
    /// The schedule is not a five-field cron expression croner accepts.
    #[error("{schedule:?} is not a cron schedule such as \"0 2 * * *\": {source}")]
    Schedule {
        index: usize,
        schedule: String,
        #[source]
        source: CronError,
    },
    /// The duration is zero (the CRD refuses it; a policy read without the CRD may not).
    #[error("must be longer than 0s")]
    Duration { index: usize },
    /// The time zone is not an IANA name the bundled database knows.
    #[error("{zone:?} is not an IANA time zone such as \"Europe/Berlin\": {source}")]
    TimeZone {
        index: usize,
        zone: String,
        #[source]
        source: jiff::Error,
    },
}

impl InvalidWindow {
    /// The path of the field at fault, e.g. `spec.rebalance.windows[1].schedule`.
    pub fn field(&self) -> String {
        match self {
            Self::Schedule { index, .. } => format!("spec.rebalance.windows[{index}].schedule"),
            Self::Duration { index } => format!("spec.rebalance.windows[{index}].duration"),
            Self::TimeZone { index, .. } => format!("spec.rebalance.windows[{index}].timeZone"),
        }
    }
}

/// One window, read.
#[derive(Clone, Debug)]
struct Window {
    schedule: Cron,
    duration: SignedDuration,
    zone: TimeZone,
}

/// Whether moves may start now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum State {
    /// The policy has no windows: moves may start at any time.
    Always,
    /// A window is open; it closes at `until` (as far as back-to-back windows can be followed).
    Open { until: Zoned },
    /// No window is open; the next opens at `opens` (None: no schedule fires again).
    Closed { opens: Option<Zoned> },
}

impl State {
    /// Whether a move may start.
    pub fn allows_moves(&self) -> bool {
        !matches!(self, Self::Closed { .. })
    }

    /// What a person reads when no window is open, e.g. `outside its disruption windows; next
    /// opens 2026-12-07T02:00:00+01:00`; None when moves may start.
    pub fn waiting(&self) -> Option<String> {
        match self {
            Self::Always | Self::Open { .. } => None,
            Self::Closed { opens: Some(opens) } => Some(format!(
                "outside its disruption windows; next opens {}",
                rfc3339(opens)
            )),
            Self::Closed { opens: None } => {
                Some("outside its disruption windows; no window opens again".to_owned())
            }
        }
    }
}

/// A zoned time as RFC 3339 with its offset (`2026-12-07T02:00:00+01:00`), without jiff's
/// bracketed zone name, which kubectl users and JSON readers do not expect.
pub fn rfc3339(at: &Zoned) -> String {
    at.timestamp().display_with_offset(at.offset()).to_string()
}

/// A policy's windows, read once and asked about instants.
#[derive(Clone, Debug, Default)]
pub struct Windows(Vec<Window>);

impl Windows {
    /// Reads `rebalance.windows`; the first invalid field is the error.
    pub fn parse(specs: &[DisruptionWindow]) -> Result<Self, InvalidWindow> {
        Self::read(specs.iter().map(|spec| {
            (
                spec.schedule.as_str(),
                spec.duration.get(),
                spec.time_zone.as_deref(),
            )
        }))
    }

    /// Reads the windows the planner's model carries (a policy already read, as `plan` has it).
    pub fn of(spec: &PolicySpec) -> Result<Self, InvalidWindow> {
        Self::read(spec.windows.iter().map(|window| {
            (
                window.schedule.as_str(),
                window.duration,
                window.time_zone.as_deref(),
            )
        }))
    }

    /// Reads (schedule, duration, time zone) triples, in order.
    fn read<'a>(
        specs: impl Iterator<Item = (&'a str, std::time::Duration, Option<&'a str>)>,
    ) -> Result<Self, InvalidWindow> {
        let parser = CronParser::builder().seconds(Seconds::Disallowed).build();
        specs
            .enumerate()
            .map(|(index, (text, duration, zone))| {
                let schedule = parser
                    .parse(text)
                    .map_err(|source| InvalidWindow::Schedule {
                        index,
                        schedule: text.to_owned(),
                        source,
                    })?;
                let duration = SignedDuration::try_from(duration)
                    .ok()
                    .filter(|duration| duration.is_positive())
                    .ok_or(InvalidWindow::Duration { index })?;
                let zone = match zone {
                    None => TimeZone::UTC,
                    Some(name) => {
                        TimeZone::get(name).map_err(|source| InvalidWindow::TimeZone {
                            index,
                            zone: name.to_owned(),
                            source,
                        })?
                    }
                };
                Ok(Window {
                    schedule,
                    duration,
                    zone,
                })
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Self)
    }

    /// Whether moves may start at `now`, and until or from when.
    pub fn state(&self, now: Timestamp) -> State {
        if self.0.is_empty() {
            return State::Always;
        }
        let covering = self
            .0
            .iter()
            .filter_map(|window| window.covering(now))
            .max_by_key(|(_, end)| end.timestamp());
        let Some((_, mut until)) = covering else {
            let opens = self
                .0
                .iter()
                .filter_map(|window| window.next_start(now))
                .min_by_key(Zoned::timestamp);
            return State::Closed { opens };
        };
        // A window that opens before this one closes keeps moves allowed past its end.
        let mut cursor = now;
        for _ in 0..MERGE_LIMIT {
            let next = self
                .0
                .iter()
                .filter_map(|window| {
                    let start = window.next_start(cursor)?;
                    let end = window.end(&start)?;
                    Some((start, end))
                })
                .min_by_key(|(start, _)| start.timestamp());
            let Some((start, end)) = next.filter(|(start, _)| *start <= until) else {
                break;
            };
            if end > until {
                until = end;
            }
            cursor = start.timestamp();
        }
        State::Open { until }
    }
}

impl Window {
    /// The start and end of the occurrence open at `now`, if one is.
    fn covering(&self, now: Timestamp) -> Option<(Zoned, Zoned)> {
        // Every occurrence lasts as long, so the latest start at or before now ends last.
        let start = self
            .schedule
            .find_previous_occurrence(&now.to_zoned(self.zone.clone()), true)
            .ok()?;
        let end = self.end(&start)?;
        (end.timestamp() > now).then_some((start, end))
    }

    /// The first start strictly after `after`, in the window's zone.
    fn next_start(&self, after: Timestamp) -> Option<Zoned> {
        self.schedule
            .find_next_occurrence(&after.to_zoned(self.zone.clone()), false)
            .ok()
    }

    /// When an occurrence that starts at `start` ends: its duration in elapsed time, so a
    /// 4h window is 4 hours long on the night the clocks change too.
    fn end(&self, start: &Zoned) -> Option<Zoned> {
        start.checked_add(self.duration).ok()
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::api::Duration;

    fn window(schedule: &str, duration: &str, zone: Option<&str>) -> DisruptionWindow {
        DisruptionWindow {
            schedule: schedule.to_owned(),
            duration: duration.parse().expect("duration"),
            time_zone: zone.map(str::to_owned),
        }
    }

    fn state(windows: &[DisruptionWindow], now: &str) -> State {
        Windows::parse(windows)
            .expect("valid windows")
            .state(now.parse().expect("timestamp"))
    }

    fn opens_at(state: &State) -> String {
        match state {
            State::Closed { opens: Some(at) } => rfc3339(at),
            other => format!("not closed with an opening: {other:?}"),
        }
    }

    fn open_until(state: &State) -> String {
        match state {
            State::Open { until } => rfc3339(until),
            other => format!("not open: {other:?}"),
        }
    }

    #[test]
    fn no_windows_means_moves_may_start_at_any_time() {
        let state = state(&[], "2026-12-06T12:00:00Z");
        assert_eq!(state, State::Always);
        assert!(state.allows_moves());
        assert_eq!(state.waiting(), None);
    }

    #[test]
    fn a_nightly_window_is_closed_a_minute_before_it_opens_and_open_at_its_start() {
        let nightly = [window("0 2 * * *", "4h", None)];
        let before = state(&nightly, "2026-12-07T01:59:00Z");
        assert!(!before.allows_moves());
        assert_eq!(opens_at(&before), "2026-12-07T02:00:00+00:00");
        assert_eq!(
            before.waiting().as_deref(),
            Some("outside its disruption windows; next opens 2026-12-07T02:00:00+00:00")
        );
        let at = state(&nightly, "2026-12-07T02:00:00Z");
        assert_eq!(open_until(&at), "2026-12-07T06:00:00+00:00");
        let last_second = state(&nightly, "2026-12-07T05:59:59Z");
        assert!(last_second.allows_moves());
        let closed = state(&nightly, "2026-12-07T06:00:00Z");
        assert_eq!(opens_at(&closed), "2026-12-08T02:00:00+00:00");
    }

    #[test]
    fn a_window_spanning_midnight_is_open_on_both_days() {
        let late = [window("0 22 * * *", "4h", None)];
        assert_eq!(
            open_until(&state(&late, "2026-12-06T23:30:00Z")),
            "2026-12-07T02:00:00+00:00"
        );
        assert_eq!(
            open_until(&state(&late, "2026-12-07T01:00:00Z")),
            "2026-12-07T02:00:00+00:00"
        );
        assert_eq!(
            opens_at(&state(&late, "2026-12-07T02:00:00Z")),
            "2026-12-07T22:00:00+00:00"
        );
    }

    #[test]
    fn a_schedule_is_read_in_its_time_zone() {
        let berlin = [window("0 2 * * *", "4h", Some("Europe/Berlin"))];
        // 01:30 UTC is 02:30 in Berlin in winter: open until 06:00 Berlin time.
        assert_eq!(
            open_until(&state(&berlin, "2026-12-07T01:30:00Z")),
            "2026-12-07T06:00:00+01:00"
        );
        // 00:59 UTC is 01:59 in Berlin: it opens at 02:00 Berlin time, 01:00 UTC.
        assert_eq!(
            opens_at(&state(&berlin, "2026-12-07T00:59:00Z")),
            "2026-12-07T02:00:00+01:00"
        );
    }

    #[test]
    fn a_window_whose_start_falls_in_the_spring_forward_gap_opens_right_after_it() {
        // Berlin skips 02:00-03:00 on 2026-03-29: the window opens at 03:00 CEST and lasts
        // four real hours.
        let berlin = [window("30 2 * * *", "4h", Some("Europe/Berlin"))];
        let before = state(&berlin, "2026-03-29T00:00:00Z");
        assert_eq!(opens_at(&before), "2026-03-29T03:00:00+02:00");
        assert_eq!(
            open_until(&state(&berlin, "2026-03-29T01:00:00Z")),
            "2026-03-29T07:00:00+02:00"
        );
    }

    #[test]
    fn a_window_whose_start_repeats_when_clocks_fall_back_opens_once_and_lasts_its_duration() {
        // Berlin repeats 02:00-03:00 on 2026-10-25; the window opens at the first 02:30
        // (CEST, 00:30 UTC) and stays open 2h of elapsed time, not until the second 02:30.
        let berlin = [window("30 2 * * *", "2h", Some("Europe/Berlin"))];
        assert_eq!(
            opens_at(&state(&berlin, "2026-10-25T00:00:00Z")),
            "2026-10-25T02:30:00+02:00"
        );
        assert_eq!(
            open_until(&state(&berlin, "2026-10-25T01:45:00Z")),
            "2026-10-25T03:30:00+01:00"
        );
        assert_eq!(
            opens_at(&state(&berlin, "2026-10-25T02:30:00Z")),
            "2026-10-26T02:30:00+01:00"
        );
    }

    #[test]
    fn overlapping_windows_stay_open_until_the_last_one_closes() {
        let windows = [
            window("0 2 * * *", "2h", None),
            window("0 3 * * *", "2h", None),
        ];
        assert_eq!(
            open_until(&state(&windows, "2026-12-07T02:30:00Z")),
            "2026-12-07T05:00:00+00:00"
        );
    }

    #[test]
    fn weekday_schedules_open_on_their_days_only() {
        // 2026-12-05 is a Saturday; weekdays only: next opens Monday.
        let weekdays = [window("0 9 * * MON-FRI", "8h", None)];
        assert_eq!(
            opens_at(&state(&weekdays, "2026-12-05T10:00:00Z")),
            "2026-12-07T09:00:00+00:00"
        );
    }

    #[test]
    fn an_invalid_schedule_names_its_field() {
        let error = Windows::parse(&[
            window("0 2 * * *", "4h", None),
            window("61 2 * * *", "4h", None),
        ])
        .expect_err("minute 61");
        assert_eq!(error.field(), "spec.rebalance.windows[1].schedule");
        assert!(
            error
                .to_string()
                .starts_with("\"61 2 * * *\" is not a cron schedule"),
            "{error}"
        );
    }

    #[test]
    fn a_schedule_with_seconds_is_refused() {
        let error = Windows::parse(&[window("0 0 2 * * *", "4h", None)]).expect_err("six fields");
        assert_eq!(error.field(), "spec.rebalance.windows[0].schedule");
    }

    #[test]
    fn an_unknown_time_zone_names_its_field() {
        let error = Windows::parse(&[window("0 2 * * *", "4h", Some("Mars/Olympus_Mons"))])
            .expect_err("no such zone");
        assert_eq!(error.field(), "spec.rebalance.windows[0].timeZone");
        assert!(error.to_string().contains("Mars/Olympus_Mons"), "{error}");
    }

    #[test]
    fn a_zero_duration_names_its_field() {
        let zero = DisruptionWindow {
            schedule: "0 2 * * *".to_owned(),
            duration: Duration::default(),
            time_zone: None,
        };
        let error = Windows::parse(&[zero]).expect_err("zero");
        assert_eq!(error.field(), "spec.rebalance.windows[0].duration");
    }

    #[test]
    fn a_schedule_that_never_fires_is_closed_with_no_opening() {
        let never = [window("0 0 30 2 *", "1h", None)];
        let closed = state(&never, "2026-12-06T12:00:00Z");
        assert_eq!(closed, State::Closed { opens: None });
        assert_eq!(
            closed.waiting().as_deref(),
            Some("outside its disruption windows; no window opens again")
        );
    }

    proptest! {
        #[test]
        fn arbitrary_schedules_and_zones_never_panic(
            schedule in ".{0,40}",
            zone in proptest::option::of(".{0,30}"),
            seconds in 1u64..3_000_000,
            at in 0i64..4_000_000_000,
        ) {
            let spec = DisruptionWindow {
                schedule,
                duration: Duration::from_secs(seconds),
                time_zone: zone,
            };
            if let Ok(windows) = Windows::parse(&[spec]) {
                let now = Timestamp::from_second(at).expect("in range");
                let _ = windows.state(now).waiting();
            }
        }

        #[test]
        fn cron_shaped_schedules_never_panic(
            fields in proptest::collection::vec("[0-9*/,LW#?-]{1,6}", 5),
            at in 0i64..4_000_000_000,
        ) {
            let spec = DisruptionWindow {
                schedule: fields.join(" "),
                duration: Duration::from_secs(3600),
                time_zone: Some("Europe/Berlin".to_owned()),
            };
            if let Ok(windows) = Windows::parse(&[spec]) {
                let now = Timestamp::from_second(at).expect("in range");
                let _ = windows.state(now).waiting();
            }
        }
    }
}
