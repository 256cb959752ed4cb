//! The AWS provider passes the provider conformance suite on moto.

mod common;

use std::time::Duration;

use async_trait::async_trait;
use common::{catalog, register_group_instances, Moto};
use sched_aws::config::AwsConfig;
use sched_aws::ensure::teardown;
use sched_aws::{AwsProvider, ContainerSpec};
use sched_core::catalog::OfferingId;
use sched_core::problem::{InstanceId, TaskId};
use sched_core::provider::conformance::{self, Harness};

struct OnMoto {
    _moto: Moto,
    config: AwsConfig,
    provider: AwsProvider,
}

#[async_trait]
impl Harness for OnMoto {
    type P = AwsProvider;

    fn provider(&self) -> &AwsProvider {
        &self.provider
    }

    fn offering(&self) -> OfferingId {
        OfferingId(0)
    }

    fn spot_offering(&self) -> OfferingId {
        OfferingId(1)
    }

    async fn prepare_task(&self, task: TaskId, _long: bool) {
        // moto moves a task towards STOPPED (exit code 0) one step per
        // DescribeTasks; a "long" task is stopped or reclaimed before then,
        // as the checks do at once.
        self.provider.register_container(task, ContainerSpec::new("busybox", &["sleep", "5"]));
    }

    async fn pass_time(&self) {
        // Play the ECS agent: moto never registers ASG instances itself.
        register_group_instances(self.provider.clients()).await;
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    async fn reclaim(&self, instance: InstanceId) {
        let ec2_id = self.provider.ec2_instance_id(instance).expect("bound instance");
        self.provider
            .clients()
            .ec2
            .terminate_instances()
            .instance_ids(ec2_id)
            .send()
            .await
            .unwrap();
    }

    async fn restart(&mut self) {
        let (provider, report) =
            AwsProvider::connect(self.config.clone(), catalog()).await.unwrap();
        assert!(report.changed.is_empty(), "a restart created {:?}", report.changed);
        provider.recover().await.unwrap();
        self.provider = provider;
    }

    async fn tear_down(&mut self) {
        teardown(self.provider.clients(), false).await.unwrap();
    }

    async fn leftovers(&self) -> Vec<String> {
        // What is named with the prefix and still there.
        let dry = teardown(self.provider.clients(), true).await.unwrap();
        dry.changed.into_iter().chain(dry.unchanged).collect()
    }
}

#[tokio::test]
async fn aws_provider_passes_the_conformance_suite() {
    let moto = Moto::start();
    let config = moto.config("conf");
    let (provider, _) = AwsProvider::connect(config.clone(), catalog()).await.unwrap();
    let mut harness = OnMoto { _moto: moto, config, provider };
    conformance::run_all(&mut harness).await;
}
