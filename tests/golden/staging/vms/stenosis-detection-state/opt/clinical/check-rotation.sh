#!/bin/bash
# Restarts clinical-stenosis-detection when a password the cloud rotates (RDS master password) changed since it started,
# so its services reconnect with the new one; run every 5 minutes by clinical-stenosis-detection-rotation.timer.
set -euo pipefail
umask 077
current=$({
aws secretsmanager get-secret-value --region eu-west-2 --secret-id 'arn:aws:secretsmanager:us-east-1:123456789012:secret:rds!db-1dab90f9' \
  --query SecretString --output text
} | sha256sum)
if [ "$current" != "$(cat /run/clinical/boot-secrets.sha256 2>/dev/null || true)" ]; then
  systemctl restart clinical-stenosis-detection.service
fi
