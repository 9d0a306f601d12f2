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

# Every metric an alert or a panel names must be one the programs export (a
# string literal in their Go sources, or two joined: a prefix and a name),
# and every job they name must be the job of the compose scrape config and
# of the Kubernetes ServiceMonitor.
python3 - prometheus/alerts.yml prometheus/alerts_test.yml grafana/newsflow.json <<'PY'
import glob, json, re, sys
texts = {f: open(f).read() for f in sys.argv[1:]}
d = json.loads(texts["grafana/newsflow.json"])
exprs = {f: [texts[f]] for f in sys.argv[1:] if not f.endswith(".json")}
def walk(ps):
    for p in ps:
        walk(p.get("panels", []))
        for t in p.get("targets", []):
            yield t["expr"]
dash = list(walk(d["panels"]))
for v in d.get("templating", {}).get("list", []):
    q = v.get("query")
    dash.append(q.get("query", "") if isinstance(q, dict) else str(q or ""))
exprs["grafana/newsflow.json"] = dash
lits = set()
for f in glob.glob("../cmd/**/*.go", recursive=True) + glob.glob("../internal/**/*.go", recursive=True):
    if not f.endswith("_test.go"):
        lits.update(re.findall(r'"([a-z][a-z0-9_]*)"', open(f).read()))
def exported(m):
    for name in (m, re.sub(r"_(bucket|sum|count)$", "", m)):
        if name in lits or any(name[:i] in lits and name[i:] in lits for i in range(1, len(name))):
            return True
    return False
errors = []
for f, es in exprs.items():
    for e in es:
        for m in sorted(set(re.findall(r"\b(newsflow_[a-z0-9_]+)", e))):
            if not exported(m):
                errors.append("%s names metric %s, which no program exports" % (f, m))
scrape = open("prometheus/prometheus.yml").read()
monitor = open("k8s/servicemonitor.yaml").read()
jobs = set()
for f, es in exprs.items():
    if f.endswith("_test.yml"):
        continue  # test series may name other jobs on purpose
    for e in es:
        jobs.update(j for j in re.findall(r'job\s*=~?\s*"([^"]+)"', e) if "$" not in j)
for j in sorted(jobs):
    if not re.search(r"job_name:\s*%s\s*$" % re.escape(j), scrape, re.M):
        errors.append("job %s is named by an alert but no job_name in prometheus/prometheus.yml" % j)
    if not re.search(r"replacement:\s*%s\s*$" % re.escape(j), monitor, re.M):
        errors.append("job %s is named by an alert but k8s/servicemonitor.yaml does not set it" % j)
for e in sorted(set(errors)):
    print("check.sh: " + e, file=sys.stderr)
if errors:
    sys.exit(1)
print("alerts and dashboard: every metric is exported, every job is scraped (%s)" % ", ".join(sorted(jobs)))
PY

# Compose's Postgres password: DATABASE_URL's is POSTGRES_PASSWORD, and it
# is no word found elsewhere in deploy/, since the workers mask its literal
# value in every log line (a common word would vanish from the logs).
python3 - compose.yaml <<'PY'
import glob, re, sys
c = open(sys.argv[1]).read()
urls = re.findall(r"^\s*DATABASE_URL:\s*postgres://[^:@/\s]+:([^@\s]+)@", c, re.M)
pws = re.findall(r"^\s*POSTGRES_PASSWORD:\s*(\S+)", c, re.M)
if not urls or set(urls) != set(pws):
    sys.exit("check.sh: compose.yaml: the DATABASE_URL password%s and POSTGRES_PASSWORD%s differ" % (urls, pws))
pw = urls[0]
others = c.count(pw) - len(urls) - len(pws)
for f in glob.glob("**/*", recursive=True):
    if f != sys.argv[1] and re.search(r"\.(ya?ml|json|md|sh)$", f):
        others += open(f).read().count(pw)
if len(pw) < 12 or others:
    sys.exit("check.sh: compose.yaml: the Postgres password %r is too short or also appears elsewhere in deploy/ "
             "(%d times); choose a distinctive one, since the workers mask it in every log line" % (pw, others))
print("compose.yaml: the Postgres password is consistent and distinctive")
PY

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
