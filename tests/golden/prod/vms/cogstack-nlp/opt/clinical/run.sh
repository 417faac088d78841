#!/bin/bash
# clinical-cogstack-nlp: run the compose project; on failure, name the containers that failed and show their logs.
set -uo pipefail
compose=(/usr/bin/docker compose -f /opt/clinical/compose.yaml)
"${compose[@]}" up --remove-orphans
status=$?
if [ "$status" -ne 0 ]; then
  "${compose[@]}" ps --all --status exited --format '{{.Service}} {{.ExitCode}}' |
    while read -r service code; do
      [ "$code" = 0 ] && continue
      echo "clinical-cogstack-nlp: ${service} exited ${code}; its last 20 log lines:"
      "${compose[@]}" logs --no-color --no-log-prefix --tail 20 "$service"
    done >&2
fi
exit "$status"
