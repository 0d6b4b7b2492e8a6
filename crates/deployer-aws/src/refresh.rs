//! AWS's instance refresh of a group (`aws.deploy_serial: refresh`): started to
//! the run's launch template version, launching before terminating, waited for,
//! and put back; and what is changing a group now (a refresh, a scaling
//! activity), which a deploy refuses to start over.

use std::time::Duration;

use aws_sdk_autoscaling::types::{
    DesiredConfiguration, InstanceRefresh, InstanceRefreshStatus, LaunchTemplateSpecification, RefreshPreferences,
    RefreshStrategy, ScalingActivityStatusCode,
};
use deployer_exec::LaunchedInstance;

use crate::autoscaling::call;
use crate::{Aws, AwsError};

/// How a refresh stands, as deployer acts on it.
#[derive(Debug, PartialEq, Eq)]
enum Standing {
    /// Pending, in progress, baking, cancelling or rolling back: not over.
    Going,
    Succeeded,
    /// Over without reaching its configuration (failed, cancelled, rolled back).
    Ended,
}

fn standing(status: Option<&InstanceRefreshStatus>) -> Standing {
    match status {
        Some(InstanceRefreshStatus::Successful) => Standing::Succeeded,
        Some(
            InstanceRefreshStatus::Failed
            | InstanceRefreshStatus::Cancelled
            | InstanceRefreshStatus::RollbackFailed
            | InstanceRefreshStatus::RollbackSuccessful,
        ) => Standing::Ended,
        _ => Standing::Going,
    }
}

/// One line about a refresh: its id, status, progress and AWS's reason.
fn describe(refresh: &InstanceRefresh) -> String {
    let id = refresh.instance_refresh_id().unwrap_or("?");
    let status = refresh.status().map_or("unknown", InstanceRefreshStatus::as_str);
    let mut line = format!("instance refresh {id} is {status}");
    if let Some(done) = refresh.percentage_complete() {
        line.push_str(&format!(" ({done}% done)"));
    }
    if let Some(reason) = refresh.status_reason().filter(|reason| !reason.is_empty()) {
        line.push_str(&format!(": {reason}"));
    }
    line
}

impl Aws {
    /// What is changing `group` now: refreshes not over, and scaling activities
    /// still in progress (AWS lists the newest first).
    pub(crate) async fn busy(&self, group: &str) -> Result<Vec<String>, AwsError> {
        let mut busy: Vec<String> = self
            .refreshes(group, None)
            .await?
            .iter()
            .filter(|r| standing(r.status()) == Standing::Going)
            .map(describe)
            .collect();
        let activities = self
            .autoscaling
            .describe_scaling_activities()
            .auto_scaling_group_name(group)
            .max_records(20)
            .send()
            .await
            .map_err(|error| call("DescribeScalingActivities", &error))?;
        for activity in activities.activities() {
            let over = matches!(
                activity.status_code(),
                Some(
                    ScalingActivityStatusCode::Successful
                        | ScalingActivityStatusCode::Failed
                        | ScalingActivityStatusCode::Cancelled
                )
            );
            if !over {
                let status = activity.status_code().map_or("unknown", ScalingActivityStatusCode::as_str);
                busy.push(format!(
                    "scaling activity \"{}\" is {status}",
                    activity.description().unwrap_or("without a description")
                ));
            }
        }
        Ok(busy)
    }

    async fn refreshes(&self, group: &str, id: Option<&str>) -> Result<Vec<InstanceRefresh>, AwsError> {
        let found = self
            .autoscaling
            .describe_instance_refreshes()
            .auto_scaling_group_name(group)
            .set_instance_refresh_ids(id.map(|id| vec![id.to_owned()]))
            .max_records(10)
            .send()
            .await
            .map_err(|error| call("DescribeInstanceRefreshes", &error))?;
        Ok(found.instance_refreshes().to_vec())
    }

