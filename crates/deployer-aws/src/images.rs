//! Release images and launch template versions: `create_image`'s AMI of the
//! builder (tagged with the release and commit), the version of the group's
//! launch template that launches it, and their removal when the run fails.

use std::time::Duration;

use aws_sdk_ec2::types::{ImageState, RequestLaunchTemplateData, ResourceType, Tag, TagSpecification};

use crate::{Aws, AwsError};

impl Aws {
    /// Makes an image of `instance` named `name`, tagged (with its snapshots),
    /// and waits until it is available. An image that fails, or is not available
    /// in time, is deregistered before the error returns.
    pub async fn create_image(
        &self,
        instance: &str,
        name: &str,
        tags: &[(String, String)],
        timeout: u32,
    ) -> Result<String, AwsError> {
        let tags: Vec<Tag> = tags.iter().map(|(key, value)| Tag::builder().key(key).value(value).build()).collect();
        let made = self
            .ec2
            .create_image()
            .instance_id(instance)
            .name(name)
            .description(format!("deployer: {name}"))
            .tag_specifications(
                TagSpecification::builder().resource_type(ResourceType::Image).set_tags(Some(tags.clone())).build(),
            )
            .send()
            .await
            .map_err(|error| AwsError::call("CreateImage", &error))?;
        let image = made.image_id().ok_or_else(|| AwsError::Answer("CreateImage named no image".to_owned()))?;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(u64::from(timeout));
        loop {
            let found = self
                .ec2
                .describe_images()
                .image_ids(image)
                .send()
                .await
                .map_err(|error| AwsError::call("DescribeImages", &error))?;
            let state = found.images().first().and_then(|found| found.state().cloned());
            match state {
                Some(ImageState::Available) => {
                    // Its snapshots are tagged once they exist (tagging them at
                    // creation is not supported everywhere), so a snapshot list
                    // shows which release each belongs to.
                    let snapshots = snapshots(&found);
                    if !snapshots.is_empty() {
                        self.ec2
                            .create_tags()
                            .set_resources(Some(snapshots))
                            .set_tags(Some(tags))
                            .send()
                            .await
                            .map_err(|error| AwsError::call("CreateTags", &error))?;
                    }
                    return Ok(image.to_owned());
                }
                Some(ImageState::Pending) | None => {}
                Some(other) => {
                    let _ = self.delete_image(image).await;
                    return Err(AwsError::Answer(format!("image {image} is {} instead of available", other.as_str())));
                }
            }
            if tokio::time::Instant::now() >= deadline {
                let _ = self.delete_image(image).await;
                return Err(AwsError::Answer(format!("image {image} was not available after {timeout}s")));
            }
            tokio::time::sleep(self.poll).await;
        }
    }

    /// Deregisters `image` and deletes its snapshots.
    pub async fn delete_image(&self, image: &str) -> Result<(), AwsError> {
        let found = self
            .ec2
            .describe_images()
            .image_ids(image)
            .send()
            .await
            .map_err(|error| AwsError::call("DescribeImages", &error))?;
        let snapshots = snapshots(&found);
        self.ec2
            .deregister_image()
            .image_id(image)
            .send()
            .await
            .map_err(|error| AwsError::call("DeregisterImage", &error))?;
        for snapshot in snapshots {
            self.ec2
                .delete_snapshot()
                .snapshot_id(&snapshot)
                .send()
                .await
                .map_err(|error| AwsError::call("DeleteSnapshot", &error))?;
        }
        Ok(())
    }

    /// A new version of `template`: a copy of `source_version` that launches
    /// `image`. Returns its number.
    pub async fn create_template_version(
        &self,
        template: &str,
        source_version: u64,
        image: &str,
        description: &str,
    ) -> Result<u64, AwsError> {
        let made = self
            .ec2
            .create_launch_template_version()
            .launch_template_id(template)
            .source_version(source_version.to_string())
            .version_description(description)
            .launch_template_data(RequestLaunchTemplateData::builder().image_id(image).build())
            .send()
            .await
            .map_err(|error| AwsError::call("CreateLaunchTemplateVersion", &error))?;
        made.launch_template_version()
            .and_then(aws_sdk_ec2::types::LaunchTemplateVersion::version_number)
            .and_then(|number| u64::try_from(number).ok())
            .ok_or_else(|| AwsError::Answer("CreateLaunchTemplateVersion named no version".to_owned()))
    }

