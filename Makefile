# The two commands of README.md are `make run` and `make test`.
.PHONY: run test lint bench bench-scale bench-scale-loops bench-deployed bench-history bench-journey bench-engagement soak simulator

run:
	@bash scripts/dev/run.sh

test:
	@bash scripts/check/test.sh

lint:
	@bash scripts/check/lint.sh

bench:
	@bash bench/bench.sh $(N)

# the scale targets in one run, on real odoo-bin servers and their cron threads (layouts x latencies,
# 1,000,000 on 2 x 2, Odoo at 100,000, our worker loops as a second row): see bench/deployed_plan.py
bench-scale:
	@BENCH_SCRIPT=deployed_plan bash bench/bench.sh $(or $(N),100000)

# the former plan of our own worker loops (sweep, 1,000,000, Odoo at 100,000): see bench/bench.py
bench-scale-loops:
	@BENCH_PLAN=scale bash bench/bench.sh

# our sending on real odoo-bin servers and their cron threads (BENCH_LAYOUTS=1x1,1x2,2x2): see bench/deployed.py
bench-deployed:
	@BENCH_SCRIPT=deployed bash bench/bench.sh $(N)

# sending, the form and the reports on an empty history and after a year of it: see bench/history.py
bench-history:
	@BENCH_SCRIPT=history bash bench/bench.sh $(N)

# the journey mode: 10,000 then 100,000 participants entering a 3-step journey at once: see bench/journey.py
bench-journey:
	@bash bench/journey.sh

bench-engagement:
	@bash bench/bench_engagement.sh $(N)

soak:
	@bash scripts/soak/soak.sh

simulator:
	@bash scripts/dev/simulator.sh
