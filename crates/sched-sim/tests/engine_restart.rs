//! An engine restarted from the provider's state (what runs, what is
//! launched) carries on without losing or duplicating a task.
//!
//! A bundled trace is replayed on an on-demand, reclaim-free simulated cloud
//! by a small driver. At several points of the run the engine is dropped and
//! a new one is built with `Engine::resume` from the cloud's inventory and the
//! tasks still open; the run then continues to its end. Every task must end
//! exactly once, and the cloud must have started each task exactly once.

use std::collections::BTreeMap;
use std::path::PathBuf;

use futures_executor::block_on;
use sched_core::catalog::Catalog;
use sched_core::engine::{Engine, Event, TaskSpec};
use sched_core::lifecycle::{RunStatus, TaskStatus};
use sched_core::policy::{Policy, ProvisioningModel};
use sched_core::provider::{Provider, ProviderExt};
use sched_core::solver::Greedy;
use sched_core::time::Millis;
use sched_core::TaskId;
use sched_sim::cloud::{CloudConfig, SimCloud};
use sched_sim::trace::read_trace;
use sched_sim::workload::Workload;

fn data(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../data").join(path)
}

struct Run {
    workload: Workload,
    catalog: Catalog,
    policy: Policy,
    cloud: SimCloud,
    next_arrival: usize,
    closed: bool,
    /// Terminal statuses reported by every engine, per task.
    ended: BTreeMap<TaskId, Vec<TaskStatus>>,
}

impl Run {
    fn new(trace: &str) -> Self {
        let catalog = Catalog::from_csv_path(data("catalog/ec2_catalog_us-east-1.csv")).unwrap();
        let workload =
            Workload::from_trace(&read_trace(&data(&format!("traces/{trace}"))).unwrap());
        let mut policy = Policy::default();
        policy.provisioning = ProvisioningModel::OnDemand;
        let scripts = workload.tasks.iter().map(|t| (t.spec.id, t.script)).collect();
        let cloud = SimCloud::new(CloudConfig::default(), catalog.clone(), scripts);
        Run {
            workload,
            catalog,
            policy,
            cloud,
            next_arrival: 0,
            closed: false,
            ended: BTreeMap::new(),
        }
    }

    fn engine(&self) -> Engine {
        let candidates = self.policy.candidates(&self.catalog).unwrap();
        Engine::new(self.policy.clone(), candidates, Box::new(Greedy))
    }

    /// Delivers what is due and carries out the engine's decisions at the cloud's now.
    fn settle(&mut self, engine: &mut Engine) {
        let now = self.cloud.now();
        loop {
            let mut events = block_on(self.cloud.events()).unwrap();
            loop {
                for event in events.drain(..) {
                    engine.handle(now, event).unwrap();
                    engine.check_invariants().unwrap();
                }
                let actions = engine.decide(now);
                if actions.is_empty() {
                    return;
                }
                for action in &actions {
                    events.extend(block_on(self.cloud.carry_out(action)).unwrap());
                }
                if events.is_empty() {
                    break;
                }
            }
        }
    }

    /// Drives until `until` (or the run's end); true when the run ended.
    fn drive(&mut self, engine: &mut Engine, until: Millis) -> bool {
        loop {
            let next = [
                self.workload.tasks.get(self.next_arrival).map(|t| t.submit),
                self.cloud.next_event_at(),
                engine.next_wakeup(),
            ]
            .into_iter()
            .flatten()
            .min();
            let Some(now) = next.map(|t| t.max(self.cloud.now())) else {
                if !self.closed {
                    self.closed = true;
                    engine.handle(self.cloud.now(), Event::SubmissionsClosed).unwrap();
                    self.settle(engine);
                    continue;
                }
                return engine.run_status() == RunStatus::Terminated;
            };
            if now > until {
                return false;
            }
            self.cloud.advance_to(now);
            while let Some(task) =
                self.workload.tasks.get(self.next_arrival).filter(|t| t.submit <= now)
            {
                engine.handle(now, Event::TaskSubmitted(task.spec.clone())).unwrap();
                self.next_arrival += 1;
            }
            if self.next_arrival == self.workload.tasks.len() && !self.closed {
                self.closed = true;
                engine.handle(now, Event::SubmissionsClosed).unwrap();
            }
            self.settle(engine);
            if engine.run_status() == RunStatus::Terminated && self.cloud.next_event_at().is_none()
            {
                return true;
            }
        }
    }

