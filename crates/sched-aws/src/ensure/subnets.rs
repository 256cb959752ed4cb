//! The subnets capacity lives in: the configured ones, or the default
//! VPC's default subnets.

use aws_sdk_ec2::types as ec2;

use crate::call;
use crate::clients::Clients;
use crate::config::AwsConfig;
use crate::error::AwsError;

pub(crate) async fn subnets(
    clients: &Clients,
    config: &AwsConfig,
) -> Result<Vec<String>, AwsError> {
    if !config.subnets.is_empty() {
        return Ok(config.subnets.clone());
    }
    let out = call!(
        clients.retry,
        "ec2:DescribeSubnets",
        clients
            .ec2
            .describe_subnets()
            .filters(ec2::Filter::builder().name("default-for-az").values("true").build())
    )?;
    let ids: Vec<String> =
        out.subnets().iter().filter_map(|s| s.subnet_id().map(str::to_owned)).collect();
    if ids.is_empty() {
        return Err(AwsError::local(
            "ec2:DescribeSubnets",
            "no default subnets: configure subnets for the Auto Scaling Groups",
        ));
    }
    Ok(ids)
}