    /// Starts a refresh of `group` to `version` of `template`: launch before
    /// terminate (never below the capacity, at most `max_healthy` percent of it),
    /// instances already on it skipped. Its id.
    async fn start_refresh(
        &self,
        group: &str,
        (template, version): (&str, &str),
        max_healthy: u32,
        auto_rollback: bool,
    ) -> Result<String, AwsError> {
        let desired = DesiredConfiguration::builder()
            .launch_template(
                LaunchTemplateSpecification::builder().launch_template_id(template).version(version).build(),
            )
            .build();
        let preferences = RefreshPreferences::builder()
            .min_healthy_percentage(100)
            .max_healthy_percentage(i32::try_from(max_healthy).unwrap_or(200))
            .skip_matching(true)
            .auto_rollback(auto_rollback)
            .build();
        let started = self
            .autoscaling
            .start_instance_refresh()
            .auto_scaling_group_name(group)
            .strategy(RefreshStrategy::Rolling)
            .desired_configuration(desired)
            .preferences(preferences)
            .send()
            .await
            .map_err(|error| call("StartInstanceRefresh", &error))?;
        started
            .instance_refresh_id()
            .map(str::to_owned)
            .ok_or_else(|| AwsError::Answer("StartInstanceRefresh answered without an id".to_owned()))
    }

    /// Waits until refresh `id` of `group` is over; an error unless it succeeded.
    async fn wait_refresh(&self, group: &str, id: &str, timeout: u32) -> Result<(), AwsError> {
        match self.wait_over(group, id, timeout).await? {
            Some(refresh) if standing(refresh.status()) == Standing::Succeeded => Ok(()),
            Some(refresh) => Err(AwsError::Answer(describe(&refresh))),
            None => Err(AwsError::Answer(format!("AWS does not know instance refresh {id} of `{group}`"))),
        }
    }

    /// Refreshes `group` to the run's `version` of `template` and waits; then the
    /// group's instances on `image` (the run's), with their addresses, `count` of
    /// them.
    pub(crate) async fn refresh(
        &self,
        group: &str,
        (template, version): (&str, &str),
        (max_healthy, timeout): (u32, u32),
        (image, count): (&str, usize),
    ) -> Result<(String, Vec<LaunchedInstance>), AwsError> {
        // AWS rolls a refresh that fails back by itself, even when deployer is gone.
        let id = self.start_refresh(group, (template, version), max_healthy, true).await?;
        self.wait_refresh(group, &id, timeout).await?;
        let instances = self.wait_for_group(group, count, &[], image, timeout).await?;
        Ok((id, instances))
    }

    /// Puts `group` back on `version` of `template`: a refresh not over is rolled
    /// back (cancelled when AWS cannot roll it back) and waited for; then, unless
    /// the group launches `version` and every instance runs `image`, a refresh to
    /// `version`, waited for. What it did, in words.
    pub(crate) async fn refresh_back(
        &self,
        group: &str,
        (template, version): (&str, u64),
        image: Option<&str>,
        timeout: u32,
    ) -> Result<String, AwsError> {
        let mut done = Vec::new();
        let going: Vec<InstanceRefresh> = self
            .refreshes(group, None)
            .await?
            .into_iter()
            .filter(|refresh| standing(refresh.status()) == Standing::Going)
            .collect();
        for refresh in &going {
            let id = refresh.instance_refresh_id().unwrap_or_default();
            let rolled = self.autoscaling.rollback_instance_refresh().auto_scaling_group_name(group).send().await;
            if rolled.is_ok() {
                done.push(format!("rolled back refresh {id}"));
            } else {
                self.autoscaling
                    .cancel_instance_refresh()
                    .auto_scaling_group_name(group)
                    .send()
                    .await
                    .map_err(|error| call("CancelInstanceRefresh", &error))?;
                done.push(format!("cancelled refresh {id}"));
            }
            self.wait_over(group, id, timeout).await?;
        }
        if self.launches(group, version, image).await? {
            done.push(format!("`{group}` is on version {version}"));
            return Ok(done.join("; "));
        }
        let back = self.start_refresh(group, (template, &version.to_string()), 200, false).await?;
        self.wait_refresh(group, &back, timeout).await?;
        done.push(format!("refreshed `{group}` back to version {version} ({back})"));
        Ok(done.join("; "))
    }

