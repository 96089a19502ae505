"""Test guest: prints to stdout and stderr, then returns, or with {"raise": MESSAGE}
raises a ValueError, or with {"err": MESSAGE} returns that error the WIT way."""

import json
import sys

import wit_world
from componentize_py_types import Err


class WitWorld(wit_world.WitWorld):
    def run(self, input: str) -> str:
        args = json.loads(input)
        print("out: one")
        print("error: two", file=sys.stderr)
        if "raise" in args:
            raise ValueError(args["raise"])
        if "err" in args:
            raise Err(args["err"])
        return json.dumps({"ok": True})
