# shellcheck shell=bash
# The job folder of tools/lab slurm, sourced by tools/slurm/submit and, from
# the job folder's copy (DIR/bin/job.sh), by the array task and the merge
# job: where each piece lives, written once.
#   DIR/shards.count             N
#   DIR/compare.args             compare's flags, one per line
#   DIR/build.json               the copied binaries' build facts (LAB_BUILD_INFO)
#   DIR/bin/                     compare, its runfiles, merge, these scripts
#   DIR/shards/shard-K-of-N.json shard K's results
#   DIR/logs/                    the tasks' and merge jobs' output; merge-JOBID.status
#   DIR/jobs                     one line per submission
#   DIR/merged.json, DIR/report/ the merge job's output

# job_write DIR N FLAGS...: the job's shard count and compare's flags.
job_write() {
  local dir="$1" n="$2"
  shift 2
  echo "$n" >"$dir/shards.count"
  : >"$dir/compare.args"
  [ $# -eq 0 ] || printf '%s\n' "$@" >"$dir/compare.args"
}

job_shard_count() { cat "$1/shards.count"; }

# job_shard_file DIR K: shard K's results file.
job_shard_file() { echo "$1/shards/shard-$2-of-$(job_shard_count "$1").json"; }

# job_shard_complete DIR K: true when shard K's file holds every run (its
# run ended; a cancelled or timed-out task leaves "interrupted" or "running").
job_shard_complete() {
  local f
  f="$(job_shard_file "$1" "$2")"
  [ -f "$f" ] && python3 -c 'import json, sys; sys.exit(json.load(open(sys.argv[1])).get("status") != "complete")' \
    "$f" 2>/dev/null
}

# job_compare_args DIR: fills the array compare_args with the job's flags.
job_compare_args() { mapfile -t compare_args <"$1/compare.args"; }
