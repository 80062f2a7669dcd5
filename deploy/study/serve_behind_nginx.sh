#!/usr/bin/env bash
# A crowd study as deployed: Debian's nginx in front of several `gdp-zero study serve` processes
# on one PostgreSQL database, each browser kept on one process (sticky routing by a cookie).
#
#   GDP_ZERO_STUDY_DB=postgresql://USER:PASSWORD@HOST/DB GDP_ZERO_ADMIN_PASSWORD=... \
#     deploy/study/serve_behind_nginx.sh STUDY_FILE [-- MORE STUDY SERVE FLAGS]
#
# Settings (environment):
#   GDP_ZERO_STUDY_DB        the database URL (required; read by every process from the environment,
#                            so the password never shows in a process list)
#   GDP_ZERO_ADMIN_PASSWORD  the admin pages' password (required: behind a proxy they answer only with one)
#   STUDY_PROCESSES          how many `study serve` processes (default 2)
#   STUDY_LISTEN             where nginx listens (default 127.0.0.1:8080; 0.0.0.0:80 to serve the world)
#   STUDY_FIRST_PORT         the first process's port on 127.0.0.1, the others follow (default 7861)
#   STUDY_RUN_DIR            nginx's config, logs and pid, and the processes' logs (default ./study-run)
#   GDP_ZERO                 the command (default: gdp-zero)
# The LLM flags go after `--` (e.g. -- --llm openai --model gpt-4o-mini) with OPENAI_API_KEY set.
#
# Why sticky: every participant's state is in the database, but a Gradio page's event stream and a
# bot turn being planned live in one process; a request reaching another process mid-turn would
# plan that turn a second time. nginx routes by the hash of a `gdpz_route` cookie, so a browser stays
# on one process (and moves only if that process is taken out). A browser new to the study gets its
# address as that cookie: every new browser from one address reaches the same process, whose
# per-address limits (new participations an hour, turns a minute; each process keeps its own) then
# count all of them. A random route per browser spread one address's browsers over the processes,
# each counting only its share. The cookie keeps a browser on its process if its address changes.
# A client that writes its own cookie can pick its process: at most STUDY_PROCESSES times each limit.
# Stop everything with Ctrl-C or SIGTERM: the script stops nginx and every process it started.
#
# TLS: put your certificate in the server block (see the README, "Deploying a study"): listen 443 ssl,
# ssl_certificate and ssl_certificate_key, and a port-80 server that redirects to https.
set -euo pipefail

if [[ $# -lt 1 || "$1" == -* ]]; then
  sed -n '2,8p' "$0" >&2
  exit 2
fi
study_file=$1
shift
[[ "${1:-}" == "--" ]] && shift
: "${GDP_ZERO_STUDY_DB:?set GDP_ZERO_STUDY_DB to the PostgreSQL URL (postgresql://USER:PASSWORD@HOST/DB)}"
: "${GDP_ZERO_ADMIN_PASSWORD:?set GDP_ZERO_ADMIN_PASSWORD: behind a proxy the admin pages need a password}"
processes=${STUDY_PROCESSES:-2}
listen=${STUDY_LISTEN:-127.0.0.1:8080}
first_port=${STUDY_FIRST_PORT:-7861}
run_dir=$(mkdir -p "${STUDY_RUN_DIR:-study-run}" && cd "${STUDY_RUN_DIR:-study-run}" && pwd)
gdp_zero=${GDP_ZERO:-gdp-zero}
nginx=$(command -v nginx || echo /usr/sbin/nginx)
[[ -x "$nginx" ]] || { echo "nginx is not installed: apt-get install nginx-light" >&2; exit 2; }
export GDP_ZERO_STUDY_DB GDP_ZERO_ADMIN_PASSWORD

pids=()
stop() {
  trap - EXIT INT TERM
  # TERM, not INT: a non-interactive shell starts its background jobs with SIGINT ignored
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap stop EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

servers=""
for ((i = 0; i < processes; i++)); do
  port=$((first_port + i))
  # nginx runs on this machine: its X-Forwarded-For names each participant's address (the per-address limits read it).
  $gdp_zero study serve "$study_file" --host 127.0.0.1 --port "$port" --trusted-proxy 127.0.0.1 "$@" \
    >"$run_dir/study-$port.log" 2>&1 &
  pids+=($!)
  servers+="    server 127.0.0.1:$port max_fails=0;"$'\n'
done

# Wait for every process (a port nobody listens on yet would send browsers to an error page).
for ((i = 0; i < processes; i++)); do
  port=$((first_port + i))
  for ((try = 0; ; try++)); do
    if ! kill -0 "${pids[$i]}" 2>/dev/null; then
      echo "study serve on port $port stopped:" >&2
      tail -n 20 "$run_dir/study-$port.log" >&2
      exit 1
    fi
    if python3 -c "import urllib.request, sys; urllib.request.urlopen(sys.argv[1], timeout=2)" "http://127.0.0.1:$port/config" 2>/dev/null; then
      break
    fi
    ((try < 1200)) || { echo "study serve on port $port did not come up in 600 s (see $run_dir/study-$port.log)" >&2; exit 1; }
    sleep 0.5
  done
done

mkdir -p "$run_dir/temp"
cat >"$run_dir/nginx.conf" <<EOF
# Written by $(basename "$0"); edit the script, not this file.
worker_processes 1;
pid $run_dir/nginx.pid;
error_log $run_dir/nginx-error.log warn;
events { worker_connections 1024; }

http {
    client_body_temp_path $run_dir/temp/body;
    proxy_temp_path $run_dir/temp/proxy;
    fastcgi_temp_path $run_dir/temp/fastcgi;
    uwsgi_temp_path $run_dir/temp/uwsgi;
    scgi_temp_path $run_dir/temp/scgi;
    log_format routed '\$remote_addr [\$time_local] "\$request" \$status upstream=\$upstream_addr route=\$gdpz_route';
    access_log $run_dir/nginx-access.log routed;

    # A browser's route: its cookie, or for a new browser its address (set as its cookie on the response below).
    map \$cookie_gdpz_route \$gdpz_route {
        ""      \$remote_addr;
        default \$cookie_gdpz_route;
    }
    map \$http_upgrade \$connection_upgrade {
        default upgrade;
        ""      "";
    }

    upstream study {
        hash \$gdpz_route consistent;
$servers    }

    server {
        listen $listen;
        client_max_body_size 64k;   # participants send short forms and messages, never files

        location / {
            proxy_pass http://study;
            proxy_http_version 1.1;
            proxy_set_header Host \$http_host;
            proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto \$scheme;
            proxy_set_header Upgrade \$http_upgrade;
            proxy_set_header Connection \$connection_upgrade;
            proxy_buffering off;        # Gradio streams each step of a bot turn as it happens
            proxy_read_timeout 600s;    # a bot turn may plan for minutes
            add_header Set-Cookie "gdpz_route=\$gdpz_route; Path=/; HttpOnly; SameSite=Lax" always;
        }
    }
}
EOF

"$nginx" -t -q -e "$run_dir/nginx-error.log" -p "$run_dir" -c "$run_dir/nginx.conf"
"$nginx" -e "$run_dir/nginx-error.log" -p "$run_dir" -c "$run_dir/nginx.conf" -g "daemon off;" &
pids=("$!" "${pids[@]}")
echo "Study behind nginx at http://$listen/ : $processes processes on ports $first_port-$((first_port + processes - 1)); logs in $run_dir"
wait -n "${pids[@]}"
echo "a process of the deployment stopped: stopping the others (logs in $run_dir)" >&2
exit 1
