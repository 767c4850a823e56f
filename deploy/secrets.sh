#!/usr/bin/env bash
# Writes deploy/.env with freshly generated secrets for deploy/docker-compose.yml (which refuses
# to start without them). An existing deploy/.env is kept: rotate by editing it (README).
set -euo pipefail
ENV_FILE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/.env
if [[ -e "$ENV_FILE" ]]; then
  echo "$ENV_FILE exists; leaving it as it is" >&2
  exit 0
fi
rand() { python3 -c 'import base64, secrets; print(base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("="))'; }
umask 077
cat > "$ENV_FILE" <<END
ALGOITNY_CURSOR_SECRET=$(rand)
ALGOITNY_INTERNAL_SECRET=$(rand)
ALGOITNY_TOKEN_SIGNING_KEY=$(rand)
ALGOITNY_ADMIN_TOKEN=$(rand)
ALGOITNY_DEMO_ADMIN_PASSWORD=$(rand)
END
echo "wrote $ENV_FILE (demo admin password and operator token are in it)"
