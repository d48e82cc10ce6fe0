#!/usr/bin/env bash
# Provision the warehouse host (Amazon Linux 2023): PostgreSQL 16 on the encrypted data volume,
# and Shiny Server running the dashboard (a Shiny for Python app) behind the internal ALB.
#
# Terraform's user data writes the settings file and runs this script at first boot. It is
# idempotent: run it again through SSM to rotate the database password (after bumping
# password_version) or to deploy a new dashboard bundle:
#
#   sudo /opt/clickstream/ec2-setup.sh /etc/clickstream/setup.env
#
# Settings (KEY=value lines): REGION, SECRET_ARN, DATA_VOLUME_ID, DASHBOARD_BUNDLE (s3://...),
# LOG_GROUP, SHINY_PORT, PG_CLIENT_CIDR. DASHBOARD_BUNDLE may be overridden from the
# environment to deploy another bundle.
set -euo pipefail

SETTINGS_FILE=${1:-/etc/clickstream/setup.env}
PG_MAJOR=16
PG_DATA=/var/lib/pgsql/data
SHINY_SERVER_VERSION=1.5.23.1030
SHINY_SERVER_RPM_URL="https://download3.rstudio.org/centos8/x86_64/shiny-server-${SHINY_SERVER_VERSION}-x86_64.rpm"
APP_HOME=/opt/clickstream
VENV="${APP_HOME}/venv"
SITE=/srv/shiny-server/clickstream
LOG_FILE=/var/log/clickstream-setup.log

log() { printf '%s ec2-setup: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*"; }
fail() { log "ERROR: $*"; exit 1; }

read_settings() {
  [[ -r "$SETTINGS_FILE" ]] || fail "settings file $SETTINGS_FILE is missing"
  local key value
  while IFS='=' read -r key value; do
    [[ -z "$key" || "$key" == \#* ]] && continue
    case "$key" in
      REGION | SECRET_ARN | DATA_VOLUME_ID | LOG_GROUP | SHINY_PORT | PG_CLIENT_CIDR) printf -v "$key" '%s' "$value" ;;
      DASHBOARD_BUNDLE) [[ -n "${DASHBOARD_BUNDLE:-}" ]] || DASHBOARD_BUNDLE=$value ;;
      *) log "ignoring unknown setting $key" ;;
    esac
  done <"$SETTINGS_FILE"
  local name
  for name in REGION SECRET_ARN DATA_VOLUME_ID DASHBOARD_BUNDLE LOG_GROUP SHINY_PORT PG_CLIENT_CIDR; do
    [[ -n "${!name:-}" ]] || fail "setting $name is empty in $SETTINGS_FILE"
  done
}

install_packages() {
  log "installing PostgreSQL ${PG_MAJOR}, Python 3.11 and tools"
  dnf install -y --quiet "postgresql${PG_MAJOR}-server" "postgresql${PG_MAJOR}" \
    python3.11 python3.11-pip jq unzip openssl xfsprogs amazon-cloudwatch-agent
}

# The data volume holds the warehouse and outlives the instance. On Nitro instances it shows as
# an NVMe device whose serial is the volume id without its dash.
mount_data_volume() {
  local device="/dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_${DATA_VOLUME_ID//-/}"
  local waited=0
  until [[ -e "$device" ]]; do
    ((waited < 600)) || fail "data volume ${DATA_VOLUME_ID} did not attach within 10 minutes"
    sleep 5
    waited=$((waited + 5))
  done
  if ! blkid "$device" >/dev/null 2>&1; then
    log "formatting the new data volume ${DATA_VOLUME_ID}"
    mkfs.xfs -q "$device"
  fi
  local uuid
  uuid=$(blkid -s UUID -o value "$device")
  mkdir -p /var/lib/pgsql
  if ! grep -q "UUID=${uuid}" /etc/fstab; then
    echo "UUID=${uuid} /var/lib/pgsql xfs defaults,nofail,noatime 0 2" >>/etc/fstab
  fi
  mountpoint -q /var/lib/pgsql || mount /var/lib/pgsql
  chown postgres:postgres /var/lib/pgsql
  chmod 0700 /var/lib/pgsql
}

