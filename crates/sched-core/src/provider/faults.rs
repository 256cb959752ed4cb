//! A failure-injecting wrapper around any [`Provider`].
//!
//! [`FaultyProvider`] passes every call through to the provider it wraps and,
//! with the probabilities of a [`FaultConfig`], makes it go wrong the ways a
//! real cloud does:
//!
//! - refused launches (capacity), throttling, transient backend errors: the
//!   call fails and the wrapped provider never sees it;
//! - lost responses: the call reaches the wrapped provider and succeeds, but
//!   the caller gets an error, so it must retry an idempotent call;
//! - events delivered late (held back for a few polls), twice, or out of
//!   order within a poll;
//! - instances that never become ready (their ready report is swallowed);
//! - spot reclaim storms: several live spot instances terminated at once and
//!   reported as reclaimed.
//!
//! The wrapper is pure: it reads no clock. "Late" means held back for some
//! polls of [`Provider::events`]. Its random draws come from one seeded
//! stream, so a run under faults is reproducible. It counts what it injected
//! by [`FaultKind`]. Injections are logged at debug level: they are the
//! experiment, not a fallback, and the counts say how many there were.
//!
//! A poll of [`Provider::events`] may fail with throttling or a transient
//! error, but it then leaves the wrapped provider's events in place: a lost
//! poll answer would lose events for good, which no real event stream with
//! acknowledgements does.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;
use serde::Serialize;
use tracing::debug;

use super::{Provider, ProviderError};
use crate::catalog::OfferingId;
use crate::engine::Event;
use crate::problem::{InstanceId, TaskId};
use crate::resources::Resources;

/// One kind of injected fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// A launch refused for capacity.
    RefusedLaunch,
    /// A call refused by a rate limit.
    Throttled,
    /// A call failed by a transient backend error.
    Transient,
    /// A call that succeeded but whose answer was lost.
    LostResponse,
    /// An event held back for some polls.
    Late,
    /// An event delivered twice.
    Duplicate,
    /// A poll's events delivered out of order.
    Reordered,
    /// An instance whose ready report never comes.
    NeverReady,
    /// A burst of spot instances reclaimed at once.
    ReclaimStorm,
}

impl FaultKind {
    /// Every kind, in declaration order.
    pub const ALL: [FaultKind; 9] = [
        FaultKind::RefusedLaunch,
        FaultKind::Throttled,
        FaultKind::Transient,
        FaultKind::LostResponse,
        FaultKind::Late,
        FaultKind::Duplicate,
        FaultKind::Reordered,
        FaultKind::NeverReady,
        FaultKind::ReclaimStorm,
    ];

    /// The kind's name, as in reports.
    pub fn name(self) -> &'static str {
        match self {
            FaultKind::RefusedLaunch => "refused_launch",
            FaultKind::Throttled => "throttled",
            FaultKind::Transient => "transient",
            FaultKind::LostResponse => "lost_response",
            FaultKind::Late => "late",
            FaultKind::Duplicate => "duplicate",
            FaultKind::Reordered => "reordered",
            FaultKind::NeverReady => "never_ready",
            FaultKind::ReclaimStorm => "reclaim_storm",
        }
    }
}

impl fmt::Display for FaultKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How often each fault happens, and the seed of the draws.
///
/// Each rate is a probability in `0..=1` per opportunity: per call for the
/// call faults, per launch for [`FaultKind::NeverReady`], per event for
/// late and duplicate delivery, per poll for reordering and storms.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct FaultConfig {
    /// Seed of the random stream.
    pub seed: u64,
    /// Probability per kind; a kind not present never happens.
    pub rates: BTreeMap<FaultKind, f64>,
    /// A late event is held back for 1 to this many polls.
    pub max_late_polls: u32,
    /// A storm reclaims up to this many spot instances.
    pub storm_size: usize,
    /// The offerings that are spot capacity: only their instances are reclaimed.
    pub spot_offerings: BTreeSet<OfferingId>,
}

impl FaultConfig {
    /// No fault at all.
    pub fn none(seed: u64) -> Self {
        FaultConfig {
            seed,
            rates: BTreeMap::new(),
            max_late_polls: 3,
            storm_size: 4,
            spot_offerings: BTreeSet::new(),
        }
    }

