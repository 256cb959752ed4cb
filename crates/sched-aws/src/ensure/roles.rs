//! The IAM roles (task execution, task, instance, and for Managed Instances
//! infrastructure) with their trust and managed policies, the
//! infrastructure role's inline policy, and the instance profile.

use super::Report;
use crate::call;
use crate::clients::Clients;
use crate::config::{AwsConfig, CapacityBackend};
use crate::error::{AwsError, ErrorClass};
use crate::names::OWNER_TAG;

/// The AWS managed policies the roles carry, and the only ones the IAM
/// policy lets the scheduler attach.
pub const MANAGED_ROLE_POLICIES: [&str; 4] = [
    EXECUTION_ROLE_POLICY,
    INSTANCE_ROLE_POLICY,
    INFRASTRUCTURE_ROLE_POLICY,
    MANAGED_INSTANCE_ROLE_POLICY,
];
const EXECUTION_ROLE_POLICY: &str =
    "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy";
const INSTANCE_ROLE_POLICY: &str =
    "arn:aws:iam::aws:policy/service-role/AmazonEC2ContainerServiceforEC2Role";
const INFRASTRUCTURE_ROLE_POLICY: &str =
    "arn:aws:iam::aws:policy/AmazonECSInfrastructureRolePolicyForManagedInstances";
const MANAGED_INSTANCE_ROLE_POLICY: &str =
    "arn:aws:iam::aws:policy/AmazonECSInstanceRolePolicyForManagedInstances";

/// The inline policy of the infrastructure role letting ECS pass our
/// instance role to the instances it launches: the AWS managed policy only
/// allows passing roles named `ecsInstanceRole*`, and ours carry the prefix.
pub const PASS_INSTANCE_ROLE_POLICY: &str = "pass-instance-role";

fn pass_instance_role(instance_role_arn: &str) -> String {
    serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Action": "iam:PassRole",
            "Resource": instance_role_arn,
            "Condition": { "StringLike": { "iam:PassedToService": "ec2.*" } }
        }]
    })
    .to_string()
}

/// Trust policy letting `service` assume a role.
fn trust(service: &str) -> String {
    serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": { "Service": service },
            "Action": "sts:AssumeRole"
        }]
    })
    .to_string()
}

pub(super) async fn ensure_roles(
    clients: &Clients,
    config: &AwsConfig,
    report: &mut Report,
) -> Result<(), AwsError> {
    let names = &clients.names;
    let managed = config.capacity == CapacityBackend::ManagedInstances;
    let mut roles = vec![
        (names.execution_role(), "ecs-tasks.amazonaws.com", vec![EXECUTION_ROLE_POLICY]),
        (names.task_role(), "ecs-tasks.amazonaws.com", vec![]),
        (
            names.instance_role(),
            "ec2.amazonaws.com",
            if managed {
                vec![INSTANCE_ROLE_POLICY, MANAGED_INSTANCE_ROLE_POLICY]
            } else {
                vec![INSTANCE_ROLE_POLICY]
            },
        ),
    ];
    if managed {
        roles.push((
            names.infrastructure_role(),
            "ecs.amazonaws.com",
            vec![INFRASTRUCTURE_ROLE_POLICY],
        ));
    }
    let tag = aws_sdk_iam::types::Tag::builder()
        .key(OWNER_TAG)
        .value(names.prefix())
        .build()
        .map_err(|e| AwsError::local("iam:Tag", e.to_string()))?;
    for (role, service, managed) in roles {
        let found = call!(clients.retry, "iam:GetRole", clients.iam.get_role().role_name(&role));
        match found {
            Ok(_) => report.unchanged("role", &role),
            Err(e) if e.class == ErrorClass::NotFound => {
                call!(
                    clients.retry,
                    "iam:CreateRole",
                    clients
                        .iam
                        .create_role()
                        .role_name(&role)
                        .assume_role_policy_document(trust(service))
                        .tags(tag.clone())
                )?;
                for policy in managed {
                    call!(
                        clients.retry,
                        "iam:AttachRolePolicy",
                        clients.iam.attach_role_policy().role_name(&role).policy_arn(policy)
                    )?;
                }
                if role == names.infrastructure_role() {
                    let instance_role = call!(
                        clients.retry,
                        "iam:GetRole",
                        clients.iam.get_role().role_name(names.instance_role())
                    )?;
                    let arn = instance_role.role().map(|r| r.arn().to_owned()).unwrap_or_default();
                    call!(
                        clients.retry,
                        "iam:PutRolePolicy",
                        clients
                            .iam
                            .put_role_policy()
                            .role_name(&role)
                            .policy_name(PASS_INSTANCE_ROLE_POLICY)
                            .policy_document(pass_instance_role(&arn))
                    )?;
                }
                report.changed("role", &role);
            }
            Err(e) => return Err(e),
        }
    }

    let profile = names.instance_role();
    let found = call!(
        clients.retry,
        "iam:GetInstanceProfile",
        clients.iam.get_instance_profile().instance_profile_name(&profile)
    );
    match found {
        Ok(_) => report.unchanged("instance-profile", &profile),
        Err(e) if e.class == ErrorClass::NotFound => {
            call!(
                clients.retry,
                "iam:CreateInstanceProfile",
                clients
                    .iam
                    .create_instance_profile()
                    .instance_profile_name(&profile)
                    .tags(tag.clone())
            )?;
            call!(
                clients.retry,
                "iam:AddRoleToInstanceProfile",
                clients
                    .iam
                    .add_role_to_instance_profile()
                    .instance_profile_name(&profile)
                    .role_name(&profile)
            )?;
            report.changed("instance-profile", &profile);
        }
        Err(e) => return Err(e),
    }
    Ok(())
}
