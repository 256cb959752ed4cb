//! The simulated cloud passes the provider conformance suite.

use std::collections::HashMap;

use async_trait::async_trait;
use futures_executor::block_on;
use sched_core::catalog::{CapacityType, Catalog, OfferingId};
use sched_core::problem::{InstanceId, TaskId};
use sched_core::provider::conformance::{self, Harness};
use sched_core::provider::Provider;
use sched_core::time::Millis;
use sched_sim::cloud::{CloudConfig, SimCloud, SpotMarket, TaskScript};

/// Tasks the suite runs long (until stopped or reclaimed).
const LONG: [u64; 3] = [201, 301, 401];
const STEP: Millis = Millis(10_000);
const RECLAIM_AFTER_READY: Millis = Millis(3_600_000);

struct Sim {
    cloud: SimCloud,
    offering: OfferingId,
    spot: OfferingId,
}

impl Sim {
    fn new() -> Sim {
        let catalog = Catalog::from_csv_path(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../data/catalog/ec2_catalog_us-east-1.csv"
        ))
        .unwrap();
        let ty = catalog.find_type("m5.large").unwrap();
        let find = |capacity| {
            catalog
                .offerings()
                .iter()
                .find(|o| o.instance_type == ty && o.capacity_type == capacity)
                .unwrap()
                .id
        };
        let (offering, spot) = (find(CapacityType::OnDemand), find(CapacityType::Spot));
        // Scripts cannot be added later: every task id the suite uses has one.
        let scripts: HashMap<TaskId, TaskScript> = (0..1000)
            .map(|id| {
                let runtime = if LONG.contains(&id) { Millis(36_000_000) } else { Millis(30_000) };
                (TaskId(id), TaskScript { runtime, exit_code: 0 })
            })
            .collect();
        let market =
            SpotMarket { reclaim_after_ready: Some(RECLAIM_AFTER_READY), ..SpotMarket::calm() };
        let cloud = SimCloud::new(CloudConfig::default(), catalog, scripts).with_market(market);
        Sim { cloud, offering, spot }
    }
}

#[async_trait]
impl Harness for Sim {
    type P = SimCloud;

    fn provider(&self) -> &SimCloud {
        &self.cloud
    }

    fn offering(&self) -> OfferingId {
        self.offering
    }

    fn spot_offering(&self) -> OfferingId {
        self.spot
    }

    async fn prepare_task(&self, task: TaskId, long: bool) {
        assert_eq!(LONG.contains(&task.0), long, "the script of {task} is set at construction");
    }

    async fn pass_time(&self) {
        self.cloud.advance_to(self.cloud.now() + STEP);
    }

    async fn reclaim(&self, _instance: InstanceId) {
        // Every spot instance is reclaimed a fixed time after it is ready.
        self.cloud.advance_to(self.cloud.now() + RECLAIM_AFTER_READY);
    }

    async fn restart(&mut self) {
        // The simulated cloud lives in this process: the same provider is
        // what a restarted process would find.
    }

    async fn tear_down(&mut self) {
        for rental in self.cloud.rentals() {
            if rental.released_at.is_none() {
                self.cloud.terminate(rental.instance).await.unwrap();
            }
        }
    }

    async fn leftovers(&self) -> Vec<String> {
        self.cloud
            .rentals()
            .into_iter()
            .filter(|r| r.released_at.is_none())
            .map(|r| r.instance.to_string())
            .collect()
    }
}

#[test]
fn sim_cloud_passes_the_conformance_suite() {
    block_on(conformance::run_all(&mut Sim::new()));
}
