# Two commands for a fresh machine:  make demo   and   make test
# Both create .venv with a Python >= 3.12 (found automatically, or PYTHON=/path/to/python3.12).
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
STUDY  ?= studies/demo_bare_li.toml
OUT    ?= results/$(basename $(notdir $(STUDY)))

.PHONY: kernels demo test bench run venv clean clean-cache sweep report check calibrate bounded-fit external gold sensitivity paraview phase-map identify design ply-tables
SWEEP_STUDY ?= studies/fig4_bare_li.toml
JOBS   ?= 2
# pytest-xdist workers for make test (TEST_JOBS=1: serial)
TEST_JOBS ?= 2
FORCE  ?=
CASES  ?=
# where sweep/calibrate/sensitivity cases run (docs/cluster.md): SCHEDULER=tcp://host:8786 (a running Dask
# scheduler), EXECUTOR=slurm (dask-jobqueue, config CLUSTER), RANKS=K (mpiexec -n K for 3D/composite cases)
SCHEDULER ?=
EXECUTOR  ?=
CLUSTER   ?=
RANKS     ?=
EXEC_ARGS = $(if $(SCHEDULER),--scheduler $(SCHEDULER)) $(if $(EXECUTOR),--executor $(EXECUTOR)) $(if $(CLUSTER),--cluster-config $(CLUSTER)) $(if $(RANKS),--ranks $(RANKS))
comma  := ,
.DEFAULT_GOAL := demo

$(STAMP): pyproject.toml
	@set -e; base=$$(tools/find_python.sh); echo "using $$base"; \
	  [ -x $(PY) ] || $$base -m venv $(VENV); \
	  $(PY) -m pip install -q --upgrade pip; \
	  $(PY) -m pip install -q -e '.[test]'
	@touch $@

venv: $(STAMP)

# The numba kernels compiled ahead of time (fem/aot.py: a run then loads them in ~1 ms instead of
# initialising numba's JIT, 0.3 s); rebuilt when their sources change. Without them (a failed build)
# runs use the JIT kernels, with the same results.
KERNELS := $(VENV)/.kernels
KERNEL_SOURCES := fem/aot.py fem/physics/creep_point.py fem/physics/anand_point.py fem/models/assembly.py
$(KERNELS): $(STAMP) $(KERNEL_SOURCES)
	@$(PY) -m fem.aot build || echo "warning: ahead-of-time kernel build failed; the JIT kernels will be used"
	@touch $@

kernels: $(KERNELS) ## compile the numba kernels ahead of time (done by every target when needed)

demo: $(KERNELS)   ## run the bare-Li demo study and print where the ParaView files are
	$(PY) -m fem run $(STUDY) --out $(OUT)

run: demo

test: $(KERNELS)   ## the verification and unit test suite, on TEST_JOBS pytest workers (one test file per worker)
	$(PY) -m pytest -q -ra $(if $(filter-out 1,$(TEST_JOBS)),-n $(TEST_JOBS) --dist loadfile,)

sweep: $(KERNELS)  ## run every case of a sweep study: make sweep STUDY=studies/fig4_bare_li.toml JOBS=2 [FORCE=1] [SCHEDULER=tcp://host:8786 | EXECUTOR=slurm]
	$(PY) -m fem sweep $(if $(filter command line,$(origin STUDY)),$(STUDY),$(SWEEP_STUDY)) --jobs $(JOBS) $(if $(FORCE),--force,) $(EXEC_ARGS)

report: $(KERNELS) ## predicted-vs-measured report of a finished sweep: make report STUDY=...
	$(PY) -m fem report $(if $(filter command line,$(origin STUDY)),$(STUDY),$(SWEEP_STUDY))

check: $(KERNELS)  ## regression check of the calibrated model against the measured strain (exit 1 when out of tolerance)
	$(PY) -m fem.workflows.regression --jobs $(JOBS)

bounded-fit: $(KERNELS) ## bounded fit of the bare-Li points (Anand law, friction + A within 1 decade): grid, chi^2 profile, Fisher, leave-one-out; writes studies/fig4_bare_li_bounded.toml (used by make check)
	$(PY) -m fem.workflows.bounded_fit --jobs $(JOBS)

external: $(KERNELS) ## external validation, nothing fitted: Masias et al. 2019 compression creep of Li cylinders (5 stresses x 2 laws x friction x ramp); writes results/external/masias2019.md
	$(PY) -m fem.workflows.external run --jobs $(JOBS)

calibrate: $(KERNELS) ## fit A and mu (sigma_y on request) to the bare-Li points; leave-one-out; writes studies/fig4_bare_li_calibrated.toml
	$(PY) -m fem.workflows.calibrate --jobs $(JOBS) $(EXEC_ARGS)

identify: $(KERNELS) ## one-point identification of one unknown, then predictions: make identify STUDY=studies/composite_glicfc_6mm_identify_gel_porosity.toml [RANKS=2]
	$(PY) -m fem.workflows.identify $(STUDY) --jobs $(JOBS) $(if $(RANKS),--ranks $(RANKS))

design: $(KERNELS) ## G-LiCFC design study (Li loading, cloth, gel at 10 and 30 MPa, homogenised disc): results/<study>/design.md, .png [STUDY=...]
	$(PY) -m fem.workflows.design $(if $(filter command line,$(origin STUDY)),$(STUDY),) --jobs $(JOBS)

ply-tables: $(KERNELS) ## creep response tables of the G-LiCFC ply (periodic RVE, 5 modes x 3 rates + 2 held stresses, ~30-50 min): studies/data/ply_creep_<key>.json [STUDY=...]
	$(PY) -m fem.rve.ply_tables $(if $(filter command line,$(origin STUDY)),$(STUDY),studies/composite_glicfc_homogenised.toml) --jobs $(JOBS)

sensitivity: $(KERNELS) ## one-at-a-time sensitivity (mu, thickness, A, n, T, hold) at 5.19 and 17.79 MPa, tornado plot
	$(PY) -m fem.workflows.sensitivity --jobs $(JOBS) $(EXEC_ARGS)

paraview: $(KERNELS) ## ParaView script + PNG for a run: make paraview STUDY=studies/x.toml CASE=name, or RUN=results/demo_bare_li
	$(PY) -m fem.workflows.paraview $(if $(RUN),$(RUN),$(if $(CASE),results/$(basename $(notdir $(STUDY)))/$(CASE),$(OUT)))

phase-map: $(KERNELS) ## where a resolved 3D composite run deforms, phase by phase (Li creep by height and radius, tow sliding): make phase-map RUN=results/<study>/<case>
	$(PY) -m fem.workflows.phase_map $(if $(RUN),$(RUN),$(if $(CASE),results/$(basename $(notdir $(STUDY)))/$(CASE),$(OUT)))

gold: $(KERNELS)   ## rewrite tests/gold/*.csv (only when results are meant to change; see fem/verification/gold.py); CASES=a,b for some
	$(PY) tools/update_gold.py $(subst $(comma), ,$(CASES))

bench: $(KERNELS)  ## benchmark suite (not a test): axisymmetric + CalculiX, then 3D serial vs MPI
	$(PY) bench/bench_axisym.py
	$(PY) bench/bench_3d.py
	$(PY) bench/bench_linear.py
	$(PY) bench/bench_composite_convergence.py
	$(PY) bench/bench_newton_3d.py --steps 6 --variants mumps,mumps+reuse
	$(PY) bench/bench_homogenised.py

clean:
	rm -rf results

clean-cache:
	rm -rf .cache $(KERNELS)
