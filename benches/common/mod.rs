//! What the benchmarks share: the bundled catalog and traces, seeded
//! batches of real task shapes, existing instances with free room, catalog
//! subsets, and the guard that keeps `cargo test --all-targets` cheap.
#![allow(dead_code)] // Each bench binary uses its own part of this module.

use std::path::{Path, PathBuf};

use cloud_sched::policy::{Candidate, Policy};
use cloud_sched::problem::{CandidateSet, ExistingInstance, PendingTask};
use cloud_sched::sim::trace::read_trace;
use cloud_sched::sim::workload::synthetic::pending_batch;
use cloud_sched::sim::workload::Workload;
use cloud_sched::{Catalog, InstanceId, Resources};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Seed of every draw the benchmarks make.
pub const SEED: u64 = 2486;

/// The repository root.
pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// True under `cargo bench`, false when `cargo test --all-targets` runs each
/// benchmark once: the largest cases shrink to a small size under test.
pub fn full_run() -> bool {
    std::env::args().any(|a| a == "--bench")
}

/// `size` under `cargo bench`, `small` under `cargo test`.
pub fn guarded(size: usize, small: usize) -> usize {
    if full_run() {
        size
    } else {
        size.min(small)
    }
}

/// The bundled us-east-1 catalog.
pub fn catalog() -> Catalog {
    Catalog::from_csv_path(root().join("data/catalog/ec2_catalog_us-east-1.csv"))
        .expect("bundled catalog")
}

/// Every offering of the bundled catalog the default policy allows (spot and
/// on demand, every type), prepared once as every solve of a bench shares it.
pub fn full_candidates(catalog: &Catalog) -> CandidateSet {
    CandidateSet::new(Policy::default().candidates(catalog).expect("candidates"))
}

/// Path of a bundled trace.
pub fn trace_path(name: &str) -> PathBuf {
    root().join("data/traces").join(name)
}

/// The workload of one bundled trace.
pub fn workload(name: &str) -> Workload {
    Workload::from_trace(&read_trace(&trace_path(name)).expect("bundled trace"))
}

/// Every task of every bundled trace, trace after trace: the pool real shapes
/// are drawn from.
pub fn all_traces() -> Workload {
    let mut files: Vec<_> = std::fs::read_dir(root().join("data/traces"))
        .expect("bundled traces")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    files.sort();
    let mut tasks = Vec::new();
    for file in files {
        if let Ok(trace) = read_trace(&file) {
            tasks.extend(Workload::from_trace(&trace).tasks);
        }
    }
    Workload { tasks }
}

/// `n` pending tasks with shapes drawn from the pool.
pub fn batch(pool: &Workload, n: usize) -> Vec<PendingTask> {
    pending_batch(pool, n, SEED).expect("bundled traces have tasks")
}

/// `n` running instances of seeded random candidates, each with a seeded
/// random share (0 to 100%) of its capacity still free and no runtime known.
pub fn existing(candidates: &[Candidate], n: usize) -> Vec<ExistingInstance> {
    let mut rng = ChaCha8Rng::seed_from_u64(SEED ^ 0x5eed);
    (0..n)
        .map(|i| {
            let c = &candidates[rng.gen_range(0..candidates.len())];
            let share = rng.gen_range(0..=100u64);
            ExistingInstance {
                id: InstanceId(i as u64),
                offering: c.offering,
                arch: c.arch,
                free: Resources::new(
                    c.capacity.millicpus * share / 100,
                    c.capacity.memory_mib * share / 100,
                    (u64::from(c.capacity.gpus) * share / 100) as u32,
                ),
                busy_for: None,
            }
        })
        .collect()
}

/// The candidates of `types` instance types spread evenly over the catalog's
/// types in name order (every offering of each: spot and on demand, every
/// zone), or all of them when `types` is `None`.
pub fn catalog_subset(candidates: &CandidateSet, types: Option<usize>) -> CandidateSet {
    let mut names: Vec<&str> = candidates.iter().map(|c| &*c.type_name).collect();
    names.sort_unstable();
    names.dedup();
    let Some(k) = types.filter(|&k| k < names.len()) else {
        return candidates.clone();
    };
    let keep: std::collections::HashSet<&str> =
        (0..k).map(|i| names[i * names.len() / k]).collect();
    candidates.filtered(|c| keep.contains(&*c.type_name))
}

/// Number of distinct instance types among `candidates`.
pub fn type_count(candidates: &[Candidate]) -> usize {
    let mut names: Vec<&str> = candidates.iter().map(|c| &*c.type_name).collect();
    names.sort_unstable();
    names.dedup();
    names.len()
}
