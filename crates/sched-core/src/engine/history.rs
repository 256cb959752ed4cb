//! What the engine learns from finished tasks: how long each process runs.
//!
//! Tasks of one pipeline process (`FASTQC`, say) tend to run for similar
//! times, so the mean runtime of the finished ones is a fair estimate for
//! the next. The estimate feeds the solver, which uses it to avoid packing a
//! short task beside a long one on a new instance. Only tasks that ran to an
//! exit count; cancelled and preempted runs say nothing about runtime.

use std::collections::HashMap;

use crate::time::Millis;

#[derive(Debug, Clone, Copy, Default)]
struct Stats {
    runs: u64,
    total_ms: u64,
}

/// Per-process runtime statistics, and the group id of each process.
#[derive(Debug, Clone, Default)]
pub struct RuntimeHistory {
    groups: HashMap<String, u32>,
    stats: Vec<Stats>,
}

impl RuntimeHistory {
    /// The group id of `process`, assigned on first sight.
    pub fn group_of(&mut self, process: &str) -> u32 {
        if let Some(&group) = self.groups.get(process) {
            return group;
        }
        let group = self.stats.len() as u32;
        self.groups.insert(process.to_string(), group);
        self.stats.push(Stats::default());
        group
    }

    /// Records that a task of `group` ran for `runtime`.
    pub fn record(&mut self, group: u32, runtime: Millis) {
        if let Some(stats) = self.stats.get_mut(group as usize) {
            stats.runs += 1;
            stats.total_ms = stats.total_ms.saturating_add(runtime.0);
        }
    }

    /// The mean runtime of `group`'s finished tasks, if any finished.
    pub fn expected(&self, group: u32) -> Option<Millis> {
        let stats = self.stats.get(group as usize)?;
        (stats.runs > 0).then(|| Millis(stats.total_ms / stats.runs))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn estimates_are_per_process_means() {
        let mut history = RuntimeHistory::default();
        let fastqc = history.group_of("FASTQC");
        let align = history.group_of("ALIGN");
        assert_eq!(history.group_of("FASTQC"), fastqc);
        assert_eq!(history.expected(fastqc), None);
        history.record(fastqc, Millis(10_000));
        history.record(fastqc, Millis(20_000));
        assert_eq!(history.expected(fastqc), Some(Millis(15_000)));
        assert_eq!(history.expected(align), None);
    }
}
