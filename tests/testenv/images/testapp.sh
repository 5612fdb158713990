#!/bin/sh
# testapp: the test image's HTTP server, whose behaviour its environment chooses.
#   PORT           port to answer on (default 8080)
#   ECHO=VAR       answer with the value of $VAR (default: "ok")
#   READY_AFTER=N  start answering after N seconds
#   NEVER_READY=1  never answer
#   EXIT_AFTER=N   exit after N seconds with EXIT_CODE (default 1)
#   TICK=1         print "tick N" every second
#   ALLOCATE_MB=N  hold N MiB of memory
port=${PORT:-8080}
echo "testapp: starting (release ${RELEASE:-none})"
trap 'echo "testapp: stopping"; exit 0' TERM INT
mkdir -p /tmp/www
if [ -n "$ECHO" ]; then
  case $ECHO in *[!A-Za-z0-9_]*) echo "testapp: ECHO must name a variable" >&2 && exit 2 ;; esac
  eval "echo \"\${$ECHO}\"" >/tmp/www/index.html
else
  echo ok >/tmp/www/index.html
fi
if [ -n "$ALLOCATE_MB" ]; then
  hog=$(head -c "$((ALLOCATE_MB * 1048576))" /dev/zero | tr '\0' x)
  echo "testapp: holding ${#hog} bytes"
fi
i=0
while :; do
  if [ -n "$EXIT_AFTER" ] && [ "$i" -ge "$EXIT_AFTER" ]; then
    echo "testapp: exiting with ${EXIT_CODE:-1}"
    exit "${EXIT_CODE:-1}"
  fi
  if [ -z "$NEVER_READY" ] && [ "$i" -eq "${READY_AFTER:-0}" ]; then
    httpd -f -p "$port" -h /tmp/www &
    echo "testapp: answering on port $port"
  fi
  [ -n "$TICK" ] && echo "tick $i"
  # A background sleep keeps the shell able to run its TERM trap at once.
  sleep 1 &
  wait $!
  i=$((i + 1))
done
