//! Fault injection for tests: per verb and resource, error answers (500, 429, 503 with
//! Retry-After) at a rate, added latency, watch streams cut after N events or a duration, and
//! forced 410 Gone. Draws come from a seeded generator, so a scenario repeats exactly; rules
//! can change while requests flow.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use super::rejection::Rejection;
use crate::sim::prng::Prng;

/// What a rule does.
#[derive(Clone, Debug, PartialEq)]
pub enum Fault {
    /// Answer with this HTTP code (500, 429 or 503) at a rate in [0, 1].
    Error {
        /// 500, 429 or 503.
        code: u16,
        /// The fraction of matching requests refused.
        rate: f64,
        /// The Retry-After seconds for 429 and 503.
        retry_after: u32,
    },
    /// Delay matching requests.
    Latency(Duration),
    /// End matching watch streams after this many events.
    CutWatchAfterEvents(usize),
    /// End matching watch streams after this much (tokio) time.
    CutWatchAfter(Duration),
    /// Answer matching watches (and lists with a resourceVersion) with 410 Gone at a rate.
    Gone {
        /// The fraction of matching requests answered 410.
        rate: f64,
    },
}

/// A fault and the requests it applies to.
#[derive(Clone, Debug, PartialEq)]
pub struct FaultRule {
    /// The verb (`get`, `list`, `watch`, `create`, ...), None for all.
    pub verb: Option<String>,
    /// The resource (`pods`, `pods/eviction`, `leases`), None for all.
    pub resource: Option<String>,
    /// What happens.
    pub fault: Fault,
}

impl FaultRule {
    /// A rule for every request.
    pub fn new(fault: Fault) -> Self {
        Self {
            verb: None,
            resource: None,
            fault,
        }
    }

    /// Refuse with `code` (500, 429, 503) at `rate`; 429 and 503 suggest a 1 s retry.
    pub fn error(code: u16, rate: f64) -> Self {
        Self::new(Fault::Error {
            code,
            rate,
            retry_after: 1,
        })
    }

    /// Only for this verb.
    #[must_use]
    pub fn on_verb(mut self, verb: &str) -> Self {
        self.verb = Some(verb.to_owned());
        self
    }

    /// Only for this resource (`pods`, `pods/eviction`).
    #[must_use]
    pub fn on_resource(mut self, resource: &str) -> Self {
        self.resource = Some(resource.to_owned());
        self
    }

    fn applies(&self, verb: &str, resource: &str) -> bool {
        self.verb.as_deref().is_none_or(|v| v == verb)
            && self.resource.as_deref().is_none_or(|r| r == resource)
    }
}

/// What the faults decided for one request.
#[derive(Clone, Debug, Default)]
pub struct Verdict {
    /// Wait this long first.
    pub latency: Duration,
    /// Answer with this instead of serving.
    pub refusal: Option<Rejection>,
    /// Answer a watch with 410 Gone.
    pub gone: bool,
    /// End a watch after this many events.
    pub cut_after_events: Option<usize>,
    /// End a watch after this long.
    pub cut_after: Option<Duration>,
}

#[derive(Debug)]
struct State {
    rules: Vec<FaultRule>,
    random: Prng,
}

/// The fault rules in force, shared by every request.
#[derive(Clone, Debug)]
pub struct Faults {
    state: Arc<Mutex<State>>,
}

impl Faults {
    /// No faults, draws from `seed`.
    pub fn new(seed: u64) -> Self {
        Self {
            state: Arc::new(Mutex::new(State {
                rules: Vec::new(),
                random: Prng::new(seed),
            })),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Replaces the rules.
    pub fn set(&self, rules: Vec<FaultRule>) {
        self.lock().rules = rules;
    }

    /// Adds a rule.
    pub fn add(&self, rule: FaultRule) {
        self.lock().rules.push(rule);
    }

    /// Removes every rule.
    pub fn clear(&self) {
        self.lock().rules.clear();
    }

    /// Restarts the draws from a seed.
    pub fn reseed(&self, seed: u64) {
        self.lock().random = Prng::new(seed);
    }

    /// Decides the faults of one request (`resource` with its subresource: `pods/eviction`).
    pub fn decide(&self, verb: &str, resource: &str) -> Verdict {
        let mut state = self.lock();
        let State { rules, random } = &mut *state;
        let mut verdict = Verdict::default();
        for rule in rules.iter().filter(|r| r.applies(verb, resource)) {
            match &rule.fault {
                Fault::Error {
                    code,
                    rate,
                    retry_after,
                } => {
                    if verdict.refusal.is_none() && random.unit() < *rate {
                        verdict.refusal = Some(match code {
                            429 => Rejection::too_many_requests(
                                "injected fault: too many requests, please try again later",
                                *retry_after,
                            ),
                            503 => Rejection::unavailable(
                                "injected fault: the server is currently unable to handle the request",
                                *retry_after,
                            ),
                            500 => Rejection::internal("injected fault"),
                            other => Rejection::failure(*other, "injected fault"),
                        });
                    }
                }
                Fault::Latency(delay) => verdict.latency += *delay,
                Fault::CutWatchAfterEvents(n) => verdict.cut_after_events = Some(*n),
                Fault::CutWatchAfter(d) => verdict.cut_after = Some(*d),
                Fault::Gone { rate } => verdict.gone |= random.unit() < *rate,
            }
        }
        verdict
    }
}
