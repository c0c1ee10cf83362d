#!/bin/bash
# Issue 26 figures, this checkout against c957850, alternating rounds; one after another.
cd /work/main
OUT=benchmarks/results/issue26_load_service.jsonl
R=${1:?usage: benchmarks/issue26_compare.sh REGISTRY}
run() { echo "== $* $(cut -d' ' -f1-3 /proc/loadavg) $(date -u +%H:%M:%S)"; nice -n 5 .venv/bin/python benchmarks/load_service.py --registry $R --compare c957850 --rounds 3 --out $OUT "$@" 2>&1 | grep '"summary"'; }
run --requests 2000 --warmup 200 --bodies 4000 --rate 100
run --requests 2000 --warmup 200 --bodies 4000 --rate 200
run --requests 2000 --warmup 300 --rate 100
run --requests 2000 --warmup 300 --rate 200
run --requests 3000 --warmup 300 --iso-times
run --requests 3000 --warmup 300
run --requests 2000 --warmup 300 --stream --rate 100
run --requests 3000 --warmup 300 --stream
echo "== member_predict $(cut -d' ' -f1-3 /proc/loadavg)"
nice -n 5 .venv/bin/python benchmarks/member_predict.py --registry $R --calls 400 --compare c957850 --rounds 3 2>&1 | grep '"summary"'
echo done
