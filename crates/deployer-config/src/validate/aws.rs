//! The `aws:` section and `FabulAWS`'s `region` and `ec2_attr_for_ssh`: how deployer
//! reaches the AWS API and which hosts it finds there. Nothing here talks to AWS;
//! `deployer-aws` does, from these validated settings.

use super::{TopLevel, Validator};
use crate::key_path::KeyPath;
use crate::model::{AwsSettings, SshAddress};
use crate::raw::{RawAws, RawDiscover};

impl Validator<'_> {
    pub(super) fn aws(&mut self, top: &mut TopLevel) -> AwsSettings {
        let path = KeyPath::root().key("aws");
        let raw: RawAws = self.take(top, "aws").unwrap_or_default();
        let top_region = self.take::<String>(top, "region");
        let ssh_address = self.take::<SshAddress>(top, "ec2_attr_for_ssh").unwrap_or_default();
        // `aws.region` wins over FabulAWS's top-level `region`.
        let (region, region_path) = match (raw.region, top_region) {
            (Some(region), _) => (Some(region), path.key("region")),
            (None, region) => (region, KeyPath::root().key("region")),
        };
        if let Some(region) = &region {
            self.check(&region_path, check_region(region));
        }
        if let Some(profile) = &raw.profile {
            self.check(&path.key("profile"), check_profile(profile));
        }
        if let Some(url) = &raw.endpoint_url {
            self.check(&path.key("endpoint_url"), check_endpoint(url));
        }
        AwsSettings {
            region,
            profile: raw.profile,
            endpoint_url: raw.endpoint_url,
            discover_by_tags: matches!(raw.discover, Some(RawDiscover::Tags)),
            ssh_address,
        }
    }
}

/// `us-east-1`, `eu-central-2`, `us-gov-west-1`, `cn-north-1`.
fn check_region(region: &str) -> Result<(), String> {
    let valid = region.len() <= 32
        && region.split('-').count() >= 3
        && region
            .split('-')
            .all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()))
        && region.rsplit('-').next().is_some_and(|last| last.bytes().all(|b| b.is_ascii_digit()));
    if valid { Ok(()) } else { Err(format!("`{region}` is not an AWS region name (like `us-east-1`)")) }
}

/// A profile name from `~/.aws/config`.
fn check_profile(profile: &str) -> Result<(), String> {
    let valid = !profile.is_empty()
        && profile.len() <= 128
        && profile.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'@' | b'+'));
    if valid { Ok(()) } else { Err(format!("`{profile}` is not a profile name (letters, digits, `-_.@+`)")) }
}

/// An AWS API endpoint for an emulator (moto, LocalStack): `http(s)://host[:port]`.
fn check_endpoint(url: &str) -> Result<(), String> {
    let rest = url.strip_prefix("http://").or_else(|| url.strip_prefix("https://"));
    match rest {
        Some(rest) if !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_graphic()) => Ok(()),
        _ => Err(format!("`{url}` is not an http:// or https:// URL")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions() {
        for good in ["us-east-1", "eu-central-2", "us-gov-west-1", "ap-southeast-4"] {
            assert!(check_region(good).is_ok(), "{good}");
        }
        for bad in ["us-east", "US-EAST-1", "us_east_1", "us-east-1; rm -rf /", "", "us--1"] {
            assert!(check_region(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn endpoints_and_profiles() {
        assert!(check_endpoint("http://127.0.0.1:5000").is_ok());
        assert!(check_endpoint("ftp://x").is_err() && check_endpoint("http://").is_err());
        assert!(check_profile("myproject-deploy").is_ok());
        assert!(check_profile("a b").is_err() && check_profile("").is_err());
    }
}
