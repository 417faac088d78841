"""Model packs: fetched from a configured source, verified by checksum and unpacked before the service starts.

A system that needs a model pack (MedCAT's) gets a one-shot job (``kind="job"``,
so every runtime lowers it: a Docker host container, a compose service on a
VM, a Kubernetes Job) that its service depends on. The job:

1. skips everything when the pack with this checksum is already in place (a
   stamp written only after a verified unpack), so a reboot or a new replica
   downloads nothing;
2. fetches the source into the service's volume (``.partial`` first);
3. computes its SHA-256 and refuses a mismatch, loudly, with both values,
   removing what it fetched (the job fails, so the service never starts);
4. unpacks it beside the zip, where the service looks (MedCAT's
   ``CAT.load_model_pack`` uses an existing ``<dir>/<name>`` as is), so the
   service can mount the volume read-only.

One pinned image does it on every platform: ``curlimages/curl:8.11.1``
(curl/curl-container at tag 8.11.1: alpine 3.21 with curl, BusyBox ``sh``,
``sha256sum``, ``sed`` and ``unzip``; user ``curl_user`` made by ``adduser -S``,
the first free system ids 100:101, home ``/home/curl_user``; ``/entrypoint.sh``
runs a given command as is). Object storage is read with the system's own
short-lived credentials: S3 with curl's SigV4 signing and the credentials the
platform hands the job (``credential_process`` of ``AWS_CONFIG_FILE``), GCS
with the access token of the machine's (or Workload Identity's) service account
from the metadata server.
"""

from __future__ import annotations

import posixpath

from components.specs import HostMountSpec, ModelPackSpec, ResourcesSpec, ServiceSpec, VolumeSpec

FETCH_IMAGE = "curlimages/curl:8.11.1"
# create_base_image.sh@8.11.1: `adduser -S curl_user -G curl_group` on alpine 3.21 (first free system ids).
FETCH_USER = "100:101"
# curl_user's home: an empty volume mounted here first takes its owner (curl_user), so the non-root job can
# write it on a Docker host (a path the image lacks would make the volume root's); Kubernetes uses fsGroup.
JOB_MOUNT = "/home/curl_user"
SOURCE_MOUNT = "/source"  # a Docker host's pack directory, read-only

FETCH_SCRIPT = r"""# shellcheck disable=SC3040  # the image's sh is BusyBox ash, which has pipefail
set -eu -o pipefail
# Fetch, verify (SHA-256) and unpack a model pack; rendered by components/model_packs.py.
source=$MODEL_PACK_SOURCE
expected=$MODEL_PACK_SHA256
zip=$MODEL_PACK_DEST
dir=${zip%.zip}
stamp=$zip.sha256
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$expected" ] && [ -d "$dir" ]; then
  echo "model pack $zip: sha256 $expected already verified and unpacked; nothing to fetch"
  exit 0
fi
partial=$zip.partial
rm -rf "$partial" "$dir.partial"
field() { sed -n "s/.*\"$1\" *: *\"\([^\"]*\)\".*/\1/p"; }
case "$source" in
  https://*)
    curl -fsSL --proto =https --retry 3 -o "$partial" "$source"
    ;;
  s3://*)
    rest=${source#s3://}
    bucket=${rest%%/*}
    key=${rest#*/}
    if [ -n "${AWS_WEB_IDENTITY_TOKEN_FILE:-}" ]; then
      # EKS (IRSA): the pod's projected token exchanged at STS for the system's role, read from the file (no argv).
      region=$AWS_REGION
      answer=$(curl -fsS --proto =https --get "https://sts.$region.amazonaws.com/" \
        --data-urlencode "Action=AssumeRoleWithWebIdentity" --data-urlencode "Version=2011-06-15" \
        --data-urlencode "RoleArn=$AWS_ROLE_ARN" --data-urlencode "RoleSessionName=model-pack" \
        --data-urlencode "WebIdentityToken@$AWS_WEB_IDENTITY_TOKEN_FILE" | tr -d '\n')
      xml() { echo "$answer" | sed -n "s:.*<$1>\([^<]*\)</$1>.*:\1:p"; }
      access=$(xml AccessKeyId) secret=$(xml SecretAccessKey) session=$(xml SessionToken)
    else
      # A VM: the host's short-lived credentials of the system's own role, as its SDKs read them.
      process=$(sed -n 's/^credential_process *= *//p' "$AWS_CONFIG_FILE")
      credentials=$(sh -c "$process" | tr -d '\n')
      region=${AWS_REGION:-$(sed -n 's/^region *= *//p' "$AWS_CONFIG_FILE")}
      access=$(echo "$credentials" | field AccessKeyId)
      secret=$(echo "$credentials" | field SecretAccessKey)
      session=$(echo "$credentials" | field SessionToken)
    fi
    # Signed with SigV4 by curl itself; the keys reach it on stdin, never in its arguments.
    printf 'user = "%s:%s"\nheader = "x-amz-security-token: %s"\n' "$access" "$secret" "$session" \
      | curl -fsSL --proto =https --retry 3 -K - --aws-sigv4 "aws:amz:$region:s3" \
        -o "$partial" "https://$bucket.s3.$region.amazonaws.com/$key"
    ;;
  gs://*)
    rest=${source#gs://}
    bucket=${rest%%/*}
    object=$(echo "${rest#*/}" | sed 's|/|%2F|g')
    # The machine's (or Workload Identity's) service account, from the metadata server.
    token=$(curl -fsS -H "Metadata-Flavor: Google" \
      "http://metadata.google.internal/computeMetadata/v1/instance/service-accounts/default/token" \
      | tr -d '\n' | field access_token)
    printf 'header = "Authorization: Bearer %s"\n' "$token" \
      | curl -fsSL --proto =https --retry 3 -K - -o "$partial" \
        "https://storage.googleapis.com/storage/v1/b/$bucket/o/$object?alt=media"
    ;;
  /*)
    cp "$source" "$partial"
    ;;
  *)
    echo "model pack source '$source': not https://, s3://, gs:// or an absolute path" >&2
    exit 2
    ;;
esac
actual=$(sha256sum "$partial" | cut -d' ' -f1)
if [ "$actual" != "$expected" ]; then
  rm -f "$partial"
  echo "model pack $source REFUSED: sha256 mismatch: expected $expected, got $actual" >&2
  exit 1
fi
rm -rf "$dir" "$stamp"
mkdir "$dir.partial"
unzip -q "$partial" -d "$dir.partial"
mv "$partial" "$zip"
mv "$dir.partial" "$dir"
echo "$expected" > "$stamp"
echo "model pack $zip: sha256 $expected verified and unpacked into $dir"
"""


