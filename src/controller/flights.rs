//! Every policy's moves in flight, held to the cluster-wide [`Caps`], and the order in which
//! policies that want to move at once get them: claims made together are gathered into a round
//! and served one at a time, in a fixed order, so that which policy gets a node's last slot
//! never depends on which reconcile task ran first. It makes no move itself.

use std::{
    collections::{BTreeMap, BTreeSet},
    sync::{Mutex, MutexGuard, PoisonError},
    time::Duration,
};

use tokio::{sync::Notify, time::Instant};

use super::disruption::Caps;
use crate::api::conditions::Reason;

/// How long a round gathers claims once the first arrives. On the simulation's paused clock
/// every reconcile due at one instant has asked before the round closes (time only moves when
/// every task waits); on a cluster it catches the reconciles one change woke, which are debounced
/// together and reach their moves within milliseconds of each other.
const ROUND_OPEN: Duration = Duration::from_millis(10);

/// Every policy's moves in flight, by the node each left, checked against the [`Caps`] one
/// claim at a time.
#[derive(Debug, Default)]
pub struct Flights {
    caps: Caps,
    state: Mutex<State>,
    /// Rung whenever a turn ends or a claim leaves, so that the next in line looks again.
    turn_over: Notify,
}

#[derive(Debug, Default)]
struct State {
    /// Each policy's moves in flight, by the node each left.
    by_policy: BTreeMap<String, Vec<String>>,
    /// The round new claims join, and when it closes.
    open: Option<(u64, Instant)>,
    /// Rounds opened so far.
    rounds: u64,
    /// Claims waiting for their turn, in the order the turns come.
    waiting: BTreeSet<Claim>,
    /// Whether a claim's turn is under way.
    busy: bool,
    /// Turns granted so far, and the number of the last turn each policy was granted.
    granted: u64,
    last_granted: BTreeMap<String, u64>,
}

/// A policy's claim of a move, ordered as turns are served: earlier rounds first; within a
/// round, the policy whose last turn came longest ago (never, first), then by
/// `namespace/name` (ClusterSpreadPolicies, `/name`, before SpreadPolicies).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Claim {
    round: u64,
    last_granted: u64,
    policy: String,
}

impl State {
    /// Why a move off `from` may not start now, if a cap holds it back.
    fn refuses(&self, caps: Caps, from: &str) -> Option<Reason> {
        let all = self.by_policy.values().map(Vec::len).sum::<usize>();
        if all >= usize::from(caps.in_flight) {
            return Some(Reason::ClusterMovesCapped);
        }
        let off_node = self
            .by_policy
            .values()
            .flatten()
            .filter(|node| *node == from)
            .count();
        (off_node >= usize::from(caps.per_node)).then_some(Reason::NodeMovesCapped)
    }
}

impl Flights {
    /// No move in flight yet, under `caps`.
    pub fn new(caps: Caps) -> Self {
        Self {
            caps,
            ..Self::default()
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Records a policy's moves in flight (the nodes they left), as its last step left them.
    pub fn set(&self, policy: &str, from: Vec<String>) {
        let mut state = self.lock();
        if from.is_empty() {
            state.by_policy.remove(policy);
        } else {
            state.by_policy.insert(policy.to_owned(), from);
        }
    }

    /// Forgets the policies not in `present` (deleted ones).
    pub fn forget_except(&self, present: &BTreeSet<String>) {
        let mut state = self.lock();
        state.by_policy.retain(|policy, _| present.contains(policy));
        state
            .last_granted
            .retain(|policy, _| present.contains(policy));
    }

    /// Waits for `policy`'s turn to start a move off `from`: the claim joins the round open now
    /// (or opens one), waits for it to close, then for the claims before it to be served. In its
    /// turn, the caps are checked against the moves in flight: the [`Turn`] granted holds every
    /// other claim back until it ends; a refusal says which cap held the move back.
    pub async fn take_turn(&self, policy: &str, from: &str) -> Result<Turn<'_>, Reason> {
        let (ticket, closes) = self.claim(policy);
        tokio::time::sleep_until(closes).await;
        loop {
            let notified = {
                let mut state = self.lock();
                if !state.busy && state.waiting.first() == Some(&ticket.claim) {
                    state.waiting.remove(&ticket.claim);
                    if let Some(why) = state.refuses(self.caps, from) {
                        drop(state);
                        self.turn_over.notify_waiters();
                        return Err(why);
                    }
                    state.busy = true;
                    state.granted += 1;
                    let granted = state.granted;
                    state.last_granted.insert(policy.to_owned(), granted);
                    return Ok(Turn {
                        flights: self,
                        policy: policy.to_owned(),
                        from: from.to_owned(),
                    });
                }
                // Registered before the lock is let go, so that no ring in between is missed.
                self.turn_over.notified()
            };
            notified.await;
        }
    }

    /// Enters `policy`'s claim in the open round, or opens one; says when the round closes.
    fn claim(&self, policy: &str) -> (Ticket<'_>, Instant) {
        let now = Instant::now();
        let mut state = self.lock();
        let (round, closes) = match state.open {
            Some((round, closes)) if now < closes => (round, closes),
            _ => {
                state.rounds += 1;
                let opened = (state.rounds, now.checked_add(ROUND_OPEN).unwrap_or(now));
                state.open = Some(opened);
                opened
            }
        };
        let claim = Claim {
            round,
            last_granted: state.last_granted.get(policy).copied().unwrap_or(0),
            policy: policy.to_owned(),
        };
        state.waiting.insert(claim.clone());
        (
            Ticket {
                flights: self,
                claim,
            },
            closes,
        )
    }
}

/// A claim waiting for its turn; dropped (its reconcile cancelled, or its turn come), it
/// leaves the line, so that the claims after it are never stuck behind it.
struct Ticket<'f> {
    flights: &'f Flights,
    claim: Claim,
}

