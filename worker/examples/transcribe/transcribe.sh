#!/bin/sh
# One message = one audio file. The body is its path (on a volume the producers share, e.g. EFS);
# the transcript is written next to it. Optional message attribute "language" (SQS_ATTR_LANGUAGE).
# Exit 0: done. Exit 3: this message can never succeed (the DLQ). Anything else: retried later.
set -eu
audio=$(cat)
if [ ! -r "$audio" ]; then
    echo "job ${JOB_ID:-$SQS_MESSAGE_ID}: no readable file at '$audio'" >&2
    exit 3
fi
wav=$(mktemp --suffix=.wav)
trap 'rm -f "$wav"' EXIT
ffmpeg -nostdin -loglevel error -y -i "$audio" -ar 16000 -ac 1 "$wav" || exit 3  # not decodable audio
whisper-cli --model /opt/models/ggml-base.bin --language "${SQS_ATTR_LANGUAGE:-en}" \
    --output-txt --output-file "${audio%.*}" --file "$wav"
echo "transcribed $audio (attempt $SQS_RECEIVE_COUNT)"
