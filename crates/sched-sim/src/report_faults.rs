//! The table's lines on unschedulable tasks and on injected faults.

use std::fmt::Write as _;

use crate::replay::StrategyReport;

/// How many unschedulable tasks the table names.
const UNSCHEDULABLE_ROWS: usize = 10;

/// The unschedulable tasks, by trace name, with the reason; the same tasks
/// are unschedulable under every strategy that follows the user's policy, so
/// they are listed once, from the strategy with the most.
pub(crate) fn unschedulable_lines(out: &mut String, strategies: &[StrategyReport]) {
    let Some(worst) = strategies.iter().max_by_key(|s| s.unschedulable.len()) else { return };
    if worst.unschedulable.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "UNSCHEDULABLE: {} task(s) no allowed offering can hold (under {}):",
        worst.unschedulable.len(),
        worst.name
    );
    for task in worst.unschedulable.iter().take(UNSCHEDULABLE_ROWS) {
        let _ = writeln!(out, "  {}: {}", task.task, task.reason);
    }
    if worst.unschedulable.len() > UNSCHEDULABLE_ROWS {
        let _ = writeln!(
            out,
            "  ... and {} more (see the JSON report)",
            worst.unschedulable.len() - UNSCHEDULABLE_ROWS
        );
    }
}

/// One block per strategy on what the injected faults did.
pub(crate) fn fault_lines(out: &mut String, rate: Option<f64>, strategies: &[StrategyReport]) {
    let Some(rate) = rate else { return };
    let _ = writeln!(out, "faults (every kind mixed at {:.0}%):", rate * 100.0);
    for s in strategies {
        let Some(f) = &s.faults else { continue };
        let kinds: Vec<String> = f.by_kind.iter().map(|(k, n)| format!("{k} {n}")).collect();
        let cost = match f.clean_cost_usd {
            Some(clean) if clean > 0.0 => format!(
                ", cost ${:.4} vs ${clean:.4} clean ({:+.1}%)",
                s.cost_usd,
                (s.cost_usd / clean - 1.0) * 100.0
            ),
            _ => String::new(),
        };
        let _ = writeln!(
            out,
            "  {:<16} {} injected ({}); {} retries, {} recoveries, {} reconciliations; \
             tasks lost {}, duplicate starts {}, instances leaked {}, disagreements {}{cost}",
            s.name,
            f.injected,
            if kinds.is_empty() { "none".to_string() } else { kinds.join(", ") },
            f.retries,
            f.recoveries,
            f.reconciliations,
            f.tasks_lost,
            f.duplicate_starts,
            f.instances_leaked,
            f.disagreements,
        );
    }
}