impl Drop for Ticket<'_> {
    fn drop(&mut self) {
        let left = self.flights.lock().waiting.remove(&self.claim);
        if left {
            self.flights.turn_over.notify_waiters();
        }
    }
}

/// A policy's turn to move a pod off a node: while it lasts, no other claim is served.
#[derive(Debug)]
pub struct Turn<'f> {
    flights: &'f Flights,
    policy: String,
    from: String,
}

impl Turn<'_> {
    /// The move was made: it counts against the caps until the policy's step records its
    /// moves in flight again. Ends the turn.
    pub fn took_off(self) {
        self.flights
            .lock()
            .by_policy
            .entry(self.policy.clone())
            .or_default()
            .push(self.from.clone());
    }
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        self.flights.lock().busy = false;
        self.flights.turn_over.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use std::sync::Arc;

    use super::*;

    fn caps(in_flight: u16, per_node: u16) -> Caps {
        Caps {
            in_flight,
            per_node,
        }
    }

    /// Claims `from` for each policy, started in the order given, all at one instant; says
    /// which policies got the move.
    async fn contend(flights: Arc<Flights>, claims: &[(&str, &str)]) -> Vec<String> {
        let tasks: Vec<_> = claims
            .iter()
            .map(|(policy, from)| {
                let (flights, policy, from) =
                    (Arc::clone(&flights), policy.to_string(), from.to_string());
                tokio::spawn(async move {
                    let turn = flights.take_turn(&policy, &from).await.ok()?;
                    turn.took_off();
                    Some(policy)
                })
            })
            .collect();
        let mut moved = Vec::new();
        for task in tasks {
            moved.extend(task.await.unwrap());
        }
        moved.sort();
        moved
    }

    #[tokio::test(start_paused = true)]
    async fn the_node_cap_goes_to_the_same_policy_whichever_asked_first() {
        for order in [
            ["b/spread", "a/spread", "c/spread"],
            ["c/spread", "b/spread", "a/spread"],
        ] {
            let flights = Arc::new(Flights::new(caps(3, 1)));
            let claims: Vec<_> = order.iter().map(|policy| (*policy, "n1")).collect();
            assert_eq!(contend(flights, &claims).await, ["a/spread"], "{order:?}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn the_cluster_cap_goes_to_the_first_policies_in_order() {
        let flights = Arc::new(Flights::new(caps(2, 1)));
        let claims = [("c/x", "n3"), ("b/x", "n2"), ("a/x", "n1")];
        assert_eq!(contend(flights, &claims).await, ["a/x", "b/x"]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_policy_that_moved_last_time_yields_to_one_that_did_not() {
        let flights = Arc::new(Flights::new(caps(3, 1)));
        let first = contend(Arc::clone(&flights), &[("b/x", "n1"), ("a/x", "n1")]).await;
        assert_eq!(first, ["a/x"]);
        // a's move landed; both want the node again.
        flights.set("a/x", Vec::new());
        let second = contend(Arc::clone(&flights), &[("a/x", "n1"), ("b/x", "n1")]).await;
        assert_eq!(second, ["b/x"]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_turn_given_up_without_a_move_leaves_the_cap_to_the_next() {
        let flights = Arc::new(Flights::new(caps(3, 1)));
        let giving_up = {
            let flights = Arc::clone(&flights);
            tokio::spawn(async move {
                // Its eviction was refused: the turn ends without a move.
                drop(flights.take_turn("a/x", "n1").await.unwrap());
            })
        };
        let moved = contend(Arc::clone(&flights), &[("b/x", "n1")]).await;
        giving_up.await.unwrap();
        assert_eq!(moved, ["b/x"]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_claim_dropped_while_waiting_holds_no_one_back() {
        let flights = Arc::new(Flights::new(caps(3, 1)));
        let abandoned = {
            let flights = Arc::clone(&flights);
            tokio::spawn(async move { flights.take_turn("a/x", "n1").await.is_ok() })
        };
        tokio::task::yield_now().await;
        abandoned.abort();
        let moved = contend(Arc::clone(&flights), &[("b/x", "n1")]).await;
        assert_eq!(moved, ["b/x"]);
    }

    #[tokio::test(start_paused = true)]
    async fn moves_already_in_flight_count_against_the_caps() {
        let flights = Arc::new(Flights::new(caps(3, 1)));
        flights.set("a/x", vec!["n1".to_owned()]);
        assert_eq!(
            flights.take_turn("b/x", "n1").await.err(),
            Some(Reason::NodeMovesCapped)
        );
        flights.set("c/x", vec!["n2".to_owned(), "n3".to_owned()]);
        assert_eq!(
            flights.take_turn("b/x", "n4").await.err(),
            Some(Reason::ClusterMovesCapped)
        );
    }
}
