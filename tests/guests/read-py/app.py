"""Test guest: streams one object ({"bucket": ..., "key": ...}) through the plugin in
64 KiB reads and returns the byte count (the per-language streaming benchmark)."""

import json

import wit_world
from componentize_py_types import Err
from wit_world.imports import accounts, s3


class WitWorld(wit_world.WitWorld):
    def run(self, input: str) -> str:
        args = json.loads(input)
        [account] = accounts.in_scope()
        body = s3.Client.open(account.id).get_object(args["bucket"], args["key"], None).body
        read = 0
        while True:
            try:
                read += len(body.blocking_read(65536))
            except Err:
                break
        return json.dumps({"bytes": read})
