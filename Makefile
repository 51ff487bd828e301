# The two commands of README.md are `make run` and `make test`.
.PHONY: run test lint bench bench-engagement soak simulator screenshot

run:
	@bash scripts/run.sh

test:
	@bash scripts/test.sh

lint:
	@bash scripts/lint.sh

bench:
	@bash scripts/bench.sh $(N)

bench-engagement:
	@bash scripts/bench_engagement.sh $(N)

soak:
	@bash scripts/soak.sh

simulator:
	@bash scripts/simulator.sh
