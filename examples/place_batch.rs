//! Places one batch of real task shapes against the bundled catalog and
//! prints what the greedy solver would rent.
//!
//! Run with `cargo run --release --example place_batch`.

use std::collections::BTreeMap;
use std::path::Path;

use cloud_sched::policy::{AllowList, Policy};
use cloud_sched::problem::{CandidateSet, PendingTask, PlacementProblem};
use cloud_sched::sim::trace::{read_trace, request_of};
use cloud_sched::solver::{Greedy, Solver};
use cloud_sched::{Catalog, Resources, TaskId};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let catalog = Catalog::from_csv_path(root.join("data/catalog/ec2_catalog_us-east-1.csv"))?;
    let trace = read_trace(&root.join("data/traces/nfcore-rnaseq_k8s_raw_trace.csv"))?;

    // Every task of the trace, pending at once: the worst case for one decision.
    let tasks: Vec<PendingTask> = trace
        .tasks
        .iter()
        .enumerate()
        .map(|(i, task)| {
            let (request, _) = request_of(task);
            PendingTask {
                id: TaskId(i as u64),
                demand: Resources::new(request.millicpus, request.memory_mib, 0),
                arch: None,
                group: 0,
                expected_runtime: None,
            }
        })
        .collect();

    for (label, allow) in [("whole catalog", None), ("m6i.* and r6i.* only", Some("m6i.*,r6i.*"))] {
        let mut policy = Policy::default();
        if let Some(list) = allow {
            policy.allowed_types = Some(AllowList::parse_csv(list)?);
        }
        let candidates = CandidateSet::new(policy.candidates(&catalog)?);
        let plan = Greedy.solve(&PlacementProblem::new(tasks.clone(), &candidates));

        let mut fleet: BTreeMap<String, usize> = BTreeMap::new();
        for launch in &plan.launches {
            let offering = catalog.offering(launch.offering);
            let name = &catalog.instance_type(offering.instance_type).name;
            *fleet.entry(format!("{name} {}", offering.capacity_type)).or_default() += 1;
        }
        println!(
            "{label}: {} tasks on {} instances, ${:.2}/h, {} unschedulable",
            plan.assignments.len(),
            plan.launches.len(),
            plan.launch_cost_per_hour().0,
            plan.unschedulable.len()
        );
        for (shape, count) in fleet {
            println!("  {count:>4} x {shape}");
        }
    }
    Ok(())
}
