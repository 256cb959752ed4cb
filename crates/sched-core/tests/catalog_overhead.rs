//! The default overhead model against every type in the bundled catalog.

use sched_core::catalog::Catalog;
use sched_core::{OverheadModel, Resources};

fn bundled() -> Catalog {
    let path =
        format!("{}/../../data/catalog/ec2_catalog_us-east-1.csv", env!("CARGO_MANIFEST_DIR"));
    Catalog::from_csv_path(path).expect("the bundled catalog loads")
}

#[test]
fn full_nominal_memory_fits_on_no_bundled_type() {
    let catalog = bundled();
    let overhead = OverheadModel::default();
    for (index, ty) in catalog.types().iter().enumerate() {
        let id = catalog.find_type(&ty.name).unwrap();
        assert_eq!(id.0 as usize, index);
        let usable = catalog.usable_capacity(id, &overhead);
        assert!(usable.memory_mib < ty.memory_mib, "{}: {usable}", ty.name);
        assert!(!ty.nominal().fits_in(&usable), "{} holds its own nominal size", ty.name);
        // A task asking for all the vCPUs and all the usable memory still fits.
        assert!(
            Resources::new(u64::from(ty.vcpus) * 1000, usable.memory_mib, ty.gpus).fits_in(&usable)
        );
    }
}

#[test]
fn usable_memory_is_positive_on_every_bundled_type() {
    let catalog = bundled();
    let overhead = OverheadModel::default();
    let usable = |mib: u64| overhead.usable(&Resources::new(1000, mib, 0)).memory_mib;

    // Every type keeps some memory; the tightest are the 512 MiB nano types, which keep
    // 512 - 256 - ceil(512 * 3.5 %) = 238 MiB.
    let smallest = catalog.types().iter().map(|t| t.memory_mib).min().unwrap();
    assert_eq!(smallest, 512);
    assert_eq!(usable(smallest), 238);
    let mut tightest: Vec<&str> = catalog
        .types()
        .iter()
        .filter(|t| t.memory_mib == smallest)
        .map(|t| t.name.as_str())
        .collect();
    tightest.sort_unstable();
    assert_eq!(tightest, ["t2.nano", "t3.nano", "t3a.nano", "t4g.nano"]);
    for ty in catalog.types() {
        assert!(usable(ty.memory_mib) > 0, "{} keeps nothing", ty.name);
    }
}

#[test]
fn the_default_reserves_less_than_karpenter_does_for_eks() {
    // Karpenter's eks_allocatable_memory_mib adds kubelet reserves that ECS does not have;
    // the ECS default should leave more than that on every type.
    let path =
        format!("{}/../../data/catalog/ec2_catalog_us-east-1.csv", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let (name_col, eks_col) = (col("instance_type"), col("eks_allocatable_memory_mib"));
    let catalog = bundled();
    let overhead = OverheadModel::default();
    for line in lines {
        let cells: Vec<&str> = line.split(',').collect();
        let eks: u64 = cells[eks_col].parse().unwrap();
        let id = catalog.find_type(cells[name_col]).unwrap();
        let ours = catalog.usable_capacity(id, &overhead).memory_mib;
        assert!(ours > eks, "{}: ECS default {ours} MiB, EKS {eks} MiB", cells[name_col]);
    }
}
