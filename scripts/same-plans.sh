#!/usr/bin/env bash
# Whether a refactoring changed what the program registers: plans every example stack at REV
# (default HEAD) and in the working tree, and compares the plans byte for byte (plan.json with
# every resource's inputs, the VMs' boot scripts and files, the critical path and diagram).
# Usage: bash scripts/same-plans.sh [REV]. Exit 0 identical, 1 different (the diff is printed).
set -euo pipefail
cd "$(dirname "$0")/.."
rev=${1:-HEAD}
work=$(mktemp -d)
trap 'git worktree remove --force "$work/before" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
git worktree add --quiet --detach "$work/before" "$rev"
ln -s "$PWD/node_modules" "$work/before/node_modules"
plan_all() { # TREE OUT
  for file in "$1"/Pulumi.*.yaml; do
    local stack=${file##*/Pulumi.}; stack=${stack%.yaml}
    (cd "$1" && node -r ./scripts/register-ts.js plan/cli.ts --stack "$stack" --out "$2/$stack" >/dev/null 2>&1) || echo "plan of $stack failed in $1" >&2
  done
}
plan_all "$work/before" "$work/plans-before"
plan_all "$PWD" "$work/plans-after"
if diff -r "$work/plans-before" "$work/plans-after"; then
  echo "identical: $(ls "$work/plans-after" | tr '\n' ' ')at $rev and in the working tree ($(find "$work/plans-after" -type f | wc -l) files)"
else
  exit 1
fi
