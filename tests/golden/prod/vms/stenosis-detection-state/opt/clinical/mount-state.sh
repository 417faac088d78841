#!/bin/bash
# Mounts the state disk of stenosis-detection (it outlives this VM) at /var/lib/clinical/state, where compose binds its state volumes.
set -euo pipefail
if mountpoint -q /var/lib/clinical/state; then
  exit 0
fi
volume='stenosis-detection-state-id'
token=$(curl -fsS -X PUT http://169.254.169.254/latest/api/token -H 'X-aws-ec2-metadata-token-ttl-seconds: 300')
instance=$(curl -fsS -H "X-aws-ec2-metadata-token: $token" http://169.254.169.254/latest/meta-data/instance-id)
holder=$(aws ec2 describe-volumes --region eu-west-2 --volume-ids "$volume" \
  --query 'Volumes[0].Attachments[0].InstanceId' --output text)
if [ "$holder" != "$instance" ]; then
  # The VM this one replaces may still be shutting down: wait (up to 10 minutes) until it lets go.
  aws ec2 wait volume-available --region eu-west-2 --volume-ids "$volume"
  aws ec2 attach-volume --region eu-west-2 --volume-id "$volume" --instance-id "$instance" --device /dev/sdf
  aws ec2 wait volume-in-use --region eu-west-2 --volume-ids "$volume"
fi
device="/dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_${volume//-/}"
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
