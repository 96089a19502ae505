"""The classic cross-account handler in Python: for the account in scope, list its
buckets and greet it by alias. Built with componentize-py (see README, "Writing a
plugin")."""

import json

import wit_world
from wit_world.imports import accounts, s3


class WitWorld(wit_world.WitWorld):
    def run(self, input: str) -> str:
        [account] = accounts.in_scope()
        buckets = [b.name for b in s3.Client.open(account.id).list_buckets()]
        return json.dumps(
            {
                "greeting": f"Hello from {account.alias} ({account.id})!",
                "account": account.id,
                "buckets": buckets,
            }
        )
