//! `sched-aws`: the operator's commands for the AWS backend.
//!
//! - `sched-aws policy [--asg] [--cost-explorer] [--catalog]` prints the
//!   least-privilege IAM policy for those features.
//! - `sched-aws ensure` creates what is missing of the shared resources.
//! - `sched-aws cleanup [--dry-run]` removes what the prefix owns and no
//!   longer needs (idle groups, unused capacity providers and task
//!   definitions).
//! - `sched-aws teardown [--dry-run]` removes what the prefix owns.
//! - `sched-aws catalog --out FILE [--reference CSV [--reference-overrides]]`
//!   writes a catalog snapshot from the live APIs (on-demand prices from
//!   the Price List API, the reference filling gaps or overriding).

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use sched_aws::clients::Clients;
use sched_aws::config::{AwsConfig, CapacityBackend};
use sched_aws::ensure;
use sched_aws::iam_policy::{policy_document, PolicyOptions};

#[derive(Debug, Parser)]
#[command(name = "sched-aws", version, about = "Operator commands of the scheduler's AWS backend")]
struct Cli {
    /// AWS region (default: from the environment or profile).
    #[arg(long, global = true)]
    region: Option<String>,
    /// Endpoint URL for every service, e.g. an emulator on loopback.
    #[arg(long, global = true)]
    endpoint: Option<String>,
    /// Name prefix of every resource.
    #[arg(long, global = true, default_value = AwsConfig::DEFAULT_PREFIX)]
    prefix: String,
    /// Capacity backend: asg or managed-instances.
    #[arg(long, global = true, default_value = "asg")]
    capacity: CapacityBackend,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print the least-privilege IAM policy as JSON.
    Policy {
        /// Include the Auto Scaling Group and launch template statements.
        #[arg(long)]
        asg: bool,
        /// Include Cost Explorer (cost predictions).
        #[arg(long)]
        cost_explorer: bool,
        /// Include the live catalog's price calls.
        #[arg(long)]
        catalog: bool,
    },
    /// Write a catalog snapshot from DescribeInstanceTypes, spot prices and the Price List API.
    Catalog {
        /// Catalog (bundled CSV format) filling in on-demand prices the price
        /// list lacks, and giving interruption buckets.
        #[arg(long)]
        reference: Option<std::path::PathBuf>,
        /// The reference's prices (on demand and spot) win over the live ones.
        #[arg(long, requires = "reference")]
        reference_overrides: bool,
        /// Where to write the snapshot.
        #[arg(long)]
        out: std::path::PathBuf,
        /// Allowed instance types, comma-separated (names, families, globs).
        #[arg(long)]
        allow: Option<String>,
    },
    /// Create what is missing of the cluster, roles, log group and launch template.
    Ensure,
    /// Remove what the prefix owns and no longer needs: groups without
    /// instances, unused capacity providers and task definitions.
    Cleanup {
        /// Only list what would be removed.
        #[arg(long)]
        dry_run: bool,
    },
    /// Remove every resource with the prefix and the ownership tag.
    Teardown {
        /// Only list what would be removed.
        #[arg(long)]
        dry_run: bool,
    },
}

/// Writes a line to stdout; a closed pipe (`| head`) ends output quietly.
fn emit(line: &str) -> Result<(), String> {
    use std::io::Write;
    match writeln!(std::io::stdout(), "{line}") {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(format!("stdout: {e}")),
        _ => Ok(()),
    }
}

/// An error and its causes as one message. An AWS call that failed in
/// transport carries the SDK's debug text; it is cut to its innermost
/// message (`Connection refused`), the whole of it logged at debug.
fn error_text(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = String::new();
    let mut next = Some(error);
    while let Some(current) = next {
        let words = match current.downcast_ref::<sched_aws::error::AwsError>() {
            Some(aws) if matches!(aws.code.as_str(), "Dispatch" | "Timeout" | "ResponseError") => {
                tracing::debug!(operation = aws.operation, detail = %aws.message, "transport error");
                format!(
                    "{}: the request failed in transport ({}): {} (RUST_LOG=debug shows the SDK's \
                     whole error)",
                    aws.operation,
                    aws.code,
                    innermost_message(&aws.message)
                )
            }
            _ => current.to_string(),
        };
        if !text.contains(&words) {
            if !text.is_empty() {
                text.push_str(": ");
            }
            text.push_str(&words);
        }
        next = current.source();
    }
    text
}

/// The last `message: "..."` (or quoted text) of an SDK debug text, which is
/// the operating system's or the server's words; the text cut to 200
/// characters when it has none.
fn innermost_message(debug: &str) -> String {
    let quoted = |marker: &str| {
        let start = debug.rfind(marker)? + marker.len();
        let end = debug[start..].find('"')?;
        Some(debug[start..start + end].to_string())
    };
    quoted("message: \"")
        .or_else(|| quoted("(\""))
        .unwrap_or_else(|| debug.chars().take(200).collect())
}

/// The first `--allow` entry that matches no type of `catalog`, as an error
/// naming where the types came from.
fn unmatched_allow_entry(
    allow: &sched_core::policy::AllowList,
    catalog: &sched_core::catalog::Catalog,
    source: &str,
) -> Result<(), String> {
    match allow.patterns().iter().find(|p| !catalog.types().iter().any(|ty| p.matches(ty))) {
        Some(pattern) => {
            Err(format!("--allow: `{}` matches no instance type of {source}", pattern.text()))
        }
        None => Ok(()),
    }
}

