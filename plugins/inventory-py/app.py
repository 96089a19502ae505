"""Per account: each bucket's object count and total bytes, paging through listings of
any size (plugins/inventory, in Python). Input: {"prefix": "..."}, optional."""

import json
import sys

import wit_world
from wit_world.imports import accounts, s3


class WitWorld(wit_world.WitWorld):
    def run(self, input: str) -> str:
        prefix = json.loads(input).get("prefix")
        [account] = accounts.in_scope()
        client = s3.Client.open(account.id)
        buckets = []
        for bucket in client.list_buckets():
            objects = size = 0
            token = None
            while True:
                page = client.list_objects(
                    s3.ListObjectsRequest(
                        bucket=bucket.name,
                        prefix=prefix,
                        delimiter=None,
                        max_keys=None,
                        continuation_token=token,
                        start_after=None,
                    )
                )
                objects += len(page.objects)
                size += sum(o.size for o in page.objects)
                token = page.next_continuation_token
                if token is None:
                    break
            print(f"{bucket.name}: {objects} objects", file=sys.stderr)
            buckets.append({"name": bucket.name, "objects": objects, "bytes": size})
        return json.dumps(
            {
                "account": account.id,
                "alias": account.alias,
                "buckets": buckets,
                "objects": sum(b["objects"] for b in buckets),
                "bytes": sum(b["bytes"] for b in buckets),
            }
        )