    /// Only `kind`, at `rate`.
    pub fn only(kind: FaultKind, rate: f64, seed: u64) -> Self {
        FaultConfig::none(seed).with_rate(kind, rate)
    }

    /// Every kind at `rate`, with two adjustments: the call faults share
    /// it (a call fails with probability `rate` in all: a launch's share is
    /// split four ways, any other call's three ways), and a reclaim storm,
    /// which takes several instances at once, strikes a poll at a tenth of
    /// `rate` ([`MIXED_STORM_SHARE`]).
    pub fn mixed(rate: f64, seed: u64) -> Self {
        let mut config = FaultConfig::none(seed);
        for kind in FaultKind::ALL {
            let share = if kind == FaultKind::ReclaimStorm { MIXED_STORM_SHARE } else { 1.0 };
            config = config.with_rate(kind, rate * share);
        }
        config
    }

    /// The same configuration with `kind` at `rate` (clamped to `0..=1`; NaN is 0).
    pub fn with_rate(mut self, kind: FaultKind, rate: f64) -> Self {
        let rate = if rate.is_nan() { 0.0 } else { rate.clamp(0.0, 1.0) };
        self.rates.insert(kind, rate);
        self
    }

    /// The same configuration knowing which offerings are spot.
    pub fn with_spot_offerings(mut self, spot: impl IntoIterator<Item = OfferingId>) -> Self {
        self.spot_offerings = spot.into_iter().collect();
        self
    }

    fn rate(&self, kind: FaultKind) -> f64 {
        self.rates.get(&kind).copied().unwrap_or(0.0)
    }
}

/// The share of the mixed rate a reclaim storm strikes a poll with: polls
/// come every few seconds of virtual time, and a storm at the full rate would
/// take most spot capacity every minute, which no spot market does.
pub const MIXED_STORM_SHARE: f64 = 0.1;

/// How many faults of each kind were injected.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FaultCounts {
    /// Count per kind; kinds never injected are absent.
    pub by_kind: BTreeMap<FaultKind, u64>,
}

impl FaultCounts {
    /// Faults of every kind.
    pub fn total(&self) -> u64 {
        self.by_kind.values().sum()
    }

    /// Faults of `kind`.
    pub fn of(&self, kind: FaultKind) -> u64 {
        self.by_kind.get(&kind).copied().unwrap_or(0)
    }

    fn add(&mut self, kind: FaultKind) {
        *self.by_kind.entry(kind).or_default() += 1;
    }
}

