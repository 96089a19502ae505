"""posture, in Python: the twin of plugins/posture (Rust), with the same input and the
same output, byte for byte as JSON (README, "The posture plugin").

Per account: each bucket's finding codes and a summary; with {"fix": [...]} the fixes of
public-access-block, encryption and versioning within the grant ("fixed", with each
setting's value before and after; what the grant or AWS refuses in "not_fixed")."""

import json

import wit_world
from componentize_py_types import Err
from wit_world.imports import accounts, invocation, s3, types

# The ACL groups that make a grant public (S3 User Guide, "Access control list (ACL)
# overview", Amazon S3 predefined groups).
PUBLIC_GROUPS = (
    "http://acs.amazonaws.com/groups/global/AllUsers",
    "http://acs.amazonaws.com/groups/global/AuthenticatedUsers",
)

SETTINGS = [
    s3.BucketSetting.LOCATION,
    s3.BucketSetting.VERSIONING,
    s3.BucketSetting.ENCRYPTION,
    s3.BucketSetting.PUBLIC_ACCESS_BLOCK,
    s3.BucketSetting.POLICY_STATUS,
    s3.BucketSetting.OWNERSHIP_CONTROLS,
    s3.BucketSetting.LIFECYCLE,
    s3.BucketSetting.LOGGING,
    s3.BucketSetting.ACL,
]

# Each fix, the findings it remedies.
FIXES = {
    "public-access-block": ("no-public-access-block",),
    "encryption": ("unencrypted", "sse-s3-only"),
    "versioning": ("versioning-off",),
}

SWITCHES = ("block_public_acls", "ignore_public_acls", "block_public_policy", "restrict_public_buckets")
ALL_ON = s3.PublicAccessBlock(True, True, True, True)
ALGORITHMS = {
    s3.SseAlgorithm.AES256: "AES256",
    s3.SseAlgorithm.AWS_KMS: "aws:kms",
    s3.SseAlgorithm.AWS_KMS_DSSE: "aws:kms:dsse",
}


class InputError(Exception):
    pass


def read_input(text):
    given = json.loads(text)
    unknown = set(given) - {"require_kms", "fix"}
    if unknown:
        raise InputError(f"unknown field `{sorted(unknown)[0]}`, expected `require_kms` or `fix`")
    fixes = given.get("fix", [])
    for fix in fixes:
        if fix not in FIXES:
            raise InputError(
                f"unknown variant `{fix}`, expected one of `public-access-block`, `encryption`, `versioning`"
            )
    return bool(given.get("require_kms", False)), fixes


def block_json(block):
    return None if block is None else {name: getattr(block, name) for name in SWITCHES}


def encryption_json(encryption):
    if encryption is None:
        return None
    return {
        "algorithm": ALGORITHMS[encryption.algorithm],
        "kms_key_id": encryption.kms_key_id,
        "bucket_key": encryption.bucket_key,
    }


def versioning_name(versioning):
    if versioning is None:
        return None
    return "Enabled" if versioning.status == s3.VersioningStatus.ENABLED else "Suspended"


def blocks_all(bucket, account):
    return all(
        (bucket is not None and getattr(bucket, name)) or (account is not None and getattr(account, name))
        for name in SWITCHES
    )


def findings(config, account_block, require_kms):
    found = []
    if config.policy_is_public is True:
        found.append("public-policy")
    if config.acl is not None and any(
        isinstance(grant.grantee, s3.Grantee_Group) and grant.grantee.value in PUBLIC_GROUPS
        for grant in config.acl.grants
    ):
        found.append("public-acl")
    if not blocks_all(config.public_access_block, account_block):
        found.append("no-public-access-block")
    if config.encryption is None:
        found.append("unencrypted")
    elif require_kms and config.encryption.algorithm == s3.SseAlgorithm.AES256:
        found.append("sse-s3-only")
    if config.versioning is None or config.versioning.status != s3.VersioningStatus.ENABLED:
        found.append("versioning-off")
    if config.ownership != s3.ObjectOwnership.BUCKET_OWNER_ENFORCED:
        found.append("acls-enabled")
    if not (config.lifecycle and any(rule.enabled for rule in config.lifecycle)):
        found.append("no-lifecycle")
    if config.logging is None:
        found.append("no-logging")
    return found


def apply(client, fix, bucket, config, require_kms):
    """Makes `fix` on `bucket`: the setting's value before and after."""
    if fix == "public-access-block":
        client.put_public_access_block(bucket, ALL_ON)
        return block_json(config.public_access_block), block_json(ALL_ON)
    if fix == "encryption":
        if require_kms:
            after = s3.DefaultEncryption(s3.SseAlgorithm.AWS_KMS, None, True)
        else:
            after = s3.DefaultEncryption(s3.SseAlgorithm.AES256, None, False)
        client.put_bucket_encryption(bucket, after)
        return encryption_json(config.encryption), encryption_json(after)
    client.put_bucket_versioning(bucket, s3.VersioningStatus.ENABLED)
    return versioning_name(config.versioning), "Enabled"


def describe(error):
    """The error in words, as the Rust SDK's `describe` says it."""
    if isinstance(error, types.Error_AccessDenied):
        by = "the xacct grant" if error.value.by == types.DeniedBy.XACCT else "the backend"
        return f"access denied by {by}: {error.value.message}"
    kind = {
        types.Error_NotFound: "not found",
        types.Error_Throttled: "throttled",
        types.Error_InvalidInput: "invalid input",
        types.Error_LimitExceeded: "limit exceeded",
        types.Error_Unavailable: "unavailable",
        types.Error_Other: "other",
    }[type(error)]
    return f"{kind}: {error.value}"


class WitWorld(wit_world.WitWorld):
    def run(self, input: str) -> str:
        try:
            require_kms, fixes = read_input(input)
        except (InputError, ValueError) as err:
            raise Err(f"the input is not what posture takes: {err}")
        [account] = accounts.in_scope()
        client = s3.Client.open(account.id)
        account_block = client.get_account_public_access_block()
        buckets, fixed, not_fixed, counts = [], [], [], {}
        with_findings = 0
        for bucket in client.list_buckets():
            config = client.get_bucket_config(bucket.name, SETTINGS)
            found = findings(config, account_block, require_kms)
            if found:
                with_findings += 1
            for code in found:
                counts[code] = counts.get(code, 0) + 1
            for fix in fixes:
                if not any(code in FIXES[fix] for code in found):
                    continue
                try:
                    before, after = apply(client, fix, bucket.name, config, require_kms)
                    fixed.append({"bucket": bucket.name, "setting": fix, "before": before, "after": after})
                except Err as err:
                    not_fixed.append({"bucket": bucket.name, "setting": fix, "error": describe(err.value)})
            buckets.append({"bucket": bucket.name, "region": config.region, "findings": found})
        return json.dumps(
            {
                "account": account.id,
                "buckets": buckets,
                "fixed": fixed,
                "not_fixed": not_fixed,
                "dry_run": invocation.dry_run(),
                "summary": {
                    "buckets": len(buckets),
                    "with_findings": with_findings,
                    "findings": dict(sorted(counts.items())),
                },
            }
        )