fn config(cli: &Cli) -> AwsConfig {
    let mut config = AwsConfig::new().with_prefix(cli.prefix.clone()).with_capacity(cli.capacity);
    config.region = cli.region.clone();
    config.endpoint = cli.endpoint.clone();
    config
}

async fn run(cli: Cli) -> Result<(), String> {
    let config = config(&cli);
    config.validate().map_err(|e| error_text(&e))?;
    match cli.command {
        Command::Policy { asg, cost_explorer, catalog } => {
            let mut options = PolicyOptions::new(cli.prefix.clone());
            options.asg = asg;
            options.cost_explorer = cost_explorer;
            options.catalog = catalog;
            options.managed_instances = cli.capacity == CapacityBackend::ManagedInstances;
            let doc = policy_document(&options);
            emit(&serde_json::to_string_pretty(&doc).map_err(|e| error_text(&e))?)?;
        }
        Command::Catalog { reference: reference_path, reference_overrides, out, allow } => {
            let reference = reference_path
                .as_ref()
                .map(sched_core::catalog::Catalog::from_csv_path)
                .transpose()
                .map_err(|e| error_text(&e))?;
            let used_as = if reference_overrides {
                sched_aws::catalog::ReferenceUse::Override
            } else {
                sched_aws::catalog::ReferenceUse::Fallback
            };
            let allow = allow
                .map(|list| sched_core::policy::AllowList::parse_csv(&list))
                .transpose()
                .map_err(|e| format!("--allow: {}", error_text(&e)))?;
            // An entry that matches no type is a typo: checked against the
            // reference before any AWS call, and against what AWS listed after.
            if let (Some(list), Some(catalog), Some(path)) = (&allow, &reference, &reference_path) {
                unmatched_allow_entry(list, catalog, &path.display().to_string())?;
            }
            let sdk = config.sdk_config().await.map_err(|e| error_text(&e))?;
            let region = sdk.region().map(|r| r.to_string()).unwrap_or_default();
            let clients = Clients::from_sdk_config(&sdk, &config);
            let reference = reference
                .as_ref()
                .map(|catalog| sched_aws::catalog::Reference { catalog, used_as });
            let live =
                sched_aws::catalog::live_catalog(&clients, &region, allow.as_ref(), reference)
                    .await
                    .map_err(|e| error_text(&e))?;
            if let Some(list) = &allow {
                unmatched_allow_entry(list, &live, &format!("region {region}"))?;
            }
            std::fs::write(&out, sched_aws::catalog::to_csv(&live))
                .map_err(|e| format!("{}: {e}", out.display()))?;
            emit(&format!(
                "wrote {} types, {} offerings to {}",
                live.types().len(),
                live.offerings().len(),
                out.display()
            ))?;
        }
        Command::Ensure => {
            let clients = Clients::new(&config).await.map_err(|e| error_text(&e))?;
            let report = ensure::ensure(&clients, &config).await.map_err(|e| error_text(&e))?;
            for line in &report.changed {
                emit(&format!("created {line}"))?;
            }
            for line in &report.unchanged {
                emit(&format!("found {line}"))?;
            }
        }
        Command::Cleanup { dry_run } => {
            let clients = Clients::new(&config).await.map_err(|e| e.to_string())?;
            let report = ensure::cleanup(&clients, &Default::default(), dry_run)
                .await
                .map_err(|e| e.to_string())?;
            let verb = if dry_run { "would remove" } else { "removed" };
            for line in &report.changed {
                emit(&format!("{verb} {line}"))?;
            }
            if report.changed.is_empty() {
                emit("nothing to clean up")?;
            }
        }
        Command::Teardown { dry_run } => {
            let clients = Clients::new(&config).await.map_err(|e| error_text(&e))?;
            let report = ensure::teardown(&clients, dry_run).await.map_err(|e| error_text(&e))?;
            let verb = if dry_run { "would remove" } else { "removed" };
            for line in &report.changed {
                emit(&format!("{verb} {line}"))?;
            }
            for line in &report.unchanged {
                emit(&format!("kept {line} (no ownership tag)"))?;
            }
        }
    }
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    match run(Cli::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("sched-aws: {message}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression: a connection error was printed as the SDK's debug struct.
    #[test]
    fn a_transport_error_is_cut_to_its_innermost_message() {
        let debug = "DispatchFailure { source: ConnectorError { kind: Io, source: \
                     hyper_util::client::legacy::Error(Connect, ConnectError(\"tcp connect \
                     error\", Os { code: 111, kind: ConnectionRefused, message: \"Connection \
                     refused\" })), connection: Unknown } }";
        let error = sched_aws::error::AwsError {
            operation: "ec2:DescribeInstanceTypes",
            code: "Dispatch".into(),
            message: debug.into(),
            class: sched_aws::error::ErrorClass::Transient,
        };
        let text = error_text(&error);
        assert!(text.starts_with("ec2:DescribeInstanceTypes: the request failed in transport"));
        assert!(text.contains("(Dispatch): Connection refused"), "{text}");
        assert!(!text.contains("ConnectorError"), "{text}");
        assert_eq!(innermost_message("no quotes here"), "no quotes here");
    }
}
