# SPDX-License-Identifier: MIT
# tests/sim/: the deterministic multi-host simulation (docs/simulation.md):
# the engine over real SQLite files, policy/, the codecs and budsim's Buds
# model, driven by one seed. make check runs a bounded set of seeds;
# `make sim` replays one (SEED=N, with STEPS= and FAULTS= from a shrunk
# failure) or explores for SECONDS=N; FLOW=1 delivers messages as they
# fall due during the schedule too (docs/simulation.md, finding 18).
SIM := $(B)/tests/sim/sim
TESTS += $(SIM)

$(SIM): $(B)/tests/sim/sim.o $(B)/bridged/engine.o $(B)/bridged/store.o $(B)/tests/budsim/buds.o $(B)/tests/lib/values.o \
		$(B)/libcodec.a $(B)/libcommon.a
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(call pkglibs,sqlite3) $(CODEC_LIBS)

sim: $(SIM)
	@$(SIM) $(if $(SEED),--seed $(SEED) --trace) $(if $(STEPS),--steps $(STEPS)) \
		$(if $(FAULTS),--faults $(FAULTS)) $(if $(SECONDS),--seconds $(SECONDS)) $(if $(SEEDS),--seeds $(SEEDS)) \
		$(if $(FLOW),--flow)

.PHONY: sim
