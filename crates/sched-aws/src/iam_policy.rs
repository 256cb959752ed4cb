//! The least-privilege IAM policy for the features enabled.
//!
//! Each statement has a `Sid` that `docs/aws.md` explains. Resources are
//! scoped to the prefix wherever the action supports resource-level
//! permissions; where AWS allows only `*` (Describe and List calls, task
//! definition registration, Cost Explorer), the statement says so in its
//! Sid's documentation.

use serde_json::{json, Value};

/// Which features the policy must cover.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PolicyOptions {
    /// The name prefix of every resource.
    pub prefix: String,
    /// Capacity from Auto Scaling Groups (launch templates, groups).
    pub asg: bool,
    /// Capacity from ECS Managed Instances.
    pub managed_instances: bool,
    /// Cost predictions from Cost Explorer.
    pub cost_explorer: bool,
    /// Building the catalog from the live APIs (spot prices, pricing).
    pub catalog: bool,
}

impl PolicyOptions {
    /// The statements every configuration needs, under `prefix`.
    pub fn new(prefix: impl Into<String>) -> Self {
        PolicyOptions {
            prefix: prefix.into(),
            asg: false,
            managed_instances: false,
            cost_explorer: false,
            catalog: false,
        }
    }
}

fn statement(sid: &str, actions: &[&str], resources: Vec<String>) -> Value {
    json!({ "Sid": sid, "Effect": "Allow", "Action": actions, "Resource": resources })
}

fn pass_role(sid: &str, roles: Vec<String>, service: &str) -> Value {
    json!({
        "Sid": sid,
        "Effect": "Allow",
        "Action": ["iam:PassRole"],
        "Resource": roles,
        "Condition": { "StringEquals": { "iam:PassedToService": service } }
    })
}