    /// Waits until refresh `id` of `group` is over, however it ended: how it
    /// ended, or `None` when AWS does not know it.
    async fn wait_over(&self, group: &str, id: &str, timeout: u32) -> Result<Option<InstanceRefresh>, AwsError> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(u64::from(timeout));
        loop {
            let found = self.refreshes(group, Some(id)).await?;
            let Some(refresh) = found.into_iter().find(|refresh| refresh.instance_refresh_id() == Some(id)) else {
                return Ok(None);
            };
            if standing(refresh.status()) != Standing::Going {
                return Ok(Some(refresh));
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(AwsError::Answer(format!("after {timeout}s, {}", describe(&refresh))));
            }
            tokio::time::sleep(self.poll).await;
        }
    }

    /// Whether `group` launches `version` and each of its instances runs `image`.
    async fn launches(&self, group: &str, version: u64, image: Option<&str>) -> Result<bool, AwsError> {
        let described = self.describe_group(group).await?;
        let on_version = described.launch_template().and_then(LaunchTemplateSpecification::version)
            == Some(version.to_string().as_str());
        let Some(image) = image else { return Ok(on_version) };
        let ids: Vec<String> =
            described.instances().iter().filter_map(|instance| instance.instance_id()).map(str::to_owned).collect();
        if !on_version || ids.is_empty() {
            return Ok(on_version);
        }
        let found = self
            .ec2
            .describe_instances()
            .set_instance_ids(Some(ids))
            .send()
            .await
            .map_err(|error| AwsError::call("DescribeInstances", &error))?;
        Ok(found
            .reservations()
            .iter()
            .flat_map(aws_sdk_ec2::types::Reservation::instances)
            .all(|instance| instance.image_id() == Some(image)))
    }
}

#[cfg(test)]
mod tests {
    //! What moto cannot emulate (a refresh's progress over time, its failure,
    //! AWS rolling it back, a refresh that cannot be rolled back), against a stub
    //! of the Auto Scaling query API.

    use crate::stub::{AUTOSCALING, Answer, Stub, error, ok};

    const GROUP: &str = "myproject-production-ag";

    fn refresh(status: &str, done: u32, reason: &str) -> Answer {
        ok(
            AUTOSCALING,
            "DescribeInstanceRefreshes",
            &format!(
                "<InstanceRefreshes><member><InstanceRefreshId>0a1b</InstanceRefreshId>\
                 <AutoScalingGroupName>{GROUP}</AutoScalingGroupName><Status>{status}</Status>\
                 <StatusReason>{reason}</StatusReason><PercentageComplete>{done}</PercentageComplete></member>\
                 </InstanceRefreshes>"
            ),
        )
    }

    fn none() -> Answer {
        ok(AUTOSCALING, "DescribeInstanceRefreshes", "<InstanceRefreshes/>")
    }

    fn started() -> (&'static str, Vec<Answer>) {
        (
            "StartInstanceRefresh",
            vec![ok(AUTOSCALING, "StartInstanceRefresh", "<InstanceRefreshId>0a1b</InstanceRefreshId>")],
        )
    }

    /// The group on launch template `lt-0abc` `version`, without instances.
    fn group(version: u32) -> (&'static str, Vec<Answer>) {
        let inner = format!(
            "<AutoScalingGroups><member><AutoScalingGroupName>{GROUP}</AutoScalingGroupName><LaunchTemplate>\
             <LaunchTemplateId>lt-0abc</LaunchTemplateId><Version>{version}</Version></LaunchTemplate><MinSize>0\
             </MinSize><MaxSize>0</MaxSize><DesiredCapacity>0</DesiredCapacity><Instances/></member>\
             </AutoScalingGroups>"
        );
        ("DescribeAutoScalingGroups", vec![ok(AUTOSCALING, "DescribeAutoScalingGroups", &inner)])
    }

    #[tokio::test]
    async fn a_refresh_launches_before_terminating_and_is_waited_for_until_it_succeeds() {
        let answers = vec![refresh("Pending", 0, ""), refresh("InProgress", 50, ""), refresh("Successful", 100, "")];
        let stub = Stub::serve(AUTOSCALING, vec![started(), ("DescribeInstanceRefreshes", answers)]);
        let aws = stub.client().await;
        let id = aws.start_refresh(GROUP, ("lt-0abc", "8"), 150, true).await.unwrap();
        aws.wait_refresh(GROUP, &id, 600).await.unwrap();
        assert_eq!(stub.actions().iter().filter(|action| *action == "DescribeInstanceRefreshes").count(), 3);
        let body = stub.body("StartInstanceRefresh");
        for sent in [
            "Strategy=Rolling",
            "DesiredConfiguration.LaunchTemplate.LaunchTemplateId=lt-0abc",
            "DesiredConfiguration.LaunchTemplate.Version=8",
            "Preferences.MinHealthyPercentage=100",
            "Preferences.MaxHealthyPercentage=150",
            "Preferences.SkipMatching=true",
            "Preferences.AutoRollback=true",
        ] {
            assert!(body.contains(sent), "{sent} in {body}");
        }
    }

