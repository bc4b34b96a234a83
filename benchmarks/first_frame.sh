#!/bin/bash
# Start a command in a fresh tmux session at 80x24 and return once MARKER is on screen.
# usage: first_frame.sh SOCKET MARKER COMMAND...   (hyperfine times the whole of it)
set -u
socket=$1 marker=$2; shift 2
name=ff$$
tmux -L "$socket" new-session -d -x 80 -y 24 -s "$name" "$@"
deadline=$((SECONDS + 20))
until tmux -L "$socket" capture-pane -p -t "$name" 2>/dev/null | grep -qF -- "$marker"; do
    if ((SECONDS > deadline)); then
        tmux -L "$socket" capture-pane -p -t "$name" >&2
        tmux -L "$socket" kill-session -t "$name" 2>/dev/null
        echo "first_frame.sh: '$marker' not on screen after 20 s" >&2
        exit 1
    fi
    sleep 0.005
done
tmux -L "$socket" kill-session -t "$name"