    /// Records what `engine` ended and returns the specs of the tasks it left open.
    fn hand_over(&mut self, engine: &Engine) -> Vec<TaskSpec> {
        let mut open = Vec::new();
        for record in engine.tasks().values() {
            if record.status.is_terminal() {
                self.ended.entry(record.spec.id).or_default().push(record.status);
            } else {
                open.push(record.spec.clone());
            }
        }
        open
    }

    /// Drops `engine` and builds its successor from the cloud's state.
    fn restart(&mut self, engine: Engine) -> Engine {
        let open = self.hand_over(&engine);
        let now = self.cloud.now();
        let inventory = self.cloud.inventory();
        let adopted = inventory.running.len();
        let candidates = self.policy.candidates(&self.catalog).unwrap();
        let (mut next, cleanup) = Engine::resume(
            self.policy.clone(),
            candidates,
            Box::new(Greedy),
            now,
            &inventory,
            open,
        )
        .unwrap();
        assert!(cleanup.is_empty(), "nothing to clean up: {cleanup:?}");
        next.check_invariants().unwrap();
        let running = next.tasks().values().filter(|t| t.status == TaskStatus::Running).count();
        assert_eq!(running, adopted, "every running task adopted");
        if self.closed {
            next.handle(now, Event::SubmissionsClosed).unwrap();
        }
        next
    }
}

fn restart_at_fractions(trace: &str, fractions: &[f64]) {
    let mut run = Run::new(trace);
    let horizon = run.workload.tasks.last().map(|t| t.submit).unwrap_or_default();
    let mut engine = run.engine();
    let mut adopted_somewhere = false;
    for fraction in fractions {
        let at = Millis((horizon.0 as f64 * fraction) as u64);
        if run.drive(&mut engine, at) {
            break;
        }
        adopted_somewhere |= !run.cloud.inventory().running.is_empty();
        engine = run.restart(engine);
    }
    let ended = run.drive(&mut engine, Millis(u64::MAX));
    let open: Vec<_> = engine
        .tasks()
        .values()
        .filter(|t| !t.status.is_terminal())
        .map(|t| (t.spec.id, t.status, t.instance, t.dispatched))
        .collect();
    let live: Vec<_> = engine
        .instances()
        .values()
        .filter(|i| i.status != sched_core::engine::InstanceStatus::Terminated)
        .map(|i| (i.id, i.status, i.launched_at))
        .collect();
    assert!(
        ended,
        "{trace}: the run ends: {:?} open {open:?} live {live:?} inv {:?}",
        engine.run_status(),
        run.cloud.inventory()
    );
    run.hand_over(&engine);

    assert!(adopted_somewhere, "{trace}: some restart happened while tasks ran");
    assert_eq!(run.ended.len(), run.workload.tasks.len(), "{trace}: every task ended");
    for (task, ends) in &run.ended {
        assert_eq!(ends.len(), 1, "{trace}: {task} ended {ends:?}");
    }
    let starts = run.cloud.starts();
    for task in &run.workload.tasks {
        assert_eq!(
            starts.get(&task.spec.id).copied(),
            Some(1),
            "{trace}: {} started once",
            task.spec.id
        );
    }
    assert_eq!(run.cloud.duplicate_starts(), 0);
    assert!(
        run.cloud.rentals().iter().all(|r| r.released_at.is_some()),
        "{trace}: nothing left rented"
    );
}

#[test]
fn restarts_mid_run_lose_and_duplicate_nothing() {
    restart_at_fractions("nfcore-chipseq_local_execution_trace.txt", &[0.2, 0.5, 0.8]);
    restart_at_fractions("nfcore-ampliseq_k8s_raw_trace_semicolon.csv", &[0.3, 0.6]);
}
