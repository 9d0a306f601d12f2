#!/bin/sh
# Checks deploy/: Prometheus config and alert rules (promtool check + the
# alert unit tests), the Grafana dashboard (valid JSON, every query valid
# PromQL), and the YAML of compose and k8s. Needs promtool (Debian package
# "prometheus") and python3; PyYAML is used when present.
# Run from anywhere: deploy/check.sh
set -eu
cd "$(dirname "$0")"
command -v promtool >/dev/null 2>&1 || { echo "check.sh: promtool not found (apt-get install prometheus)" >&2; exit 1; }

promtool check config prometheus/prometheus.yml
promtool check rules prometheus/alerts.yml
promtool test rules prometheus/alerts_test.yml

python3 -m json.tool grafana/newsflow.json >/dev/null
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# Every dashboard query as a recording rule, with Grafana's variables
# replaced, so promtool parses it.
python3 - grafana/newsflow.json >"$tmp/dashboard-rules.yml" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
exprs = []
def walk(ps):
    for p in ps:
        walk(p.get("panels", []))
        for t in p.get("targets", []):
            e = t["expr"]
            for k, v in (("$__rate_interval", "5m"), ("$job", ".+"), ("$consumer", ".+")):
                e = e.replace(k, v)
            exprs.append((p["title"], e))
walk(d["panels"])
print("groups:\n  - name: dashboard\n    rules:")
for i, (title, e) in enumerate(exprs):
    print("      - record: dashboard:query_%d" % i)
    print("        expr: %s" % json.dumps(e))
PY
promtool check rules "$tmp/dashboard-rules.yml" >/dev/null || { echo "check.sh: a dashboard query is not valid PromQL" >&2; promtool check rules "$tmp/dashboard-rules.yml"; exit 1; }
echo "grafana/newsflow.json: valid JSON, queries parse"

if python3 -c 'import yaml' 2>/dev/null; then
	python3 - compose.yaml k8s/*.yaml grafana/provisioning/*/*.yaml <<'PY'
import sys, yaml
for f in sys.argv[1:]:
    list(yaml.safe_load_all(open(f)))
print("YAML ok: %d files" % (len(sys.argv) - 1))
PY
fi
# The compose file stays valid for both Compose v2 (docker compose) and the
# Python v1 (docker-compose, Debian's package), so either checks it; neither
# needs a Docker engine for "config".
if docker compose version >/dev/null 2>&1; then
	docker compose -f compose.yaml config -q && echo "compose.yaml: docker compose config ok"
elif command -v docker-compose >/dev/null 2>&1; then
	docker-compose -f compose.yaml config -q && echo "compose.yaml: docker-compose config ok"
else
	echo "check.sh: neither docker compose nor docker-compose found (apt-get install docker-compose)" >&2
	exit 1
fi