def fetch_job(pack: ModelPackSpec, volume: VolumeSpec, file_name: str, image: str = FETCH_IMAGE) -> ServiceSpec:
    """The one-shot job placing ``pack`` as ``file_name`` (unpacked beside it) in ``volume``, as the pinned curl
    image's non-root user (``image``: a mirror of it); its service ``depends_on`` it."""
    env = {
        "MODEL_PACK_SOURCE": pack.source
        if pack.scheme != "path"
        else posixpath.join(SOURCE_MOUNT, posixpath.basename(pack.source)),
        "MODEL_PACK_SHA256": pack.sha256,
        "MODEL_PACK_DEST": posixpath.join(JOB_MOUNT, file_name),
        "HOME": "/tmp",
    }
    return ServiceSpec(
        name="model-pack",
        kind="job",
        image=image,
        command=("/bin/sh", "-c", FETCH_SCRIPT),
        env=env,
        resources=ResourcesSpec(cpus=0.5, memory_mb=256),
        volumes=(volume.model_copy(update={"mount_path": JOB_MOUNT, "read_only": False}),),
        user=FETCH_USER,
        # Only a download needs the internet (or the cloud's object storage); a host path needs no network.
        egress=pack.scheme != "path",
        host_mounts=(HostMountSpec(host_path=posixpath.dirname(pack.source), mount_path=SOURCE_MOUNT),)
        if pack.scheme == "path"
        else (),
        reads_objects=(pack.source,) if pack.scheme in ("s3", "gs") else (),
    )


def source_problem(pack: ModelPackSpec, cloud: str, runtime: str) -> str | None:
    """Why ``pack``'s source cannot be read where the stack runs (with the fix), or None."""
    if pack.scheme == "s3" and cloud != "aws":
        return f"s3:// is read with AWS credentials, but this stack runs on {cloud}; use https://{_or_native(cloud)}"
    if pack.scheme == "gs" and cloud != "gcp":
        return f"gs:// is read with GCP credentials, but this stack runs on {cloud}; use https://{_or_native(cloud)}"
    if pack.scheme == "path" and (cloud, runtime) != ("onprem", "docker"):
        return f"a file path is read from a Docker host's disk; on {cloud}/{runtime} use https://{_or_native(cloud)}"
    return None


def _or_native(cloud: str) -> str:
    return {"aws": " or s3://bucket/key", "gcp": " or gs://bucket/object"}.get(cloud, "")
