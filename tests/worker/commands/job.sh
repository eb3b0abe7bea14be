#!/bin/sh
# A command handler in plain sh for tests/worker/test_command_process.py. The body arrives on stdin;
# what to do is its first word: ok, bad (permanent, exit 3), flaky (fails on the first receive),
# hang (on the first receive: ignores SIGTERM, starts a child, records both pids), slow (2 s).
body=$(cat)
echo "job ${JOB_ID:-none} receive ${SQS_RECEIVE_COUNT} message ${SQS_MESSAGE_ID} language ${SQS_ATTR_LANGUAGE:-none}"
echo "a line on stderr" >&2
case "$body" in
  *bad*) exit 3 ;;
  *flaky*) [ "$SQS_RECEIVE_COUNT" -gt 1 ] || exit 1 ;;
  *hang*)
    if [ "$SQS_RECEIVE_COUNT" -eq 1 ]; then
      trap '' TERM
      sleep 600 &
      echo "$$ $!" > "$TEST_PID_DIR/hang.pids"
      wait
    fi ;;
  *slow*) sleep 2 ;;
esac
exit 0
