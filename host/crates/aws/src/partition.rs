//! AWS partitions ("Identify AWS resources with Amazon Resource Names (ARNs)", IAM User
//! Guide: `arn:PARTITION:service:region:account:resource`): every ARN the host builds
//! names the home identity's partition, and a region code is valid when it belongs to a
//! partition.
//!
//! The data is the partition table of the Rust SDK's endpoint rules (each `aws-sdk-*`
//! crate embeds it in `src/endpoint_lib.rs`, `DEFAULT_PARTITION_RESOLVER`, which is
//! `pub(crate)`; botocore ships the same as `botocore/data/partitions.json`): per
//! partition its id, DNS suffix and `regionRegex`. Regions are matched by the regex, as
//! the SDK does, not by a list, so a region opened after this build still passes; a
//! typo (`eu-west1`, `Ohio`) does not. The unit test below resolves a region of each
//! partition through aws-sdk-sts's public endpoint resolver, so an SDK upgrade that
//! changes the data fails a test rather than drifting.

/// One partition.
#[derive(Debug, PartialEq, Eq)]
pub struct Partition {
    /// `aws`, `aws-cn`, `aws-us-gov`, …: the ARNs' second field.
    pub id: &'static str,
    /// The DNS suffix of its endpoints and service principals (`s3.REGION.SUFFIX`).
    pub dns_suffix: &'static str,
    /// The SDK's `regionRegex` is `^(PREFIX)\-\w+\-\d+$`: the prefixes it allows.
    region_prefixes: &'static [&'static str],
}

/// The SDK's partitions, in its order (aws-sdk-sts 1.124.0, `endpoint_lib.rs`).
const PARTITIONS: &[Partition] = &[
    Partition {
        id: "aws",
        dns_suffix: "amazonaws.com",
        region_prefixes: &["us", "eu", "ap", "sa", "ca", "me", "af", "il", "mx"],
    },
    Partition {
        id: "aws-cn",
        dns_suffix: "amazonaws.com.cn",
        region_prefixes: &["cn"],
    },
    Partition {
        id: "aws-eusc",
        dns_suffix: "amazonaws.eu",
        region_prefixes: &["eusc-de"],
    },
    Partition {
        id: "aws-iso",
        dns_suffix: "c2s.ic.gov",
        region_prefixes: &["us-iso"],
    },
    Partition {
        id: "aws-iso-b",
        dns_suffix: "sc2s.sgov.gov",
        region_prefixes: &["us-isob"],
    },
    Partition {
        id: "aws-iso-e",
        dns_suffix: "cloud.adc-e.uk",
        region_prefixes: &["eu-isoe"],
    },
    Partition {
        id: "aws-iso-f",
        dns_suffix: "csp.hci.ic.gov",
        region_prefixes: &["us-isof"],
    },
    Partition {
        id: "aws-us-gov",
        dns_suffix: "amazonaws.com",
        region_prefixes: &["us-gov"],
    },
];

/// The commercial partition: where a region or ARN that names none is.
pub const AWS: &Partition = &PARTITIONS[0];

impl Partition {
    /// The partition whose `regionRegex` `region` matches, if any.
    pub fn of_region(region: &str) -> Option<&'static Partition> {
        // `PREFIX-WORD-NUMBER`, where WORD is `\w+` (no '-') and NUMBER `\d+`.
        let (rest, number) = region.rsplit_once('-')?;
        let (prefix, word) = rest.rsplit_once('-')?;
        let lower_word = |w: &str| {
            !w.is_empty()
                && w.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        };
        if region.len() > 32
            || !lower_word(word)
            || number.is_empty()
            || !number.bytes().all(|b| b.is_ascii_digit())
        {
            return None;
        }
        PARTITIONS
            .iter()
            .find(|partition| partition.region_prefixes.contains(&prefix))
    }

    /// The partition an ARN names (`arn:aws-cn:…`), if it is one.
    pub fn of_arn(arn: &str) -> Option<&'static Partition> {
        let id = arn.strip_prefix("arn:")?.split(':').next()?;
        PARTITIONS.iter().find(|partition| partition.id == id)
    }

    /// The partition of the home identity: its ARN's, else its region's, else `aws`.
    pub fn of_home(arn: Option<&str>, region: Option<&str>) -> &'static Partition {
        arn.and_then(Partition::of_arn)
            .or_else(|| region.and_then(Partition::of_region))
            .unwrap_or(AWS)
    }

    /// The name S3 calls KMS under in `region` of this partition (the value of
    /// `kms:ViaService`, "AWS KMS condition keys", KMS Developer Guide), `*` for any region.
    pub fn s3_service(&self, region: &str) -> String {
        format!("s3.{region}.{}", self.dns_suffix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_sts::config::endpoint::{DefaultResolver, Params, ResolveEndpoint};

    #[test]
    fn regions_belong_to_their_partition_and_typos_to_none() {
        for (region, id) in [
            ("us-east-1", "aws"),
            ("il-central-1", "aws"),
            ("ap-southeast-7", "aws"),
            ("cn-north-1", "aws-cn"),
            ("us-gov-west-1", "aws-us-gov"),
            ("eusc-de-east-1", "aws-eusc"),
            ("us-isob-east-1", "aws-iso-b"),
            ("eu-isoe-west-1", "aws-iso-e"),
        ] {
            assert_eq!(
                Partition::of_region(region).map(|p| p.id),
                Some(id),
                "{region}"
            );
        }
        for typo in [
            "eu-west1",
            "us-east-1a",
            "Ohio",
            "EU West (Ireland)",
            "useast1",
            "xx-east-1",
            "us--1",
            "",
            "local",
        ] {
            assert_eq!(Partition::of_region(typo), None, "{typo}");
        }
    }

    #[test]
    fn the_home_partition_comes_from_the_arn_then_the_region() {
        let cn = Partition::of_home(Some("arn:aws-cn:iam::111111111111:user/x"), None);
        assert_eq!(cn.id, "aws-cn");
        let gov = Partition::of_home(None, Some("us-gov-east-1"));
        assert_eq!(gov.id, "aws-us-gov");
        assert_eq!(Partition::of_home(Some("not-an-arn"), None), AWS);
        assert_eq!(AWS.s3_service("eu-west-1"), "s3.eu-west-1.amazonaws.com");
    }

    /// The table agrees with the SDK this build uses: STS's public endpoint resolver puts
    /// each partition's DNS suffix in its regions' endpoints.
    #[test]
    fn the_table_matches_the_sdks_partition_data() {
        let resolver = DefaultResolver::new();
        for (region, partition) in [
            ("eu-west-1", "aws"),
            ("cn-northwest-1", "aws-cn"),
            ("eusc-de-east-1", "aws-eusc"),
            ("us-iso-east-1", "aws-iso"),
            ("us-isob-east-1", "aws-iso-b"),
            ("eu-isoe-west-1", "aws-iso-e"),
            ("us-isof-south-1", "aws-iso-f"),
            ("us-gov-west-1", "aws-us-gov"),
        ] {
            let found = Partition::of_region(region).unwrap();
            assert_eq!(found.id, partition);
            let params = Params::builder().region(region).build().unwrap();
            let endpoint = resolver.resolve_endpoint(&params);
            let endpoint = futures::executor::block_on(endpoint).unwrap();
            assert!(
                endpoint.url().ends_with(found.dns_suffix),
                "{region}: {} is not in {}",
                endpoint.url(),
                found.dns_suffix
            );
        }
    }
}
