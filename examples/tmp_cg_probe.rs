use cloud_sched::policy::Policy;
use cloud_sched::pricing::{batch_pattern_bound, PatternLimits};
use cloud_sched::problem::PendingTask;
use cloud_sched::sim::trace::{read_trace, request_of};
use cloud_sched::{Catalog, Resources, TaskId};
use std::path::Path;
fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let catalog =
        Catalog::from_csv_path(root.join("data/catalog/ec2_catalog_us-east-1.csv")).unwrap();
    let candidates = Policy::default().candidates(&catalog).unwrap();
    let mut files: Vec<_> = std::fs::read_dir(root.join("data/traces"))
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    files.sort();
    let mut shapes = Vec::new();
    for f in files {
        if let Ok(t) = read_trace(&f) {
            shapes.extend(t.tasks.iter().map(|t| {
                let (r, _) = request_of(t);
                Resources::new(r.millicpus, r.memory_mib, 0)
            }));
        }
    }
    for n in [50usize, 200, 1000] {
        let tasks: Vec<PendingTask> = (0..n)
            .map(|i| PendingTask::new(TaskId(i as u64), shapes[(i * 7919) % shapes.len()]))
            .collect();
        for (it, nodes) in [(100usize, 20_000u64), (400, 20_000), (100, 2_000), (400, 200_000)] {
            let t0 = std::time::Instant::now();
            let b = batch_pattern_bound(
                &tasks,
                &candidates,
                &PatternLimits::default().with_max_iterations(it).with_max_knapsack_nodes(nodes),
            )
            .unwrap();
            println!("n={n} it={it} nodes={nodes}: bound {:.4} lp {:.4} iters {} conv {} pats {} highs {:.3}s wall {:.3}s", b.bound_usd, b.restricted_lp_usd, b.iterations, b.converged, b.patterns, b.solver_time_s, t0.elapsed().as_secs_f64());
        }
    }
}
