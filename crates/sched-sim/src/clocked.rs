//! The simulated cloud as the replay driver sees it: a [`Provider`] on a
//! virtual clock, which may be wrapped in a [`FaultyProvider`].
//!
//! [`ClockedCloud`] is the small surface the driver needs beyond the
//! provider calls: the clock, when the next report is due, the rentals for
//! billing, and the inventory for reconciliation. [`SimCloud`] implements it,
//! and so does a [`FaultyProvider`] around any clocked cloud, so the same
//! driver replays with and without faults.

use futures_executor::block_on;
use sched_core::engine::{Action, Event};
use sched_core::provider::faults::{FaultCounts, FaultyProvider};
use sched_core::provider::inventory::Inventory;
use sched_core::provider::{Provider, ProviderError, ProviderExt};
use sched_core::time::Millis;

use crate::cloud::{CloudConfig, Rental, SimCloud};

/// How long a fault-injecting wrapper waits between two polls while it
/// holds late events back: "late" is counted in polls, each this far apart.
pub const LATE_POLL_INTERVAL: Millis = Millis(1_000);

/// A provider on a virtual clock the replay driver moves.
pub trait ClockedCloud: Provider {
    /// The virtual clock.
    fn now(&self) -> Millis;
    /// Moves the clock forward to `at`.
    fn advance_to(&self, at: Millis);
    /// When the next report is due, if any.
    fn next_event_at(&self) -> Option<Millis>;
    /// Every rental so far.
    fn rentals(&self) -> Vec<Rental>;
    /// The billing rules.
    fn config(&self) -> CloudConfig;
    /// What is rented and running now.
    fn inventory(&self) -> Inventory;
    /// Starts of a task while it ran elsewhere.
    fn duplicate_starts(&self) -> u64;
    /// The simulated cloud underneath any wrappers.
    fn sim(&self) -> &SimCloud;
    /// Faults injected so far; `None` without a fault-injecting wrapper.
    fn fault_counts(&self) -> Option<FaultCounts> {
        None
    }
    /// Carries out `action` ([`ProviderExt::execute`]), at once where the
    /// cloud never waits.
    fn execute_now(&self, action: &Action) -> Result<(), ProviderError> {
        block_on(self.execute(action))
    }
    /// The reports due now ([`Provider::events`]), at once where the cloud
    /// never waits.
    fn events_now(&self) -> Result<Vec<Event>, ProviderError> {
        block_on(self.events())
    }
}

impl ClockedCloud for SimCloud {
    fn now(&self) -> Millis {
        SimCloud::now(self)
    }
    fn advance_to(&self, at: Millis) {
        SimCloud::advance_to(self, at);
    }
    fn next_event_at(&self) -> Option<Millis> {
        SimCloud::next_event_at(self)
    }
    fn rentals(&self) -> Vec<Rental> {
        SimCloud::rentals(self)
    }
    fn config(&self) -> CloudConfig {
        SimCloud::config(self)
    }
    fn inventory(&self) -> Inventory {
        SimCloud::inventory(self)
    }
    fn duplicate_starts(&self) -> u64 {
        SimCloud::duplicate_starts(self)
    }
    fn sim(&self) -> &SimCloud {
        self
    }
    fn execute_now(&self, action: &Action) -> Result<(), ProviderError> {
        SimCloud::execute_now(self, action)
    }
    fn events_now(&self) -> Result<Vec<Event>, ProviderError> {
        SimCloud::events_now(self)
    }
}

impl<C: ClockedCloud> ClockedCloud for FaultyProvider<C> {
    fn sim(&self) -> &SimCloud {
        self.inner().sim()
    }
    fn now(&self) -> Millis {
        self.inner().now()
    }
    fn advance_to(&self, at: Millis) {
        self.inner().advance_to(at);
    }
    fn next_event_at(&self) -> Option<Millis> {
        // Held events are delivered by later polls, so polls must keep coming.
        let poll = (self.held_events() > 0).then(|| self.inner().now() + LATE_POLL_INTERVAL);
        self.inner().next_event_at().into_iter().chain(poll).min()
    }
    fn rentals(&self) -> Vec<Rental> {
        self.inner().rentals()
    }
    fn config(&self) -> CloudConfig {
        self.inner().config()
    }
    fn inventory(&self) -> Inventory {
        self.inner().inventory()
    }
    fn duplicate_starts(&self) -> u64 {
        self.inner().duplicate_starts()
    }
    fn fault_counts(&self) -> Option<FaultCounts> {
        Some(self.counts())
    }
}
