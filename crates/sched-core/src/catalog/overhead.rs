//! What the operating system and the container agent keep for themselves.
//!
//! The default is an envelope fitted below published ECS registered-memory
//! figures; the table and sources are on [`OverheadModel::default`] and in
//! `docs/catalog.md`.

use serde::{Deserialize, Serialize};

use crate::resources::Resources;

/// Resources reserved on every instance, so tasks are only offered the rest.
///
/// Usable memory is `nominal - reserved_memory_mib - ceil(nominal * reserved_memory_ppm / 1e6)`,
/// usable cpu is `nominal - reserved_millicpus`, GPUs pass through. See
/// `docs/catalog.md` for the published figures behind [`OverheadModel::default`].
///
/// ```
/// use sched_core::{OverheadModel, Resources};
///
/// // m6i.large: 2 vCPUs, 8 GiB nominal.
/// let nominal = Resources::new(2000, 8192, 0);
/// let usable = OverheadModel::default().usable(&nominal);
/// assert_eq!(usable, Resources::new(2000, 7649, 0));
/// assert!(!nominal.fits_in(&usable));
/// ```
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
    pub const fn new(
        reserved_memory_mib: u64,
        reserved_memory_ppm: u64,
        reserved_millicpus: u64,
    ) -> Self {
        OverheadModel { reserved_memory_mib, reserved_memory_ppm, reserved_millicpus }
    }

    /// This model and `other` together: each figure is the sum of the two
    /// (saturating). For what a backend itself runs on every instance, such
    /// as a small task that holds the instance, on top of the OS and agent:
    ///
    /// ```
    /// use sched_core::{OverheadModel, Resources};
    ///
    /// // A holder task of 125 millicpus and 64 MiB on each instance.
    /// let model = OverheadModel::default().plus(OverheadModel::new(64, 0, 125));
    /// let usable = model.usable(&Resources::new(2000, 8192, 0));
    /// assert_eq!(usable, Resources::new(1875, 7649 - 64, 0));
    /// ```
    pub const fn plus(self, other: OverheadModel) -> OverheadModel {
        OverheadModel {
            reserved_memory_mib: self.reserved_memory_mib.saturating_add(other.reserved_memory_mib),
            reserved_memory_ppm: self.reserved_memory_ppm.saturating_add(other.reserved_memory_ppm),
            reserved_millicpus: self.reserved_millicpus.saturating_add(other.reserved_millicpus),
        }
    }

    /// Applies the model to a nominal capacity.
    ///
    /// The proportional reserve is rounded *up* to a whole MiB, so the usable
    /// memory never exceeds the formula; every subtraction saturates at zero.
    pub fn usable(&self, nominal: &Resources) -> Resources {
        Resources {
            millicpus: nominal.millicpus.saturating_sub(self.reserved_millicpus),
            memory_mib: nominal.memory_mib.saturating_sub(self.reserved_memory_total_mib(nominal)),
            gpus: nominal.gpus,
        }
    }

    /// Memory this model keeps back on an instance of `nominal` size, MiB:
    /// the fixed part plus the proportional part rounded up.
    pub fn reserved_memory_total_mib(&self, nominal: &Resources) -> u64 {
        // u128 keeps the product exact for any u64 inputs.
        let scaled = u128::from(nominal.memory_mib) * u128::from(self.reserved_memory_ppm);
        let proportional = u64::try_from(scaled.div_ceil(1_000_000)).unwrap_or(u64::MAX);
        self.reserved_memory_mib.saturating_add(proportional)
    }
}
impl Default for OverheadModel {
    /// 256 MiB plus 3.5 % of nominal memory, no cpu: an envelope just below the
    /// memory that ECS on EC2 registers for tasks in every published figure we
    /// found, so the solver never plans a task onto an instance that ECS would
    /// refuse it on.
    ///
    /// The published figures, with nominal memory, what ECS registers, and what
    /// this default leaves:
    ///
    /// | instance | nominal | registered | default leaves | source |
    /// |---|---|---|---|---|
    /// | m4.large | 8192 | 7985 | 7649 | [ECS][ecs], [Batch][batch] (`free -b` = 8373026816 B) |
    /// | c4.2xlarge | 15360 | 15042 | 14566 | [amazon-ecs-agent#399][i399] (2016 AMI) |
    /// | m6i.large | 8192 | 7817 | 7649 | [amazon-ecs-ami#597][i597] (AL2, 2025-12) |
    /// | r6idn.xlarge | 32768 | 31603 | 31365 | [hyp3#1900][h1900] (AL2, AWS Batch) |
    /// | r6id.xlarge | 32768 | 31517 | 31365 | [hyp3#1900][h1900] (AL2023, AWS Batch) |
    /// | r6id.4xlarge | 131072 | 126722 | 126228 | [hyp3#1900][h1900] (AL2023, AWS Batch) |
    ///
    /// The loss grows with size but not quite in proportion: 4.6 % of an
    /// m6i.large, 3.3 % of an r6id.4xlarge. The 3.5 % covers the proportional
    /// part at the large end; the fixed 256 MiB (the ECS guide's own example
    /// value of `ECS_RESERVED_MEMORY`) covers the rest at the small end, and
    /// includes the 32 MiB the default AWS Batch AMI reserves for the agent
    /// ([Batch: reserve system memory][batchres]). CPU is not reserved because
    /// ECS registers 1024 cpu units per vCPU, all of them.
    ///
    /// AWS Batch additionally recommends keeping a 5 % buffer for the agent
    /// and system processes; that is a safety margin, not a placement limit,
    /// and is left to `OverheadModel::new` (see `docs/catalog.md`).
    ///
    /// [ecs]: https://docs.aws.amazon.com/AmazonECS/latest/developerguide/memory-management.html
    /// [batch]: https://docs.aws.amazon.com/batch/latest/userguide/memory-management.html
    /// [batchres]: https://docs.aws.amazon.com/batch/latest/userguide/ecs-reserved-memory.html
    /// [i399]: https://github.com/aws/amazon-ecs-agent/issues/399
    /// [i597]: https://github.com/aws/amazon-ecs-ami/issues/597
    /// [h1900]: https://github.com/ASFHyP3/hyp3/pull/1900
    fn default() -> Self {
        OverheadModel::new(256, 35_000, 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (nominal MiB, MiB that ECS registered) from the sources on `Default`.
    const PUBLISHED: [(u64, u64); 6] = [
        (8192, 7985),
        (15360, 15042),
        (8192, 7817),
        (32768, 31603),
        (32768, 31517),
        (131072, 126722),
    ];

    #[test]
    fn default_stays_below_every_published_registered_figure() {
        let model = OverheadModel::default();
        for (nominal, registered) in PUBLISHED {
            let usable = model.usable(&Resources::new(2000, nominal, 0)).memory_mib;
            assert!(
                usable < registered,
                "{nominal} MiB leaves {usable}, ECS registers {registered}"
            );
        }
    }

    #[test]
    fn default_matches_the_documented_table() {
        let model = OverheadModel::default();
        let leaves = |mib| model.usable(&Resources::new(0, mib, 0)).memory_mib;
        assert_eq!(leaves(8192), 7649);
        assert_eq!(leaves(15360), 14566);
        assert_eq!(leaves(32768), 31365);
        assert_eq!(leaves(131072), 126228);
    }

    #[test]
    fn full_nominal_memory_never_fits_under_the_default() {
        let model = OverheadModel::default();
        for mib in [1, 512, 8192, 1 << 20] {
            let nominal = Resources::new(4000, mib, 1);
            assert!(!nominal.fits_in(&model.usable(&nominal)));
        }
    }

    #[test]
    fn cpu_and_gpus_pass_through_the_default() {
        let nominal = Resources::new(96_000, 786_432, 8);
        let usable = OverheadModel::default().usable(&nominal);
        assert_eq!(usable.millicpus, 96_000);
        assert_eq!(usable.gpus, 8);
    }

    #[test]
    fn proportional_reserve_rounds_up() {
        let model = OverheadModel::new(0, 1, 0);
        assert_eq!(model.reserved_memory_total_mib(&Resources::new(0, 1, 0)), 1);
        assert_eq!(model.reserved_memory_total_mib(&Resources::new(0, 0, 0)), 0);
    }

    #[test]
    fn plus_adds_each_figure_and_none_changes_nothing() {
        let base = OverheadModel::new(256, 35_000, 10);
        assert_eq!(
            base.plus(OverheadModel::new(64, 1_000, 125)),
            OverheadModel::new(320, 36_000, 135)
        );
        assert_eq!(base.plus(OverheadModel::NONE), base);
        assert_eq!(OverheadModel::NONE.plus(base), base);
    }

    #[test]
    fn plus_saturates_instead_of_overflowing() {
        let big = OverheadModel::new(u64::MAX, u64::MAX, u64::MAX);
        assert_eq!(big.plus(OverheadModel::new(1, 1, 1)), big);
        assert_eq!(big.plus(big).usable(&Resources::new(4000, 8192, 1)), Resources::new(0, 0, 1));
    }

    proptest::proptest! {
        /// A fixed reservation added with `plus` is taken from what the base
        /// model leaves, no more and no less, and GPUs pass through.
        #[test]
        fn a_fixed_addition_is_taken_from_what_the_base_leaves(
            base_mib in 0u64..100_000, base_ppm in 0u64..2_000_000, base_cpu in 0u64..100_000,
            extra_mib in 0u64..100_000, extra_cpu in 0u64..100_000,
            cpu in 0u64..1_000_000, mib in 0u64..10_000_000, gpus in 0u32..16,
        ) {
            let base = OverheadModel::new(base_mib, base_ppm, base_cpu);
            let extra = OverheadModel::new(extra_mib, 0, extra_cpu);
            let nominal = Resources::new(cpu, mib, gpus);
            let after_base = base.usable(&nominal);
            let expected = Resources::new(
                after_base.millicpus.saturating_sub(extra_cpu),
                after_base.memory_mib.saturating_sub(extra_mib),
                gpus,
            );
            proptest::prop_assert_eq!(base.plus(extra).usable(&nominal), expected);
        }
    }

    #[test]
    fn extreme_values_saturate_instead_of_overflowing() {
        let model = OverheadModel::new(u64::MAX, u64::MAX, u64::MAX);
        let nominal = Resources::new(u64::MAX, u64::MAX, u32::MAX);
        assert_eq!(model.usable(&nominal), Resources::new(0, 0, u32::MAX));
        assert_eq!(OverheadModel::NONE.usable(&nominal), nominal);
    }
}
