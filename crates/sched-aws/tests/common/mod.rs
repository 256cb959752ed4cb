//! Test harness: a moto server of our own on 127.0.0.1, one per test.
//!
//! The server is found through `SCHED_MOTO_SERVER`, else in the venv that
//! `scripts/aws-emulator.sh` creates (`SCHED_MOTO_VENV`, default
//! `target/moto-venv` of the workspace). If neither holds one, the test
//! fails and says to run the script: a missing emulator never passes
//! silently.

#![allow(dead_code)] // Each test binary uses a different part of it.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sched_aws::config::AwsConfig;
use sched_aws::error::RetryPolicy;

/// A running moto server, killed on drop.
pub struct Moto {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
}

fn server_path() -> PathBuf {
    if let Some(path) = std::env::var_os("SCHED_MOTO_SERVER") {
        return PathBuf::from(path);
    }
    let venv = std::env::var_os("SCHED_MOTO_VENV").map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/moto-venv")
    });
    venv.join("bin/moto_server")
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A blocking HTTP request to the server's control API (loopback only).
fn http(endpoint: &str, method: &str, path: &str, body: &str) -> std::io::Result<String> {
    use std::io::{Read, Write};
    let authority = endpoint.trim_start_matches("http://");
    assert!(authority.starts_with("127.0.0.1:"), "moto must be on loopback");
    let mut stream = std::net::TcpStream::connect(authority)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {authority}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    Ok(response)
}

impl Moto {
    /// Starts a server on a free loopback port and waits for it to answer.
    pub fn start() -> Moto {
        let path = server_path();
        assert!(
            path.exists(),
            "moto_server not found at {}: run scripts/aws-emulator.sh (or set SCHED_MOTO_SERVER)",
            path.display()
        );
        let port = free_port();
        let child = Command::new(&path)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            // AWS managed policies (the ECS roles attach them) are loaded on request.
            .env("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
            .stdout(Stdio::null())
            // SCHED_MOTO_LOG=1 shows the server's log (and its tracebacks).
            .stderr(if std::env::var_os("SCHED_MOTO_LOG").is_some() {
                Stdio::inherit()
            } else {
                Stdio::null()
            })
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", path.display()));
        let moto = Moto { child, endpoint: format!("http://127.0.0.1:{port}") };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if http(&moto.endpoint, "GET", "/moto-api/", "").is_ok_and(|r| r.contains(" 200 ")) {
                break;
            }
            assert!(Instant::now() < deadline, "moto_server did not answer on {}", moto.endpoint);
            std::thread::sleep(Duration::from_millis(100));
        }
        moto
    }

    /// Clears all of the emulator's state.
    pub fn reset(&self) {
        http(&self.endpoint, "POST", "/moto-api/reset", "").unwrap();
    }

    /// Keeps ECS tasks RUNNING until stopped (moto otherwise moves a task
    /// one step towards STOPPED on every DescribeTasks).
    pub fn tasks_stay_running(&self) {
        let body =
            r#"{"model_name":"ecs::task","transition":{"progression":"manual","times":1000000}}"#;
        let r =
            http(&self.endpoint, "POST", "/moto-api/state-manager/set-transition", body).unwrap();
        assert!(r.contains(" 201 ") || r.contains(" 200 "), "set-transition: {r}");
    }

    /// A configuration for this server: static dummy credentials, the
    /// explicit loopback endpoint, fast retries.
    pub fn config(&self, prefix: &str) -> AwsConfig {
        AwsConfig::new()
            .with_region("us-east-1")
            .with_endpoint(self.endpoint.clone())
            .with_prefix(prefix)
            .with_static_credentials("testing", "testing")
            .with_retry(RetryPolicy {
                max_attempts: 3,
                base_delay: Duration::from_millis(10),
                max_delay: Duration::from_millis(50),
            })
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Registers an EC2 instance with the ECS cluster as its agent would (moto
/// never does it for ASG instances).
pub async fn register_container_instance(
    ecs: &aws_sdk_ecs::Client,
    cluster: &str,
    ec2_instance_id: &str,
) -> String {
    let document = serde_json::json!({
        "instanceId": ec2_instance_id,
        "region": "us-east-1",
        "availabilityZone": "us-east-1a",
        "instanceType": "m5.large",
        "accountId": "123456789012",
        "imageId": "ami-12345678",
        "privateIp": "10.0.0.1",
        "architecture": "x86_64",
        "pendingTime": "2026-01-01T00:00:00Z",
        "version": "2017-09-30"
    })
    .to_string();
    let out = ecs
        .register_container_instance()
        .cluster(cluster)
        .instance_identity_document(document)
        .send()
        .await
        .expect("RegisterContainerInstance");
    out.container_instance().and_then(|c| c.container_instance_arn()).unwrap().to_owned()
}

/// A two-offering catalog: m5.large on demand (offering 0) and spot (1).
pub fn catalog() -> sched_core::catalog::Catalog {
    use sched_core::catalog::*;
    let ty = InstanceType {
        name: "m5.large".into(),
        family: "m5".into(),
        arch: Architecture::X86_64,
        vcpus: 2,
        memory_mib: 8192,
        gpus: 0,
        gpu_model: None,
        accelerators: 0,
    };
    let offering = |capacity_type, price| Offering {
        id: OfferingId(0),
        instance_type: InstanceTypeId(0),
        capacity_type,
        zone: None,
        price: UsdPerHour(price),
        interruption: Some(InterruptionBucket(0)),
    };
    Catalog::new(
        "us-east-1",
        vec![ty],
        vec![offering(CapacityType::OnDemand, 0.096), offering(CapacityType::Spot, 0.04)],
    )
    .unwrap()
}

/// Plays the ECS agent: registers every EC2 instance of the prefix's Auto
/// Scaling Groups that is not registered yet; returns how many it registered.
pub async fn register_group_instances(clients: &sched_aws::clients::Clients) -> usize {
    let cluster = clients.names.cluster();
    let listed = clients.ecs.list_container_instances().cluster(&cluster).send().await.unwrap();
    let mut registered = std::collections::HashSet::new();
    if !listed.container_instance_arns().is_empty() {
        let described = clients
            .ecs
            .describe_container_instances()
            .cluster(&cluster)
            .set_container_instances(Some(listed.container_instance_arns().to_vec()))
            .send()
            .await
            .unwrap();
        registered.extend(
            described
                .container_instances()
                .iter()
                .filter_map(|c| c.ec2_instance_id())
                .map(str::to_owned),
        );
    }
    let groups = clients.autoscaling.describe_auto_scaling_groups().send().await.unwrap();
    let mut count = 0;
    for group in groups.auto_scaling_groups() {
        if !group.auto_scaling_group_name().unwrap_or_default().starts_with(clients.names.prefix())
        {
            continue;
        }
        for instance in group.instances() {
            let id = instance.instance_id().unwrap();
            if registered.insert(id.to_owned()) {
                register_container_instance(&clients.ecs, &cluster, id).await;
                count += 1;
            }
        }
    }
    count
}
