"""{{name}}: for the account it runs in, each bucket with its number of objects."""

import json

import wit_world
from wit_world.imports import accounts, s3


class WitWorld(wit_world.WitWorld):
    def run(self, input: str) -> str:
        [account] = accounts.in_scope()
        client = s3.Client.open(account.id)
        buckets = []
        for bucket in client.list_buckets():
            objects, token = 0, None
            while True:
                page = client.list_objects(
                    s3.ListObjectsRequest(
                        bucket=bucket.name,
                        prefix=None,
                        delimiter=None,
                        max_keys=None,
                        continuation_token=token,
                        start_after=None,
                    )
                )
                objects += len(page.objects)
                token = page.next_continuation_token
                if token is None:
                    break
            # Printed lines go to the host's log; "warn:" and "error:" set their level.
            print(f"{bucket.name}: {objects} objects")
            buckets.append({"name": bucket.name, "objects": objects})
        return json.dumps({"account": account.id, "alias": account.alias, "buckets": buckets})
