//! Integer resource vectors and exact fit checks.
//!
//! Capacity arithmetic never uses floats: cpus are counted in millicpus and
//! memory in MiB, so "does this task fit" has one exact answer.

use std::fmt;
use std::ops::{Add, AddAssign};

use serde::{Deserialize, Serialize};

/// Mebibytes per gibibyte.
pub const MIB_PER_GIB: u64 = 1024;
/// Millicpus per whole cpu.
pub const MILLICPUS_PER_CPU: u64 = 1000;

/// A vector of the resources a task asks for or an instance offers.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize,
)]
pub struct Resources {
    /// CPU in thousandths of a vCPU.
    pub millicpus: u64,
    /// Memory in MiB (2^20 bytes).
    pub memory_mib: u64,
    /// Whole GPUs.
    pub gpus: u32,
}

/// One dimension of [`Resources`], used to say which one does not fit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Dimension {
    /// CPU, in millicpus.
    Cpu,
    /// Memory, in MiB.
    Memory,
    /// GPUs, whole devices.
    Gpu,
}

impl fmt::Display for Dimension {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Dimension::Cpu => "cpu",
            Dimension::Memory => "memory",
            Dimension::Gpu => "gpu",
        })
    }
}

impl Resources {
    /// No resources at all.
    pub const ZERO: Resources = Resources { millicpus: 0, memory_mib: 0, gpus: 0 };

    /// Builds a vector from millicpus, MiB and GPUs.
    pub const fn new(millicpus: u64, memory_mib: u64, gpus: u32) -> Self {
        Resources { millicpus, memory_mib, gpus }
    }

    /// Builds a vector from whole cpus and MiB, without GPUs.
    pub const fn cpus_mib(cpus: u64, memory_mib: u64) -> Self {
        Resources { millicpus: cpus * MILLICPUS_PER_CPU, memory_mib, gpus: 0 }
    }

    /// True when every dimension of `self` is at most the same one of `capacity`.
    #[inline]
    pub fn fits_in(&self, capacity: &Resources) -> bool {
        self.millicpus <= capacity.millicpus
            && self.memory_mib <= capacity.memory_mib
            && self.gpus <= capacity.gpus
    }

    /// The first dimension in which `self` exceeds `capacity`, if any.
    pub fn exceeding_dimension(&self, capacity: &Resources) -> Option<Dimension> {
        if self.millicpus > capacity.millicpus {
            Some(Dimension::Cpu)
        } else if self.memory_mib > capacity.memory_mib {
            Some(Dimension::Memory)
        } else if self.gpus > capacity.gpus {
            Some(Dimension::Gpu)
        } else {
            None
        }
    }

    /// `self - other`, or `None` when `other` does not fit in `self`.
    #[inline]
    pub fn checked_sub(&self, other: &Resources) -> Option<Resources> {
        Some(Resources {
            millicpus: self.millicpus.checked_sub(other.millicpus)?,
            memory_mib: self.memory_mib.checked_sub(other.memory_mib)?,
            gpus: self.gpus.checked_sub(other.gpus)?,
        })
    }

    /// `self - other`, clamped at zero in every dimension.
    pub fn saturating_sub(&self, other: &Resources) -> Resources {
        Resources {
            millicpus: self.millicpus.saturating_sub(other.millicpus),
            memory_mib: self.memory_mib.saturating_sub(other.memory_mib),
            gpus: self.gpus.saturating_sub(other.gpus),
        }
    }

    /// `self + other`, or `None` on overflow.
    pub fn checked_add(&self, other: &Resources) -> Option<Resources> {
        Some(Resources {
            millicpus: self.millicpus.checked_add(other.millicpus)?,
            memory_mib: self.memory_mib.checked_add(other.memory_mib)?,
            gpus: self.gpus.checked_add(other.gpus)?,
        })
    }

    /// The amount in one dimension, widened to `u64`.
    pub fn get(&self, dimension: Dimension) -> u64 {
        match dimension {
            Dimension::Cpu => self.millicpus,
            Dimension::Memory => self.memory_mib,
            Dimension::Gpu => u64::from(self.gpus),
        }
    }

    /// The smaller of `self` and `other` in each dimension.
    pub fn min_each(&self, other: &Resources) -> Resources {
        Resources {
            millicpus: self.millicpus.min(other.millicpus),
            memory_mib: self.memory_mib.min(other.memory_mib),
            gpus: self.gpus.min(other.gpus),
        }
    }

    /// True when every dimension is zero.
    pub fn is_zero(&self) -> bool {
        *self == Resources::ZERO
    }

    /// Cpus as a float, for reports only.
    pub fn cpus(&self) -> f64 {
        self.millicpus as f64 / MILLICPUS_PER_CPU as f64
    }
}

impl Add for Resources {
    type Output = Resources;

    /// Saturating addition: a sum of real capacities never reaches `u64::MAX`.
    fn add(self, other: Resources) -> Resources {
        Resources {
            millicpus: self.millicpus.saturating_add(other.millicpus),
            memory_mib: self.memory_mib.saturating_add(other.memory_mib),
            gpus: self.gpus.saturating_add(other.gpus),
        }
    }
}

impl AddAssign for Resources {
    fn add_assign(&mut self, other: Resources) {
        *self = *self + other;
    }
}

impl fmt::Display for Resources {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} millicpus, {} MiB", self.millicpus, self.memory_mib)?;
        if self.gpus > 0 {
            write!(f, ", {} GPUs", self.gpus)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fit_is_exact_at_the_boundary() {
        let cap = Resources::new(2000, 4096, 0);
        assert!(Resources::new(2000, 4096, 0).fits_in(&cap));
        assert!(!Resources::new(2001, 4096, 0).fits_in(&cap));
        assert!(!Resources::new(2000, 4097, 0).fits_in(&cap));
        assert!(!Resources::new(1, 1, 1).fits_in(&cap));
    }

    #[test]
    fn exceeding_dimension_names_the_first_that_overflows() {
        let cap = Resources::new(1000, 1024, 0);
        assert_eq!(Resources::new(500, 2048, 0).exceeding_dimension(&cap), Some(Dimension::Memory));
        assert_eq!(Resources::new(500, 512, 1).exceeding_dimension(&cap), Some(Dimension::Gpu));
        assert_eq!(Resources::new(500, 512, 0).exceeding_dimension(&cap), None);
    }

    #[test]
    fn checked_sub_refuses_what_does_not_fit() {
        let cap = Resources::new(1000, 1024, 1);
        assert_eq!(
            cap.checked_sub(&Resources::new(400, 24, 1)),
            Some(Resources::new(600, 1000, 0))
        );
        assert_eq!(cap.checked_sub(&Resources::new(400, 2048, 0)), None);
    }
}