secret_field() {
  jq -r --arg field "$1" '.[$field]' <<<"$SECRET_JSON"
}

configure_postgres() {
  if [[ ! -f "${PG_DATA}/PG_VERSION" ]]; then
    log "initialising the PostgreSQL cluster"
    postgresql-setup --initdb
  fi
  # TLS inside the VPC: a self-signed certificate; clients use sslmode=require.
  if [[ ! -f "${PG_DATA}/server.crt" ]]; then
    openssl req -new -x509 -days 3650 -nodes -subj "/CN=$(hostname -f)" \
      -keyout "${PG_DATA}/server.key" -out "${PG_DATA}/server.crt" 2>/dev/null
    chown postgres:postgres "${PG_DATA}/server.key" "${PG_DATA}/server.crt"
    chmod 0600 "${PG_DATA}/server.key"
  fi
  cat >"${PG_DATA}/conf.d-clickstream.conf" <<CONF
listen_addresses = '*'
ssl = on
password_encryption = 'scram-sha-256'
shared_buffers = '256MB'
work_mem = '32MB'
maintenance_work_mem = '256MB'
max_connections = 50
log_min_duration_statement = '5s'
CONF
  grep -q "conf.d-clickstream.conf" "${PG_DATA}/postgresql.conf" ||
    echo "include 'conf.d-clickstream.conf'" >>"${PG_DATA}/postgresql.conf"
  local user db
  user=$(secret_field username)
  db=$(secret_field dbname)
  cat >"${PG_DATA}/pg_hba.conf" <<HBA
# Written by ec2-setup.sh. Local socket: peer (the dashboard runs as the shiny user).
local   all     all                      peer
# The ETL task functions, TLS and password only.
hostssl ${db}   ${user}   ${PG_CLIENT_CIDR}   scram-sha-256
HBA
  chown postgres:postgres "${PG_DATA}/pg_hba.conf" "${PG_DATA}/conf.d-clickstream.conf"
  chmod 0600 "${PG_DATA}/pg_hba.conf"
  systemctl enable postgresql
  systemctl restart postgresql
}

# The password goes to psql on standard input, never on a command line.
apply_roles() {
  local user db password
  user=$(secret_field username)
  db=$(secret_field dbname)
  password=$(secret_field password)
  [[ "$password" != null && -n "$password" ]] || fail "the secret has no password"
  log "applying roles and the database (${db}, owner ${user}; read-only shiny)"
  sudo -u postgres psql --quiet -v ON_ERROR_STOP=1 <<SQL
\set user '${user}'
\set db '${db}'
\set password '${password}'
SELECT format('CREATE ROLE %I LOGIN', :'user') WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'user') \gexec
SELECT format('ALTER ROLE %I PASSWORD %L', :'user', :'password') \gexec
SELECT format('CREATE DATABASE %I OWNER %I', :'db', :'user') WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'db') \gexec
SELECT 'CREATE ROLE shiny LOGIN' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'shiny') \gexec
SQL
  sudo -u postgres psql --quiet -v ON_ERROR_STOP=1 -d "$db" <<SQL
\set user '${user}'
\set db '${db}'
SELECT format('GRANT CONNECT ON DATABASE %I TO shiny', :'db') \gexec
GRANT USAGE ON SCHEMA public TO shiny;
GRANT SELECT ON ALL TABLES IN SCHEMA public TO shiny;
SELECT format('ALTER DEFAULT PRIVILEGES FOR ROLE %I IN SCHEMA public GRANT SELECT ON TABLES TO shiny', :'user') \gexec
SQL
}

install_shiny_server() {
  if ! rpm -q shiny-server >/dev/null 2>&1; then
    log "installing Shiny Server ${SHINY_SERVER_VERSION}"
    dnf install -y --quiet "$SHINY_SERVER_RPM_URL"
  fi
  id shiny >/dev/null 2>&1 || useradd --system --home-dir /srv/shiny-server --shell /sbin/nologin shiny
}