    #[tokio::test]
    async fn a_refresh_that_fails_or_is_rolled_back_fails_with_awss_reason() {
        for (status, reason) in [("Failed", "Instances failed to launch"), ("RollbackSuccessful", "Alarm triggered")] {
            let answers = vec![refresh("InProgress", 20, ""), refresh(status, 20, reason)];
            let stub = Stub::serve(AUTOSCALING, vec![("DescribeInstanceRefreshes", answers)]);
            let error = stub.client().await.wait_refresh(GROUP, "0a1b", 600).await.unwrap_err().to_string();
            assert!(error.contains(&format!("instance refresh 0a1b is {status} (20% done): {reason}")), "{error}");
        }
    }

    #[tokio::test]
    async fn a_refresh_still_going_when_the_wait_ends_is_an_error_saying_how_far_it_got() {
        let stub = Stub::serve(AUTOSCALING, vec![("DescribeInstanceRefreshes", vec![refresh("InProgress", 40, "")])]);
        let error = stub.client().await.wait_refresh(GROUP, "0a1b", 1).await.unwrap_err().to_string();
        assert!(error.contains("after 1s, instance refresh 0a1b is InProgress (40% done)"), "{error}");
    }

    #[tokio::test]
    async fn putting_back_rolls_back_a_refresh_still_going_and_stops_when_the_group_is_back() {
        let answers = vec![
            refresh("InProgress", 40, ""),
            refresh("RollbackInProgress", 40, ""),
            refresh("RollbackSuccessful", 0, ""),
        ];
        let stub = Stub::serve(AUTOSCALING, vec![("DescribeInstanceRefreshes", answers), group(7)]);
        let note = stub.client().await.refresh_back(GROUP, ("lt-0abc", 7), None, 600).await.unwrap();
        assert_eq!(note, format!("rolled back refresh 0a1b; `{GROUP}` is on version 7"));
        assert!(!stub.actions().contains(&"StartInstanceRefresh".to_owned()), "{:?}", stub.actions());
        assert!(!stub.actions().contains(&"CancelInstanceRefresh".to_owned()), "{:?}", stub.actions());
    }

    #[tokio::test]
    async fn a_refresh_aws_cannot_roll_back_is_cancelled_and_the_group_refreshed_back() {
        let answers = vec![
            refresh("InProgress", 40, ""),
            refresh("Cancelled", 40, ""),
            refresh("InProgress", 10, ""),
            refresh("Successful", 100, ""),
        ];
        let refused = error(AUTOSCALING, 400, "ValidationError", "The rollback is not available");
        let stub = Stub::serve(
            AUTOSCALING,
            vec![
                ("DescribeInstanceRefreshes", answers),
                ("RollbackInstanceRefresh", vec![refused]),
                started(),
                group(8),
            ],
        );
        let note = stub.client().await.refresh_back(GROUP, ("lt-0abc", 7), None, 600).await.unwrap();
        assert_eq!(note, format!("cancelled refresh 0a1b; refreshed `{GROUP}` back to version 7 (0a1b)"));
        let body = stub.body("StartInstanceRefresh");
        assert!(body.contains("DesiredConfiguration.LaunchTemplate.Version=7"), "{body}");
        assert!(body.contains("Preferences.AutoRollback=false"), "{body}");
    }

    #[tokio::test]
    async fn a_refresh_or_a_scaling_activity_in_progress_makes_the_group_busy() {
        let activities = ok(
            AUTOSCALING,
            "DescribeScalingActivities",
            "<Activities><member><ActivityId>1</ActivityId><Description>Launching a new EC2 instance: i-0abc</Description>\
             <StatusCode>InProgress</StatusCode></member><member><ActivityId>2</ActivityId><Description>Terminating \
             EC2 instance: i-0def</Description><StatusCode>Successful</StatusCode></member></Activities>",
        );
        let stub = Stub::serve(
            AUTOSCALING,
            vec![
                ("DescribeInstanceRefreshes", vec![refresh("Baking", 100, "")]),
                ("DescribeScalingActivities", vec![activities]),
            ],
        );
        let busy = stub.client().await.busy(GROUP).await.unwrap();
        assert_eq!(
            busy,
            [
                "instance refresh 0a1b is Baking (100% done)",
                "scaling activity \"Launching a new EC2 instance: i-0abc\" is InProgress"
            ]
        );
        let quiet = Stub::serve(AUTOSCALING, vec![("DescribeInstanceRefreshes", vec![none()])]);
        assert!(quiet.client().await.busy(GROUP).await.unwrap().is_empty());
    }
}