/// The policy document, as IAM reads it.
pub fn policy_document(options: &PolicyOptions) -> Value {
    let p = &options.prefix;
    let cluster = format!("arn:aws:ecs:*:*:cluster/{p}-cluster");
    let mut statements = vec![
        statement(
            "EcsCluster",
            &[
                "ecs:CreateCluster",
                "ecs:DeleteCluster",
                "ecs:DescribeClusters",
                "ecs:PutClusterCapacityProviders",
                "ecs:TagResource",
            ],
            vec![cluster.clone()],
        ),
        statement(
            "EcsCapacityProviders",
            &[
                "ecs:CreateCapacityProvider",
                "ecs:DeleteCapacityProvider",
                "ecs:UpdateCapacityProvider",
                "ecs:TagResource",
            ],
            // Managed Instances providers belong to the cluster; their ARN may name it.
            vec![
                format!("arn:aws:ecs:*:*:capacity-provider/{p}-*"),
                format!("arn:aws:ecs:*:*:capacity-provider/{p}-cluster/{p}-*"),
            ],
        ),
        statement(
            "EcsTaskDefinitions",
            &[
                "ecs:RegisterTaskDefinition",
                "ecs:DeregisterTaskDefinition",
                "ecs:DescribeTaskDefinition",
                "ecs:ListTaskDefinitions",
                "ecs:ListTaskDefinitionFamilies",
                "ecs:DescribeCapacityProviders",
            ],
            vec!["*".to_owned()],
        ),
        json!({
            "Sid": "EcsStartTasks",
            "Effect": "Allow",
            "Action": ["ecs:StartTask", "ecs:TagResource"],
            "Resource": [
                format!("arn:aws:ecs:*:*:task-definition/{p}-*:*"),
                format!("arn:aws:ecs:*:*:task/{p}-cluster/*"),
            ],
            "Condition": { "ArnEquals": { "ecs:cluster": cluster.clone() } }
        }),
        statement(
            "EcsTasksAndInstances",
            &[
                "ecs:StopTask",
                "ecs:DescribeTasks",
                "ecs:ListTasks",
                "ecs:ListContainerInstances",
                "ecs:DescribeContainerInstances",
                "ecs:DeregisterContainerInstance",
            ],
            vec![
                cluster.clone(),
                format!("arn:aws:ecs:*:*:task/{p}-cluster/*"),
                format!("arn:aws:ecs:*:*:container-instance/{p}-cluster/*"),
            ],
        ),
        statement(
            "IamRoles",
            &[
                "iam:CreateRole",
                "iam:GetRole",
                "iam:DeleteRole",
                "iam:TagRole",
                "iam:ListAttachedRolePolicies",
                "iam:ListRolePolicies",
                "iam:ListInstanceProfilesForRole",
            ],
            vec![format!("arn:aws:iam::*:role/{p}-*")],
        ),
        // Only the AWS managed policies the roles need may be attached:
        // attaching any policy to a role the identity can pass would let it
        // grant itself anything through a task or an instance.
        json!({
            "Sid": "IamAttachManagedPolicies",
            "Effect": "Allow",
            "Action": ["iam:AttachRolePolicy", "iam:DetachRolePolicy"],
            "Resource": [format!("arn:aws:iam::*:role/{p}-*")],
            "Condition": { "ArnEquals": { "iam:PolicyARN": crate::ensure::MANAGED_ROLE_POLICIES } }
        }),
        statement(
            "IamInstanceProfile",
            &[
                "iam:CreateInstanceProfile",
                "iam:GetInstanceProfile",
                "iam:DeleteInstanceProfile",
                "iam:TagInstanceProfile",
                "iam:AddRoleToInstanceProfile",
                "iam:RemoveRoleFromInstanceProfile",
            ],
            vec![format!("arn:aws:iam::*:instance-profile/{p}-*")],
        ),
        // Each role may be passed only to the service that assumes it.
        pass_role(
            "IamPassTaskRoles",
            vec![
                format!("arn:aws:iam::*:role/{p}-task-execution"),
                format!("arn:aws:iam::*:role/{p}-task"),
            ],
            "ecs-tasks.amazonaws.com",
        ),
        statement(
            "Logs",
            &[
                "logs:CreateLogGroup",
                "logs:DeleteLogGroup",
                "logs:PutRetentionPolicy",
                "logs:TagResource",
                "logs:ListTagsForResource",
            ],
            vec![format!("arn:aws:logs:*:*:log-group:/{p}/*")],
        ),
        statement("LogsDescribe", &["logs:DescribeLogGroups"], vec!["*".to_owned()]),
        statement(
            "EcsOptimizedAmi",
            &["ssm:GetParameter", "ssm:GetParameters"],
            vec!["arn:aws:ssm:*::parameter/aws/service/ecs/optimized-ami/amazon-linux-2023/*"
                .to_owned()],
        ),
        statement(
            "Ec2Describe",
            &["ec2:DescribeInstances", "ec2:DescribeInstanceTypes", "ec2:DescribeSubnets"],
            vec!["*".to_owned()],
        ),
    ];
    if options.asg || options.managed_instances {
        statements.push(pass_role(
            "IamPassInstanceRole",
            vec![format!("arn:aws:iam::*:role/{p}-instance")],
            "ec2.amazonaws.com",
        ));
        let mut services = Vec::new();
        if options.asg {
            services.push("autoscaling.amazonaws.com");
        }
        services.push("ecs.amazonaws.com");
        statements.push(json!({
            "Sid": "ServiceLinkedRoles",
            "Effect": "Allow",
            "Action": ["iam:CreateServiceLinkedRole"],
            "Resource": "*",
            "Condition": { "StringEquals": { "iam:AWSServiceName": services } }
        }));
    }
    if options.managed_instances {
        statements.push(pass_role(
            "IamPassInfrastructureRole",
            vec![format!("arn:aws:iam::*:role/{p}-infrastructure")],
            "ecs.amazonaws.com",
        ));
        statements.push(statement(
            "IamInfrastructureInlinePolicy",
            &["iam:PutRolePolicy", "iam:DeleteRolePolicy"],
            vec![format!("arn:aws:iam::*:role/{p}-infrastructure")],
        ));
        statements.push(json!({
            "Sid": "EcsRunAnchors",
            "Effect": "Allow",
            "Action": ["ecs:RunTask", "ecs:TagResource"],
            "Resource": [
                format!("arn:aws:ecs:*:*:task-definition/{p}-anchor:*"),
                format!("arn:aws:ecs:*:*:task/{p}-cluster/*"),
            ],
            "Condition": { "ArnEquals": { "ecs:cluster": cluster.clone() } }
        }));
    }
    if options.asg {
        statements.push(statement(
            "Ec2LaunchTemplates",
            &[
                "ec2:CreateLaunchTemplate",
                "ec2:CreateLaunchTemplateVersion",
                "ec2:DeleteLaunchTemplate",
                "ec2:DescribeLaunchTemplates",
                "ec2:DescribeLaunchTemplateVersions",
            ],
            vec!["*".to_owned()],
        ));
        statements.push(json!({
            "Sid": "Ec2RunFromTemplate",
            "Effect": "Allow",
            "Action": ["ec2:RunInstances", "ec2:CreateTags"],
            "Resource": "*",
            "Condition": { "StringEquals": { "aws:RequestTag/cloud-sched:owner": p } }
        }));
        statements.push(json!({
            "Sid": "Ec2TagOwnInstances",
            "Effect": "Allow",
            "Action": ["ec2:CreateTags"],
            "Resource": "arn:aws:ec2:*:*:instance/*",
            "Condition": { "StringEquals": { "aws:ResourceTag/cloud-sched:owner": p } }
        }));
        statements.push(statement(
            "AutoScalingGroups",
            &[
                "autoscaling:CreateAutoScalingGroup",
                "autoscaling:UpdateAutoScalingGroup",
                "autoscaling:DeleteAutoScalingGroup",
                "autoscaling:SetDesiredCapacity",
                "autoscaling:TerminateInstanceInAutoScalingGroup",
                "autoscaling:CreateOrUpdateTags",
            ],
            vec![format!("arn:aws:autoscaling:*:*:autoScalingGroup:*:autoScalingGroupName/{p}-*")],
        ));
        statements.push(statement(
            "AutoScalingDescribe",
            &["autoscaling:DescribeAutoScalingGroups", "autoscaling:DescribeScalingActivities"],
            vec!["*".to_owned()],
        ));
    }
    if options.catalog {
        statements.push(statement(
            "CatalogPrices",
            &[
                "ec2:DescribeSpotPriceHistory",
                "ec2:DescribeInstanceTypeOfferings",
                "pricing:GetProducts",
            ],
            vec!["*".to_owned()],
        ));
    }
    if options.cost_explorer {
        statements.push(statement(
            "CostExplorer",
            &["ce:GetCostForecast", "ce:GetCostAndUsage"],
            vec!["*".to_owned()],
        ));
    }
    json!({ "Version": "2012-10-17", "Statement": statements })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sids(doc: &Value) -> Vec<String> {
        doc["Statement"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["Sid"].as_str().unwrap().to_owned())
            .collect()
    }

    #[test]
    fn optional_statements_appear_only_when_asked() {
        let base = policy_document(&PolicyOptions::new("cs"));
        let names = sids(&base);
        assert!(!names.iter().any(|s| s.starts_with("AutoScaling") || s.starts_with("Ec2Launch")));
        assert!(!names.contains(&"CostExplorer".to_owned()));

        let full = policy_document(&PolicyOptions {
            asg: true,
            cost_explorer: true,
            catalog: true,
            ..PolicyOptions::new("cs")
        });
        let names = sids(&full);
        for sid in ["AutoScalingGroups", "Ec2LaunchTemplates", "CostExplorer", "CatalogPrices"] {
            assert!(names.contains(&sid.to_owned()), "{sid}");
        }
        let mut unique = names.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), names.len(), "Sids are unique");
    }

    #[test]
    fn managed_instances_statements_appear_only_for_that_backend() {
        let asg = sids(&policy_document(&PolicyOptions { asg: true, ..PolicyOptions::new("cs") }));
        let mi = sids(&policy_document(&PolicyOptions {
            managed_instances: true,
            ..PolicyOptions::new("cs")
        }));
        for sid in ["IamPassInfrastructureRole", "IamInfrastructureInlinePolicy", "EcsRunAnchors"] {
            assert!(mi.contains(&sid.to_owned()), "{sid} with Managed Instances");
            assert!(!asg.contains(&sid.to_owned()), "{sid} without");
        }
        assert!(!mi.iter().any(|s| s.starts_with("AutoScaling") || s.starts_with("Ec2Launch")));
        assert!(mi.contains(&"IamPassInstanceRole".to_owned()));
    }

    #[test]
    fn each_role_is_passed_only_to_its_service() {
        let doc = policy_document(&PolicyOptions {
            asg: true,
            managed_instances: true,
            ..PolicyOptions::new("cs")
        });
        let expected = [
            ("IamPassTaskRoles", "ecs-tasks.amazonaws.com", vec!["task-execution", "task"]),
            ("IamPassInstanceRole", "ec2.amazonaws.com", vec!["instance"]),
            ("IamPassInfrastructureRole", "ecs.amazonaws.com", vec!["infrastructure"]),
        ];
        for (sid, service, roles) in expected {
            let found = doc["Statement"]
                .as_array()
                .unwrap()
                .iter()
                .find(|s| s["Sid"] == sid)
                .unwrap_or_else(|| panic!("{sid} missing"));
            assert_eq!(found["Action"], json!(["iam:PassRole"]), "{sid}");
            assert_eq!(found["Condition"]["StringEquals"]["iam:PassedToService"], service, "{sid}");
            let want: Vec<String> =
                roles.iter().map(|r| format!("arn:aws:iam::*:role/cs-{r}")).collect();
            assert_eq!(found["Resource"], json!(want), "{sid}");
        }
    }

    #[test]
    fn scoped_resources_name_the_prefix() {
        let doc = policy_document(&PolicyOptions {
            asg: true,
            managed_instances: true,
            ..PolicyOptions::new("myprefix")
        });
        for statement in doc["Statement"].as_array().unwrap() {
            let resources = match &statement["Resource"] {
                Value::String(one) => vec![one.clone()],
                Value::Array(many) => many.iter().map(|r| r.as_str().unwrap().to_owned()).collect(),
                other => panic!("bad resource {other}"),
            };
            for resource in resources {
                let scoped = resource.contains("myprefix")
                    || resource == "*"
                    || resource.contains("/aws/service/ecs/optimized-ami/")
                    || resource == "arn:aws:ec2:*:*:instance/*";
                assert!(scoped, "{} grants {resource}", statement["Sid"]);
            }
            // A "*" resource is only for actions that need it, or carries a condition.
            let actions: Vec<&str> = statement["Action"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a.as_str().unwrap())
                .collect();
            assert!(!actions.iter().any(|a| a.ends_with(":*")), "no action wildcards");
        }
        assert_eq!(doc["Version"], "2012-10-17");
    }
}
