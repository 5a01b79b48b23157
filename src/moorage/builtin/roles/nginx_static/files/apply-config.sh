#!/bin/sh
# Put a candidate nginx configuration live only when `nginx -t` accepts it (role nginx_static).
#
#   apply-config.sh DIR IMAGE PROJECT SERVICE
#
#   DIR/candidate/conf.d   the new configuration, as moorage rendered it
#   DIR/conf.d             the live configuration, mounted read-only at /etc/nginx/conf.d
#   DIR/conf.d.previous    the live configuration before the last change
#
# 1. `nginx -t` on the candidate, with IMAGE's own nginx.conf, in a throwaway container
#    (works before nginx-static ever ran).  Rejected: exit 1, nothing live was touched.
# 2. Keep the live files in conf.d.previous, then replace them one by one (temp + rename).
# 3. When PROJECT's SERVICE container runs: `nginx -t` inside it, then `nginx -s reload`.
#    Either fails: conf.d.previous is restored (and reloaded) and the script exits 1.
# The live nginx therefore never loads a configuration that `nginx -t` rejected.
set -u

if [ $# -ne 4 ]; then
    echo "usage: $0 DIR IMAGE PROJECT SERVICE" >&2
    exit 2
fi
dir=$1 image=$2 project=$3 service=$4
cand=$dir/candidate/conf.d
live=$dir/conf.d
prev=$dir/conf.d.previous

fail() {
    printf 'nginx-static: %s\n' "$*" >&2
    exit 1
}

# Replace the files of directory $2 by those of directory $1 (each one atomically).
install_dir() {
    mkdir -p "$2" || return 1
    for f in "$1"/* "$1"/.[!.]*; do
        [ -f "$f" ] || continue
        name=${f##*/}
        cp -p "$f" "$2/.$name.moorage-tmp" && mv -f "$2/.$name.moorage-tmp" "$2/$name" || return 1
    done
    for f in "$2"/* "$2"/.[!.]*; do
        [ -e "$f" ] || continue
        [ -e "$1/${f##*/}" ] || rm -rf "$f" || return 1
    done
}

# 1. Test the candidate before anything live changes.
if ! out=$(docker run --rm --network none --entrypoint nginx \
        -v "$cand:/etc/nginx/conf.d:ro" "$image" -t 2>&1); then
    fail "nginx -t rejected the new configuration in $cand, so it was not applied:
$out
The live configuration in $live is unchanged and nginx keeps serving it.
Fix the configuration (e.g. nginx_extra_config) and run again."
fi

# 2. Keep the current live configuration, then swap the new one in.
rm -rf "$prev.tmp"
if [ -d "$live" ]; then
    cp -pR "$live" "$prev.tmp" || fail "cannot copy $live to $prev.tmp; nothing was changed"
else
    mkdir -p "$prev.tmp" || fail "cannot create $prev.tmp; nothing was changed"
fi
rm -rf "$prev" && mv "$prev.tmp" "$prev" || fail "cannot keep the previous configuration in $prev; nothing was changed"

restore() {
    if install_dir "$prev" "$live"; then
        echo "restored the previous configuration from $prev" >&2
    else
        echo "could NOT restore $prev into $live: restore it by hand" >&2
    fi
}

if ! install_dir "$cand" "$live"; then
    restore
    fail "could not write the new configuration into $live"
fi

# 3. Reload the running nginx, if any (before the first `compose up` there is none).
cid=$(cd "$dir" && docker compose -p "$project" ps -q --status running "$service" 2>/dev/null)
if [ -n "$cid" ]; then
    if ! out=$(docker exec "$cid" nginx -t 2>&1); then
        restore
        fail "nginx -t in the running container rejected the new configuration:
$out
The previous configuration was restored; nginx was not reloaded and keeps serving it."
    fi
    if ! out=$(docker exec "$cid" nginx -s reload 2>&1); then
        restore
        docker exec "$cid" nginx -s reload >/dev/null 2>&1
        fail "nginx -s reload failed:
$out
The previous configuration was restored and reloaded."
    fi
    echo "nginx-static: configuration tested and reloaded in container ${cid%"${cid#????????????}"}"
else
    echo "nginx-static: configuration tested and in place (nginx-static not running yet)"
fi
