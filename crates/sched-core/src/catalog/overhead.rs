//! What the operating system and the container agent keep for themselves.

use serde::{Deserialize, Serialize};

use crate::resources::Resources;

/// Resources reserved on every instance, so tasks are only offered the rest.
///
/// Usable memory is `nominal - reserved_memory_mib - nominal * reserved_memory_ppm / 1e6`,
/// usable cpu is `nominal - reserved_millicpus`. See `docs/catalog.md` for the
/// published figures behind [`OverheadModel::default`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct OverheadModel {
    /// Fixed memory reserved per instance, MiB.
    pub reserved_memory_mib: u64,
    /// Memory reserved in proportion to the nominal size, parts per million.
    pub reserved_memory_ppm: u64,
    /// CPU reserved per instance, millicpus.
    pub reserved_millicpus: u64,
}

impl OverheadModel {
    /// No overhead: usable equals nominal. Useful in tests.
    pub const NONE: OverheadModel =
        OverheadModel { reserved_memory_mib: 0, reserved_memory_ppm: 0, reserved_millicpus: 0 };

    /// Builds a model from its three figures.
    pub const fn new(reserved_memory_mib: u64, reserved_memory_ppm: u64, reserved_millicpus: u64) -> Self {
        OverheadModel { reserved_memory_mib, reserved_memory_ppm, reserved_millicpus }
    }

    /// Applies the model to a nominal capacity.
    pub fn usable(&self, nominal: &Resources) -> Resources {
        let proportional = nominal.memory_mib.saturating_mul(self.reserved_memory_ppm) / 1_000_000;
        Resources {
            millicpus: nominal.millicpus.saturating_sub(self.reserved_millicpus),
            memory_mib: nominal
                .memory_mib
                .saturating_sub(self.reserved_memory_mib)
                .saturating_sub(proportional),
            gpus: nominal.gpus,
        }
    }
}

impl Default for OverheadModel {
    // PLACEHOLDER figures until the cited default lands.
    fn default() -> Self {
        OverheadModel::new(256, 60_000, 0)
    }
}
