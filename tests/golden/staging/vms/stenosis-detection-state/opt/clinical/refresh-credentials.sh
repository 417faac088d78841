#!/bin/bash
# Credentials for the containers of stenosis-detection that use its buckets, and for no other container: the host assumes
# the system's containers role (its buckets and the stack key only) and leaves the result in /run/clinical/aws,
# which only those containers mount; they read it through credential_process. Run before compose starts and
# every 10 minutes by clinical-stenosis-detection-credentials.timer; the credentials last 60 minutes.
set -euo pipefail
umask 077
mkdir -p /run/clinical/aws
chmod 0755 /run/clinical/aws  # the containers' non-root users read it; /run/clinical itself stays root-only
aws sts assume-role --region eu-west-2 --role-arn 'arn:aws:iam::123456789012:role/clinical-staging-stenosis-detection-containers' --role-session-name 'stenosis-detection' \
  --duration-seconds 3600 --query Credentials --output json > /run/clinical/aws/.assumed.json
python3 - <<'PY'
import json, os, pathlib
folder = pathlib.Path("/run/clinical/aws")
assumed = json.loads((folder / ".assumed.json").read_text())
keys = ("AccessKeyId", "SecretAccessKey", "SessionToken", "Expiration")
staged = folder / ".credentials.json"
staged.write_text(json.dumps({"Version": 1, **{k: assumed[k] for k in keys}}))
os.chmod(staged, 0o444)
os.replace(staged, "/run/clinical/aws/credentials.json")  # atomic: a reader never sees half a file
PY
rm -f /run/clinical/aws/.assumed.json
