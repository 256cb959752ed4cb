//! Launch templates of the ECS-optimized Amazon Linux 2023 AMI (read from
//! SSM), one per architecture, whose user data joins the cluster and turns
//! on spot draining.

use aws_sdk_ec2::types as ec2;
use sched_core::catalog::Architecture;

use super::Report;
use crate::call;
use crate::clients::Clients;
use crate::error::{AwsError, ErrorClass};
use crate::names::OWNER_TAG;

/// The SSM parameter holding the recommended ECS-optimized AL2023 AMI.
pub fn ami_parameter(arch: Architecture) -> &'static str {
    match arch {
        Architecture::Arm64 => {
            "/aws/service/ecs/optimized-ami/amazon-linux-2023/arm64/recommended/image_id"
        }
        _ => "/aws/service/ecs/optimized-ami/amazon-linux-2023/recommended/image_id",
    }
}

fn template_name(clients: &Clients, arch: Architecture) -> String {
    match arch {
        Architecture::Arm64 => format!("{}-arm64", clients.names.launch_template()),
        _ => clients.names.launch_template(),
    }
}

/// Creates the launch template for `arch` if missing; returns its name.
pub async fn ensure_launch_template(
    clients: &Clients,
    arch: Architecture,
    report: &mut Report,
) -> Result<String, AwsError> {
    let name = template_name(clients, arch);
    let found = call!(
        clients.retry,
        "ec2:DescribeLaunchTemplates",
        clients.ec2.describe_launch_templates().launch_template_names(&name)
    );
    match found {
        Ok(out) if !out.launch_templates().is_empty() => {
            report.unchanged("launch-template", &name);
            return Ok(name);
        }
        Ok(_) => {}
        Err(e) if e.class == ErrorClass::NotFound || e.code.contains("NotFound") => {}
        Err(e) => return Err(e),
    }
    let ami = call!(
        clients.retry,
        "ssm:GetParameter",
        clients.ssm.get_parameter().name(ami_parameter(arch))
    )?
    .parameter()
    .and_then(|p| p.value())
    .map(str::to_owned)
    .ok_or_else(|| AwsError::local("ssm:GetParameter", "ECS-optimized AMI parameter is empty"))?;
    let user_data = format!(
        "#!/bin/bash\necho ECS_CLUSTER={} >> /etc/ecs/ecs.config\necho ECS_ENABLE_SPOT_INSTANCE_DRAINING=true >> /etc/ecs/ecs.config\n",
        clients.names.cluster()
    );
    let tag = ec2::Tag::builder().key(OWNER_TAG).value(clients.names.prefix()).build();
    let data = ec2::RequestLaunchTemplateData::builder()
        .image_id(&ami)
        .iam_instance_profile(
            ec2::LaunchTemplateIamInstanceProfileSpecificationRequest::builder()
                .name(clients.names.instance_role())
                .build(),
        )
        .user_data(aws_smithy_types::base64::encode(user_data))
        .tag_specifications(
            ec2::LaunchTemplateTagSpecificationRequest::builder()
                .resource_type(ec2::ResourceType::Instance)
                .tags(tag.clone())
                .build(),
        )
        .build();
    call!(
        clients.retry,
        "ec2:CreateLaunchTemplate",
        clients
            .ec2
            .create_launch_template()
            .launch_template_name(&name)
            .launch_template_data(data)
            .tag_specifications(
                ec2::TagSpecification::builder()
                    .resource_type(ec2::ResourceType::LaunchTemplate)
                    .tags(tag)
                    .build(),
            )
    )?;
    report.changed("launch-template", &name);
    Ok(name)
}
