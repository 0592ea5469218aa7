#!/usr/bin/env bash
# Submits a modelstore-sim campaign to Slurm: an array of SHARDS tasks (one
# shard each, slurm_campaign.sbatch) and a merge that runs after all of them
# (slurm_merge.sbatch). Prints "ARRAY_JOB_ID MERGE_JOB_ID"; the merged report
# lands in OUT_DIR/campaign.json (and .xml, and the merge job's log).
#
#   proptests/batch/slurm_submit.sh SIM OUT_DIR SHARDS [run flags...]
#   e.g. proptests/batch/slurm_submit.sh $PWD/build/sim/modelstore-sim $PWD/campaign 16 \
#          --seeds 100000 --check-determinism
#
# Extra sbatch options (a partition, a time limit, --cpus-per-task) go in
# $MS_SBATCH_FLAGS. SIM and OUT_DIR must be paths every node sees.
set -euo pipefail
[ $# -ge 3 ] || { sed -n '2,/^set /p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }
HERE=$(cd "$(dirname "$0")" && pwd)
SIM=$1
OUT=$2
SHARDS=$3
shift 3
[[ "$SHARDS" =~ ^[1-9][0-9]*$ ]] || { echo "error: SHARDS \"$SHARDS\" is not a positive integer" >&2; exit 2; }
[ -x "$SIM" ] || { echo "error: SIM $SIM is not an executable" >&2; exit 2; }
mkdir -p "$OUT"
# shellcheck disable=SC2086  # MS_SBATCH_FLAGS are words
array=$(sbatch --parsable ${MS_SBATCH_FLAGS:-} --array="0-$((SHARDS - 1))" --output="$OUT/slurm-%A_%a.out" \
  "$HERE/slurm_campaign.sbatch" "$SIM" "$OUT" "$@")
array=${array%%;*}
# shellcheck disable=SC2086
merge=$(sbatch --parsable ${MS_SBATCH_FLAGS:-} --dependency="afterany:$array" --output="$OUT/slurm-merge-%j.out" \
  "$HERE/slurm_merge.sbatch" "$SIM" "$OUT")
merge=${merge%%;*}
echo "$array $merge"
