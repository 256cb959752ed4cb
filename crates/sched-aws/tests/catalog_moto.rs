//! The live catalog against moto's EC2 types and spot prices.

mod common;

use common::Moto;
use sched_aws::catalog::{live_catalog, to_csv, Reference, ReferenceUse};
use sched_aws::clients::Clients;
use sched_core::catalog::{CapacityType, Catalog};
use sched_core::policy::AllowList;

#[tokio::test]
async fn live_types_and_spot_prices_make_a_loadable_catalog() {
    let moto = Moto::start();
    let config = moto.config("cat");
    let clients = Clients::new(&config).await.unwrap();
    let reference = Catalog::from_csv_path(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../data/catalog/ec2_catalog_us-east-1.csv"
    ))
    .unwrap();
    let allow = AllowList::parse_csv("m5.*,c6g.large").unwrap();
    // moto has no Price List API: the call fails and the reference fills in.
    let reference = Reference { catalog: &reference, used_as: ReferenceUse::Fallback };
    let live = live_catalog(&clients, "us-east-1", Some(&allow), Some(reference)).await.unwrap();

    let m5 = live.find_type("m5.large").expect("m5.large described");
    let ty = live.instance_type(m5);
    assert_eq!((ty.vcpus, ty.memory_mib), (2, 8192), "shapes come from DescribeInstanceTypes");
    assert!(live.types().iter().all(|t| allow.allows(t)));
    assert!(live.find_type("c6g.large").is_some());
    assert!(
        live.offerings()
            .iter()
            .any(|o| o.instance_type == m5 && o.capacity_type == CapacityType::Spot),
        "a spot offering: moto's placeholder spot prices are below what a catalog \
         takes, so the reference's fill in"
    );

    let csv = to_csv(&live);
    let loaded = Catalog::from_csv_reader(csv.as_bytes(), "snapshot").unwrap();
    assert_eq!(loaded.types().len(), live.types().len());
}

#[tokio::test]
async fn without_a_reference_a_failing_price_list_is_an_error() {
    let moto = Moto::start();
    let config = moto.config("cat2");
    let clients = Clients::new(&config).await.unwrap();
    let allow = AllowList::parse_csv("m5.large").unwrap();
    let err = live_catalog(&clients, "us-east-1", Some(&allow), None).await.unwrap_err();
    assert!(err.to_string().contains("pricing:GetProducts"), "{err}");
}
