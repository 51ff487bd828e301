# The two commands of README.md are `make run` and `make test`.
.PHONY: run test lint bench bench-scale bench-engagement soak simulator screenshot

run:
	@bash scripts/run.sh

test:
	@bash scripts/test.sh

lint:
	@bash scripts/lint.sh

bench:
	@bash scripts/bench.sh $(N)

# the scale targets in one run (sweep, 1,000,000, Odoo at 100,000): see bench/bench.py
bench-scale:
	@BENCH_PLAN=scale bash scripts/bench.sh

bench-engagement:
	@bash scripts/bench_engagement.sh $(N)

soak:
	@bash scripts/soak.sh

simulator:
	@bash scripts/simulator.sh
