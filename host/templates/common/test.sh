#!/usr/bin/env bash
# Builds {{name}}, runs it against every account of ./data and checks that each
# account's entry is ok and counted the example objects. XACCT names the host.
set -euo pipefail
cd "$(dirname "$0")"
xacct=${XACCT:-{{xacct}}}

./build.sh
report=$("$xacct" run {{name}} --config xacct.toml --output json)
echo "$report"
# xacct exits non-zero when any account failed; the counts come from ./data.
grep -q '"objects": 2' <<<"$report"
grep -q '"objects": 1' <<<"$report"
echo "{{name}}: ok"
