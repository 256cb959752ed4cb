//! The CloudWatch Logs group the tasks log to, created if missing.

use super::Report;
use crate::call;
use crate::clients::Clients;
use crate::error::{AwsError, ErrorClass};
use crate::names::OWNER_TAG;

fn ok_if(result: Result<(), AwsError>, class: ErrorClass) -> Result<(), AwsError> {
    match result {
        Err(e) if e.class == class => Ok(()),
        other => other,
    }
}

pub(super) async fn ensure_log_group(
    clients: &Clients,
    report: &mut Report,
) -> Result<(), AwsError> {
    let name = clients.names.log_group();
    let found = call!(
        clients.retry,
        "logs:DescribeLogGroups",
        clients.logs.describe_log_groups().log_group_name_prefix(&name)
    )?;
    if found.log_groups().iter().any(|g| g.log_group_name() == Some(name.as_str())) {
        report.unchanged("log-group", &name);
        return Ok(());
    }
    let created = call!(
        clients.retry,
        "logs:CreateLogGroup",
        clients
            .logs
            .create_log_group()
            .log_group_name(&name)
            .tags(OWNER_TAG, clients.names.prefix())
    )
    .map(|_| ());
    ok_if(created, ErrorClass::AlreadyExists)?;
    report.changed("log-group", &name);
    Ok(())
}
