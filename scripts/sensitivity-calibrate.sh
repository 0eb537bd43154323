#!/usr/bin/env bash
# Calibration of kernels/testing/planted.cu (see docs/sensitivity.md): per-case `pawl ab` ratios at 2% and
# 10% planted, and `pawl run` medians by ITERS. Run from the folder `sensitivity.sh --pack` fills.
set -u -o pipefail
here=$(cd "$(dirname "$0")" && pwd)
PAWL=$here/pawl
command -v git >/dev/null || export PATH=$here/bin:$PATH
export GIT_AUTHOR_NAME=p GIT_AUTHOR_EMAIL=p@l GIT_COMMITTER_NAME=p GIT_COMMITTER_EMAIL=p@l
mkdir -p $OUT/c
work=$(mktemp -d); cd $work; cp $here/planted.cu .
. "$here/planted-suite.sh"
suite() { planted_suite "$1" "{ W = [1, 2], ITERS = [1024, 2048, 3072], REP = [0, 1] }"; }
suite 0.0; git init -q .; git add -A; git commit -qm base
$PAWL run pawl.toml --max-time 0.3 -o $OUT/c/run.json > $OUT/c/run.txt 2>&1
for pct in 2.0 10.0; do suite $pct; $PAWL ab --base HEAD --tolerance 0.005 --budget 15s --format json -o $OUT/c/ab$pct.json 2> $OUT/c/ab$pct.log; done
cd $OUT && tar czf calib.tgz c && rm -rf c
python3 - <<'EOF'
import json,tarfile,io,statistics as st,os
t=tarfile.open(os.environ['OUT']+'/calib.tgz')
r=json.load(t.extractfile('c/run.json'))
for c in r['cases']: print('run', c['id'], c['status'], round(st.median(c['samples_ns'])) if c['samples_ns'] else c.get('error'))
for p in ('2.0','10.0'):
  d=json.load(t.extractfile(f'c/ab{p}.json'))
  for v in d['verdicts']: print('ab',p,v['id'],v['kind'],round(v['ratio']['point'],4) if v.get('ratio') else v['reason'], v['old']['median_ns']['point'] if v.get('old') else '')
EOF
