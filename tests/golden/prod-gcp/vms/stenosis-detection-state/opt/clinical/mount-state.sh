#!/bin/bash
# Mounts the state disk of stenosis-detection (it outlives this VM) at /var/lib/clinical/state, where compose binds its state volumes.
set -euo pipefail
if mountpoint -q /var/lib/clinical/state; then
  exit 0
fi
device=/dev/disk/by-id/google-clinical-state
for _ in $(seq 1 60); do
  [ -e "$device" ] && break
  sleep 5
done
if [ ! -e "$device" ]; then
  echo "state disk $device did not appear" >&2
  exit 1
fi
if [ -z "$(blkid -o value -s TYPE "$device" || true)" ]; then
  mkfs.ext4 -q -L clinical-state "$device"
fi
mkdir -p /var/lib/clinical/state
mount -o nodev,nosuid,noatime "$device" /var/lib/clinical/state
mkdir -p /var/lib/clinical/state/alertmanager-data /var/lib/clinical/state/grafana-data /var/lib/clinical/state/prometheus-data