    pub async fn delete_template_version(&self, template: &str, version: &str) -> Result<(), AwsError> {
        let answer = self
            .ec2
            .delete_launch_template_versions()
            .launch_template_id(template)
            .versions(version)
            .send()
            .await
            .map_err(|error| AwsError::call("DeleteLaunchTemplateVersions", &error))?;
        match answer.unsuccessfully_deleted_launch_template_versions().first() {
            Some(failed) => Err(AwsError::Answer(format!(
                "version {version} of {template} was not deleted: {}",
                failed.response_error().and_then(|error| error.message()).unwrap_or("no reason given")
            ))),
            None => Ok(()),
        }
    }
}

/// The snapshots behind the images of a `DescribeImages` answer.
fn snapshots(found: &aws_sdk_ec2::operation::describe_images::DescribeImagesOutput) -> Vec<String> {
    found
        .images()
        .iter()
        .flat_map(aws_sdk_ec2::types::Image::block_device_mappings)
        .filter_map(|mapping| mapping.ebs().and_then(|ebs| ebs.snapshot_id()))
        .map(str::to_owned)
        .collect()
}

/// What [`Aws::prune_images`] asks for: whose images, how many to keep, which
/// never to touch.
pub struct Pruning<'a> {
    pub deployment: &'a str,
    pub environment: &'a str,
    pub role: &'a str,
    pub template: &'a str,
    pub keep: usize,
    pub protect: &'a [String],
}

impl Aws {
    /// Removes the release images of `pruning.role` beyond the newest `keep`, with
    /// their snapshots and the versions of the template that launch them. Returns
    /// what it did and what it could not do, in words: housekeeping never fails
    /// a deploy.
    pub async fn prune_images(&self, pruning: &Pruning<'_>) -> String {
        let filter = |name: &str, value: &str| aws_sdk_ec2::types::Filter::builder().name(name).values(value).build();
        let found = self
            .ec2
            .describe_images()
            .owners("self")
            .filters(filter("tag:deployment", pruning.deployment))
            .filters(filter("tag:environment", pruning.environment))
            .filters(filter("tag:role", pruning.role))
            .filters(filter("tag-key", "deployer:release"))
            .send()
            .await;
        let mut images = match found {
            Ok(found) => found.images().to_vec(),
            Err(error) => return format!("old images not pruned: {}", AwsError::call("DescribeImages", &error)),
        };
        // Newest first (RFC 3339 dates sort as text), then by id for equal dates.
        images.sort_by(|a, b| (b.creation_date(), b.image_id()).cmp(&(a.creation_date(), a.image_id())));
        let old: Vec<String> = images
            .iter()
            .skip(pruning.keep)
            .filter_map(|image| image.image_id())
            .filter(|id| !pruning.protect.iter().any(|protected| protected == id))
            .map(str::to_owned)
            .collect();
        if old.is_empty() {
            return format!("{} release image(s), none beyond the {} kept", images.len(), pruning.keep);
        }
        let mut problems = Vec::new();
        let versions = self.versions_launching(pruning.template, &old).await;
        match versions {
            Ok(versions) => {
                for version in versions {
                    if let Err(error) = self.delete_template_version(pruning.template, &version).await {
                        problems.push(error.to_string());
                    }
                }
            }
            Err(error) => problems.push(error.to_string()),
        }
        let mut removed = Vec::new();
        for image in &old {
            match self.delete_image(image).await {
                Ok(()) => removed.push(image.as_str()),
                Err(error) => problems.push(error.to_string()),
            }
        }
        let mut note = format!("removed {} old release image(s)", removed.len());
        if !removed.is_empty() {
            note.push_str(&format!(" ({})", removed.join(", ")));
        }
        if !problems.is_empty() {
            note.push_str(&format!("; not done: {}", problems.join("; ")));
        }
        note
    }

    /// The versions of `template` deployer made (`deployer release ...`) that
    /// launch one of `images`, but never its default version.
    async fn versions_launching(&self, template: &str, images: &[String]) -> Result<Vec<String>, AwsError> {
        let mut pages =
            self.ec2.describe_launch_template_versions().launch_template_id(template).into_paginator().send();
        let mut versions = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|error| AwsError::call("DescribeLaunchTemplateVersions", &error))?;
            for version in page.launch_template_versions() {
                let ours = version.version_description().is_some_and(|text| text.starts_with("deployer release "));
                let image = version.launch_template_data().and_then(|data| data.image_id());
                let launches_old = image.is_some_and(|image| images.iter().any(|old| old == image));
                if ours && launches_old && version.default_version() != Some(true) {
                    versions.extend(version.version_number().map(|number| number.to_string()));
                }
            }
        }
        Ok(versions)
    }
}
