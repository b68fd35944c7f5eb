#!/usr/bin/env bash
# The crash tests under load, by hand (not in CI: it takes an hour or more).
#
#   tests/crash-soak.sh [ROUNDS] [BACKENDS]     # defaults: 50 "sqlite postgres"
#
# Each round runs two copies of the crash tests at once (delivery::crash:
# `sollecito run` killed with SIGKILL mid-delivery, counted at a real SMTP
# server) beside a CPU hog, on each backend in turn. Every copy's output is
# kept in target/crash-soak/; the summary counts the rounds that failed, the
# invoices lost and the worst duplicates per kill. Exit 1 if any round failed.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-50}
backends=${2:-sqlite postgres}
out=target/crash-soak
rm -rf "$out" && mkdir -p "$out"

cargo test -p sollecito --test e2e --no-run 2>&1 | tail -1
# One busy loop for the whole soak: the two copies share the machine with it.
python3 -c 'while True: pass' &
hog=$!
trap 'kill $hog 2>/dev/null || true' EXIT

failed=0
for backend in $backends; do
  env=()
  [ "$backend" = postgres ] && env=(SOLLECITO_TEST_BACKEND=postgres)
  for round in $(seq "$rounds"); do
    pids=()
    for copy in 1 2; do
      log="$out/$backend-$round-$copy.log"
      env "${env[@]}" cargo test -q -p sollecito --test e2e -- delivery::crash --nocapture >"$log" 2>&1 &
      pids+=($!)
    done
    for i in 0 1; do
      if ! wait "${pids[$i]}"; then
        failed=$((failed + 1))
        echo "FAILED: $out/$backend-$round-$((i + 1)).log"
        grep -E "panicked|never received|Late|Waiting|Sent|Dropped|Other" "$out/$backend-$round-$((i + 1)).log" | head -20 || true
      fi
    done
    printf '%s round %d/%d done\n' "$backend" "$round" "$rounds"
  done
done

# The figures every copy printed (resend: ... lost; hold: ... not received).
python3 - "$out" <<'EOF'
import re, sys, pathlib
runs = {}
for log in sorted(pathlib.Path(sys.argv[1]).glob("*.log")):
    backend = log.name.split("-")[0]
    r = runs.setdefault(backend, {"copies": 0, "lost": 0, "worst_per_kill": 0.0, "held": 0, "twice_hold": 0, "resend_runs": 0})
    r["copies"] += 1
    text = log.read_text(errors="replace")
    for m in re.finditer(r"resend: .*?\(([\d.]+) per kill, the bound is \d+\), (\d+) lost", text):
        r["resend_runs"] += 1
        r["worst_per_kill"] = max(r["worst_per_kill"], float(m.group(1)))
        r["lost"] += int(m.group(2))
    for m in re.finditer(r"hold: .*? (\d+) twice, (\d+) not received", text):
        r["twice_hold"] += int(m.group(1))
for backend, r in runs.items():
    print(f"{backend}: {r['copies']} copies, {r['resend_runs']} resend runs, {r['lost']} lost, "
          f"worst {r['worst_per_kill']:.2f} received twice per kill (bound 4), {r['twice_hold']} twice under hold")
EOF
echo "rounds failed: $failed"
[ "$failed" -eq 0 ]
