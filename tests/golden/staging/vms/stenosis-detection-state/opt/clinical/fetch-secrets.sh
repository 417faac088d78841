#!/bin/bash
# Reads the system's runtime secret from Secrets Manager (instance role, IMDSv2) into /run/clinical.
set -euo pipefail
umask 077
mkdir -p /run/clinical
mountpoint -q /run/clinical || mount -t tmpfs -o size=16m,mode=0700 tmpfs /run/clinical
aws secretsmanager get-secret-value --region eu-west-2 --secret-id 'arn:aws:secretsmanager:us-east-1:123456789012:secret:stenosis-detection-runtime-0f7f6e' \
  --query SecretString --output text > /run/clinical/secret.json
# Passwords the cloud manages and rotates (RDS master passwords): read at every start, digest kept for
# /opt/clinical/check-rotation.sh, which restarts the system when one changes.
aws secretsmanager get-secret-value --region eu-west-2 --secret-id 'arn:aws:secretsmanager:us-east-1:123456789012:secret:rds!db-1dab90f9' \
  --query SecretString --output text > /run/clinical/boot-secret-stenosis-detection-db.json
{
cat /run/clinical/boot-secret-stenosis-detection-db.json
} | sha256sum > /run/clinical/boot-secrets.sha256
python3 - <<'PY'
import json, os, pathlib
from urllib.parse import quote
run = pathlib.Path("/run/clinical")
data = json.loads((run / "secret.json").read_text())
managed = {ref: json.loads((run / f"boot-secret-{ref}.json").read_text())[key] for ref, key in {"stenosis-detection-db": "password"}.items()}
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
rm -f /run/clinical/secret.json /run/clinical/boot-secret-*.json
# The gateway's certificate for the load balancer's TLS hop: made here, kept in tmpfs, new at every boot.
mkdir -p /run/clinical/files/auth-gateway/etc/nginx/tls
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 397 -subj "/CN=stenosis-detection" \
  -keyout /run/clinical/files/auth-gateway/etc/nginx/tls/tls.key -out /run/clinical/files/auth-gateway/etc/nginx/tls/tls.crt 2>/dev/null
chmod 0444 /run/clinical/files/auth-gateway/etc/nginx/tls/tls.crt /run/clinical/files/auth-gateway/etc/nginx/tls/tls.key  # read by the gateway's non-root user; the directory is root-only tmpfs