/// SplitMix64: a tiny, well-known generator; enough for fault draws and
/// keeps the core free of a random-number dependency.
#[derive(Debug, Clone)]
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`.
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in `0..n`; `n` must be positive.
    fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}

#[derive(Debug)]
struct State {
    rng: SplitMix64,
    counts: FaultCounts,
    /// Events held back, with the polls left before delivery.
    held: Vec<(u32, Event)>,
    /// Instances whose ready report is swallowed.
    never_ready: BTreeSet<InstanceId>,
    /// Launched spot instances not terminated through this wrapper.
    live_spot: BTreeSet<InstanceId>,
    /// Instances a storm terminated: their terminated report becomes a reclaim.
    stormed: BTreeSet<InstanceId>,
}

/// A [`Provider`] that injects faults into the one it wraps.
#[derive(Debug)]
pub struct FaultyProvider<P> {
    inner: P,
    config: FaultConfig,
    state: Mutex<State>,
}

/// Which calls a fault can hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Call {
    Launch,
    Other,
}

impl<P: Provider> FaultyProvider<P> {
    /// Wraps `inner`, injecting faults as `config` says.
    pub fn new(inner: P, config: FaultConfig) -> Self {
        let state = State {
            rng: SplitMix64(config.seed ^ 0x5EED_FA17_0000_0001),
            counts: FaultCounts::default(),
            held: Vec::new(),
            never_ready: BTreeSet::new(),
            live_spot: BTreeSet::new(),
            stormed: BTreeSet::new(),
        };
        FaultyProvider { inner, config, state: Mutex::new(state) }
    }

    /// The wrapped provider.
    pub fn inner(&self) -> &P {
        &self.inner
    }

    /// The configuration in force.
    pub fn config(&self) -> &FaultConfig {
        &self.config
    }

    /// What was injected so far.
    pub fn counts(&self) -> FaultCounts {
        self.state().counts.clone()
    }

    /// Events held back, waiting for a later poll.
    pub fn held_events(&self) -> usize {
        self.state().held.len()
    }

    /// Instances whose ready report this wrapper swallows.
    pub fn never_ready(&self) -> BTreeSet<InstanceId> {
        self.state().never_ready.clone()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // The state stays consistent between statements, so a poisoned lock is usable.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Draws whether a fault of `kind` happens now, counting it if it does.
    fn strikes(&self, kind: FaultKind, share: f64) -> bool {
        let rate = self.config.rate(kind) * share;
        if rate <= 0.0 {
            return false;
        }
        let mut state = self.state();
        let hit = state.rng.unit() < rate;
        if hit {
            state.counts.add(kind);
        }
        hit
    }

    /// The fault that refuses a call before it reaches the wrapped provider, if any.
    fn refusal(&self, call: Call, what: &str) -> Option<ProviderError> {
        let share = if call == Call::Launch { 0.25 } else { 1.0 / 3.0 };
        if self.strikes(FaultKind::Throttled, share) {
            debug!(call = what, "fault: throttled");
            return Some(ProviderError::Throttled { message: format!("injected: {what}") });
        }
        if self.strikes(FaultKind::Transient, share) {
            debug!(call = what, "fault: transient error");
            return Some(ProviderError::Backend {
                code: "InternalError".into(),
                message: format!("injected transient failure: {what}"),
            });
        }
        None
    }

    /// The fault that loses a successful call's answer, if any.
    fn lost(&self, call: Call, what: &str) -> Result<(), ProviderError> {
        let share = if call == Call::Launch { 0.25 } else { 1.0 / 3.0 };
        if self.strikes(FaultKind::LostResponse, share) {
            debug!(call = what, "fault: response lost after the call succeeded");
            return Err(ProviderError::Backend {
                code: "RequestTimeout".into(),
                message: format!("injected: the answer to {what} was lost"),
            });
        }
        Ok(())
    }

    /// Terminates a burst of live spot instances, as a reclaim storm does.
    async fn storm(&self) -> Vec<Event> {
        // A storm needs spot instances to take; only one that takes some counts.
        if self.state().live_spot.is_empty() || !self.strikes(FaultKind::ReclaimStorm, 1.0) {
            return Vec::new();
        }
        let victims: Vec<InstanceId> = {
            let mut state = self.state();
            let mut live: Vec<InstanceId> = state.live_spot.iter().copied().collect();
            let mut victims = Vec::new();
            while victims.len() < self.config.storm_size && !live.is_empty() {
                let pick = state.rng.below(live.len() as u64) as usize;
                victims.push(live.swap_remove(pick));
            }
            victims
        };
        let mut events = Vec::new();
        for instance in victims {
            if self.inner.terminate(instance).await.is_ok() {
                let mut state = self.state();
                state.live_spot.remove(&instance);
                state.stormed.insert(instance);
                events.push(Event::InstanceReclaimWarning { instance });
                events.push(Event::InstanceReclaimed { instance });
            }
        }
        debug!(reclaimed = events.len() / 2, "fault: spot reclaim storm");
        events
    }
}

#[async_trait]
impl<P: Provider> Provider for FaultyProvider<P> {
    async fn launch(
        &self,
        instance: InstanceId,
        offering: OfferingId,
    ) -> Result<(), ProviderError> {
        if let Some(error) = self.refusal(Call::Launch, "launch") {
            return Err(error);
        }
        if self.strikes(FaultKind::RefusedLaunch, 0.25) {
            debug!(%instance, %offering, "fault: launch refused for capacity");
            return Err(ProviderError::CapacityUnavailable {
                offering,
                message: "injected capacity refusal".into(),
            });
        }
        self.inner.launch(instance, offering).await?;
        if self.config.spot_offerings.contains(&offering) {
            self.state().live_spot.insert(instance);
        }
        let already = self.state().never_ready.contains(&instance);
        if !already && self.strikes(FaultKind::NeverReady, 1.0) {
            debug!(%instance, "fault: instance will never become ready");
            self.state().never_ready.insert(instance);
        }
        self.lost(Call::Launch, "launch")
    }

    async fn start_task(
        &self,
        task: TaskId,
        instance: InstanceId,
        allocated: Resources,
    ) -> Result<(), ProviderError> {
        if let Some(error) = self.refusal(Call::Other, "start_task") {
            return Err(error);
        }
        self.inner.start_task(task, instance, allocated).await?;
        self.lost(Call::Other, "start_task")
    }

    async fn stop_task(&self, task: TaskId) -> Result<(), ProviderError> {
        if let Some(error) = self.refusal(Call::Other, "stop_task") {
            return Err(error);
        }
        self.inner.stop_task(task).await?;
        self.lost(Call::Other, "stop_task")
    }

    async fn terminate(&self, instance: InstanceId) -> Result<(), ProviderError> {
        if let Some(error) = self.refusal(Call::Other, "terminate") {
            return Err(error);
        }
        self.inner.terminate(instance).await?;
        self.state().live_spot.remove(&instance);
        self.lost(Call::Other, "terminate")
    }

    async fn events(&self) -> Result<Vec<Event>, ProviderError> {
        if let Some(error) = self.refusal(Call::Other, "events") {
            return Err(error);
        }
        let fresh = self.inner.events().await?;
        let mut out = self.storm().await;
        let (late, duplicate) = (self.config.rate(FaultKind::Late), FaultKind::Duplicate);
        for event in fresh {
            let event = {
                let state = self.state();
                match event {
                    Event::InstanceReady { instance } if state.never_ready.contains(&instance) => {
                        continue;
                    }
                    // The storm already reported this one as reclaimed.
                    Event::InstanceTerminated { instance } if state.stormed.contains(&instance) => {
                        continue;
                    }
                    event => event,
                }
            };
            if let Event::InstanceReclaimed { instance } | Event::InstanceTerminated { instance } =
                event
            {
                self.state().live_spot.remove(&instance);
            }
            if late > 0.0 && self.strikes(FaultKind::Late, 1.0) {
                let mut state = self.state();
                let polls =
                    1 + state.rng.below(u64::from(self.config.max_late_polls.max(1))) as u32;
                debug!(?event, polls, "fault: event held back");
                state.held.push((polls, event));
                continue;
            }
            if self.strikes(duplicate, 1.0) {
                debug!(?event, "fault: event delivered twice");
                out.push(event.clone());
            }
            out.push(event);
        }
        {
            // Held events whose wait is over join this poll.
            let mut state = self.state();
            let mut still = Vec::new();
            for (polls, event) in std::mem::take(&mut state.held) {
                if polls <= 1 {
                    out.push(event);
                } else {
                    still.push((polls - 1, event));
                }
            }
            state.held = still;
        }
        if out.len() > 1 && self.strikes(FaultKind::Reordered, 1.0) {
            let mut state = self.state();
            for i in (1..out.len()).rev() {
                let j = state.rng.below(i as u64 + 1) as usize;
                out.swap(i, j);
            }
            debug!(events = out.len(), "fault: poll delivered out of order");
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_are_reproducible_and_uniform_enough() {
        let mut a = SplitMix64(7);
        let mut b = SplitMix64(7);
        let draws: Vec<f64> = (0..10_000).map(|_| a.unit()).collect();
        assert!(draws.iter().zip((0..10_000).map(|_| b.unit())).all(|(x, y)| *x == y));
        let below_03 = draws.iter().filter(|x| **x < 0.3).count();
        assert!((2_700..3_300).contains(&below_03), "{below_03}");
        assert!(draws.iter().all(|x| (0.0..1.0).contains(x)));
    }

    #[test]
    fn rates_are_clamped() {
        let config = FaultConfig::none(1)
            .with_rate(FaultKind::Late, 7.0)
            .with_rate(FaultKind::Duplicate, f64::NAN)
            .with_rate(FaultKind::Throttled, -1.0);
        assert_eq!(config.rate(FaultKind::Late), 1.0);
        assert_eq!(config.rate(FaultKind::Duplicate), 0.0);
        assert_eq!(config.rate(FaultKind::Throttled), 0.0);
    }
}
