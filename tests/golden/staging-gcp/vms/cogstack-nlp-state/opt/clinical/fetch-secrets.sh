#!/bin/bash
# Reads the system's runtime secret from Secret Manager (the VM's service account) into /run/clinical.
set -euo pipefail
umask 077
mkdir -p /run/clinical
mountpoint -q /run/clinical || mount -t tmpfs -o size=16m,mode=0700 tmpfs /run/clinical
gcloud secrets versions access latest --secret='cogstack-nlp-runtime' --project='clinical-staging-example' \
  --quiet > /run/clinical/secret.json
python3 - <<'PY'
import json, os, pathlib
from urllib.parse import quote
run = pathlib.Path("/run/clinical")
data = json.loads((run / "secret.json").read_text())
managed = {ref: json.loads((run / f"boot-secret-{ref}.json").read_text())[key] for ref, key in {}.items()}
def fill(text):
    for ref, value in managed.items():
        text = text.replace(f"__CLINICAL_BOOT_SECRET__{ref}__raw__", value).replace(f"__CLINICAL_BOOT_SECRET__{ref}__url__", quote(value, safe=""))
    return text
def env_value(value):
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$").replace("\n", "\\n")
    return f'"{escaped}"'
for service, env in data.get("env", {}).items():
    lines = "".join(f"{k}={env_value(fill(v))}\n" for k, v in sorted(env.items()))
    pathlib.Path(f"/run/clinical/{service}.env").write_text(lines)
for path, content in data.get("files", {}).items():
    target = pathlib.Path("/run/clinical/files" + path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(fill(content))
    os.chmod(target, 0o444)  # read by the container's non-root user; the directory is root-only tmpfs
PY
rm -f /run/clinical/secret.json
# The gateway's certificate for the load balancer's TLS hop: made here, kept in tmpfs, new at every boot.
mkdir -p /run/clinical/files/auth-gateway/etc/nginx/tls
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 397 -subj "/CN=cogstack-nlp" \
  -keyout /run/clinical/files/auth-gateway/etc/nginx/tls/tls.key -out /run/clinical/files/auth-gateway/etc/nginx/tls/tls.crt 2>/dev/null
chmod 0444 /run/clinical/files/auth-gateway/etc/nginx/tls/tls.crt /run/clinical/files/auth-gateway/etc/nginx/tls/tls.key  # read by the gateway's non-root user; the directory is root-only tmpfs
