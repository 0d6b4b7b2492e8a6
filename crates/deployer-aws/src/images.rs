//! Release images and launch template versions: `create_image`'s AMI of the
//! builder (tagged with the release and commit), the version of the group's
//! launch template that launches it, and their removal when the run fails.

use std::time::Duration;

use aws_sdk_ec2::types::{ImageState, RequestLaunchTemplateData, ResourceType, Tag, TagSpecification};

use crate::{Aws, AwsError};

/// Between two looks at an image being made.
const POLL: Duration = Duration::from_secs(3);

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
            tokio::time::sleep(POLL).await;
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