# The bundle (make package: dist/dashboard/dashboard.zip) holds the app, the clickstream package
# and a pinned requirements.txt. Each bundle gets its own release folder; "current" points at it.
deploy_dashboard() {
  local release
  release="${APP_HOME}/releases/$(basename "$DASHBOARD_BUNDLE" .zip)"
  if [[ ! -d "$release" ]]; then
    log "deploying the dashboard from ${DASHBOARD_BUNDLE}"
    local download
    download=$(mktemp --suffix=.zip)
    aws s3 cp --only-show-errors --region "$REGION" "$DASHBOARD_BUNDLE" "$download"
    mkdir -p "${release}.partial"
    unzip -q -o "$download" -d "${release}.partial"
    rm -f "$download"
    mv "${release}.partial" "$release"
  fi
  [[ -x "${VENV}/bin/python" ]] || python3.11 -m venv "$VENV"
  "${VENV}/bin/python" -m pip install --quiet --disable-pip-version-check -r "${release}/requirements.txt"
  ln -sfn "$release" "${APP_HOME}/current"

  local db
  db=$(secret_field dbname)
  mkdir -p "$SITE"
  # Shiny Server starts this file; it points the app at the local socket (peer auth, read-only role).
  cat >"${SITE}/app.py" <<PY
"""Entry point Shiny Server runs: the bundled dashboard, reading the warehouse as the shiny role."""
import os
import sys

os.environ.setdefault("DATABASE_URL", "postgresql:///${db}?host=/run/postgresql")
sys.path[:0] = ["${APP_HOME}/current/shiny", "${APP_HOME}/current/src"]

from app import app  # noqa: E402,F401  (shiny/app.py of the bundle)
PY
  chown -R shiny:shiny "$SITE"
}

configure_shiny_server() {
  cat >/etc/shiny-server/shiny-server.conf <<CONF
# Written by ec2-setup.sh.
run_as shiny;
python ${VENV}/bin/python;
preserve_logs false;

server {
  listen ${SHINY_PORT} 0.0.0.0;
  location / {
    app_dir ${SITE};
    log_dir /var/log/shiny-server;
  }
}
CONF
  systemctl enable shiny-server
  systemctl restart shiny-server
}

ship_logs() {
  cat >/opt/aws/amazon-cloudwatch-agent/etc/clickstream.json <<JSON
{
  "logs": {
    "logs_collected": {
      "files": {
        "collect_list": [
          {"file_path": "${LOG_FILE}", "log_group_name": "${LOG_GROUP}", "log_stream_name": "{instance_id}/setup"},
          {"file_path": "/var/log/shiny-server/*.log", "log_group_name": "${LOG_GROUP}", "log_stream_name": "{instance_id}/shiny"},
          {"file_path": "/var/lib/pgsql/data/log/*.log", "log_group_name": "${LOG_GROUP}", "log_stream_name": "{instance_id}/postgresql"}
        ]
      }
    }
  }
}
JSON
  /opt/aws/amazon-cloudwatch-agent/bin/amazon-cloudwatch-agent-ctl -a fetch-config -m ec2 -s \
    -c file:/opt/aws/amazon-cloudwatch-agent/etc/clickstream.json >/dev/null
}

main() {
  [[ $EUID -eq 0 ]] || fail "run as root (sudo)"
  exec > >(tee -a "$LOG_FILE") 2>&1
  read_settings
  install_packages
  ship_logs
  mount_data_volume
  SECRET_JSON=$(aws secretsmanager get-secret-value --region "$REGION" --secret-id "$SECRET_ARN" \
    --query SecretString --output text)
  configure_postgres
  apply_roles
  install_shiny_server
  deploy_dashboard
  configure_shiny_server
  unset SECRET_JSON
  log "done: PostgreSQL on :5432, Shiny Server on :${SHINY_PORT}"
}

main "$@"
