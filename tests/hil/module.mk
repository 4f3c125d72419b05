# SPDX-License-Identifier: MIT
# tests/hil/: hardware-in-loop groundwork. A QEMU VM (tests/hil/vm/) runs the
# real bluetoothd 5.66 with two virtual LE controllers; buds-periph serves the
# Buds model (tests/budsim/buds.c) as a real GATT peripheral on one of them
# and the scenarios drive a client on the other. `make hil-vm` builds what
# goes into the image, checks this machine can run it (one line and a skip
# when it cannot), builds the image (cached under $(HIL_CACHE)) and runs it.
HIL_CACHE ?= $(B)/hil-vm
HIL_TESTS ?= probe-basic scenarios scenarios-paired real-rig
# The BlueZ release(s) the VM runs (tests/hil/vm/release): bookworm (5.66),
# trixie (Debian 13's), or both, one VM each, their figures side by side.
HIL_BLUEZ ?= bookworm
# HIL_RECORD=1: each run's row goes into docs/compatibility.md (tests/hil/vm/report).
HIL_RECORD ?=

HIL_PERIPH := $(B)/tests/hil/buds-periph
HIL_PROBE := $(B)/tests/hil/hil-probe
HIL_SCENARIOS_BIN := $(B)/tests/hil/hil-scenarios
HIL_LATENCY_SIM := $(B)/tests/hil/hil-latency-sim
PROGRAMS += $(HIL_PERIPH) $(HIL_PROBE) $(HIL_SCENARIOS_BIN) $(HIL_LATENCY_SIM)

$(HIL_PERIPH): $(B)/tests/budsim/periph.o $(B)/tests/budsim/buds.o $(B)/libcodec.a
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(call pkglibs,libsystemd) $(CODEC_LIBS)

$(HIL_PROBE): $(B)/tests/hil/vm/probe.o $(B)/libcodec.a
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(call pkglibs,libsystemd) $(CODEC_LIBS)

$(HIL_SCENARIOS_BIN): $(B)/tests/hil/scenarios.o $(B)/tests/lib/harness.o $(B)/tests/lib/phone.o $(B)/tests/lib/values.o $(B)/libcodec.a
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(call pkglibs,libsystemd libcurl) $(CODEC_LIBS)

# The same latency figure on the simulator (tests/e2e's harness), printed next to the VM's.
$(HIL_LATENCY_SIM): $(B)/tests/hil/latency-sim.o $(E2E_OBJS) $(B)/libcodec.a \
		| $(B)/bridged/bridged $(B)/tests/budsim/budsim $(B)/server/syncd
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(call pkglibs,libsystemd libcurl) $(CODEC_LIBS)

# What goes into the image: HOST_PATH[:VM_PATH] (default /usr/local/bin/NAME).
# Scenario scripts live in tests/hil/vm/tests/ and are always included.
HIL_IMAGE_FILES := $(HIL_PERIPH) $(HIL_PROBE) $(HIL_SCENARIOS_BIN) tests/hil/real/run:/hil/real/run \
	$(B)/bridged/bridged $(B)/bridged/bridgectl $(B)/server/syncd:/hil/build/server/syncd \
	tests/lib/mkcerts.sh:/hil/tests/lib/mkcerts.sh \
	systemd/org.bridged.conf:/usr/share/dbus-1/system.d/org.bridged.conf \
	tests/hil/vm/hil-dbus.conf:/etc/dbus-1/system.d/hil.conf \
	tests/hil/vm/restart-bluetoothd:/usr/local/bin/hil-restart-bluetoothd
HIL_IMAGE_DEPS := $(foreach f,$(HIL_IMAGE_FILES),$(firstword $(subst :, ,$(f))))

hil-vm: $(HIL_IMAGE_DEPS) $(HIL_LATENCY_SIM)
	@rc=0; sums=""; \
	for r in $(HIL_BLUEZ); do \
		HIL_BLUEZ=$$r tests/hil/vm/check-environment --cache "$(HIL_CACHE)" || { \
			test $$? -eq 77 && echo "make hil-vm: skipped" >&2 && exit 0; exit 1; } ; \
		HIL_BLUEZ=$$r tests/hil/vm/build --cache "$(HIL_CACHE)" $(HIL_IMAGE_FILES) || exit 1; \
		HIL_BLUEZ=$$r tests/hil/vm/run --cache "$(HIL_CACHE)" $(HIL_TESTS) || rc=1; \
		sums="$$sums $(HIL_CACHE)/$$r/last-run.summary"; \
	done; \
	{ $(HIL_LATENCY_SIM) 2>/dev/null || true; }; \
	echo "==== hil-vm: figures per BlueZ release"; \
	tests/hil/vm/report $$sums; \
	if [ "$(HIL_RECORD)" = 1 ]; then tests/hil/vm/report --record docs/compatibility.md $$sums; fi; \
	exit $$rc

# make check: the VM suite is one test program, in the normal pass only;
# the sanitizer pass (SAN=1) gets a stub that skips with one line.
HIL_CHECK_PROG := $(B)/tests/hil/run-check
TESTS += $(HIL_CHECK_PROG)
ifneq ($(SAN),1)
$(HIL_CHECK_PROG): tests/hil/vm/run-check tests/hil/module.mk | $(HIL_IMAGE_DEPS) $(HIL_LATENCY_SIM)
	@mkdir -p $(@D)
	@printf '#!/bin/sh\nexec tests/hil/vm/run-check --cache "%s" --latency-sim "%s" --tests "%s" -- %s\n' \
		"$(HIL_CACHE)" "$(HIL_LATENCY_SIM)" "$(HIL_TESTS)" "$(HIL_IMAGE_FILES)" > $@
	@chmod +x $@
	@echo 1500 > $@.timeout
else
$(HIL_CHECK_PROG): tests/hil/module.mk
	@mkdir -p $(@D)
	@printf '#!/bin/sh\necho "hil-vm: skipped under the sanitizers: the VM suite belongs to the normal pass only"\nexit 77\n' > $@
	@chmod +x $@
endif

.PHONY: hil-vm

# make hil-vm-systemd: the Debian packages under a real PID 1 (docs/hil.md,
# "The systemd variant"). Builds the packages (make deb), then an image of
# its own whose init is systemd (tests/hil/vm/systemd/: prepare makes its
# tools from the ordinary VM's, which stay as they are), cached under
# $(HIL_SYSTEMD_CACHE), and boots it with tests/hil/vm/run. Not part of
# make check. Its one scenario took 147 s of the default 200 s deadline on a
# loaded host (the seat's logins and monitors), hence 400 s here.
HIL_SYSTEMD_CACHE ?= $(HIL_CACHE)/systemd
HIL_SYSTEMD_TESTS ?= systemd-packages
HIL_SYSTEMD_FILES := tests/hil/vm/systemd/run:/hil/systemd/run \
	tests/hil/vm/systemd/hil-run.service:/hil/systemd/hil-run.service \
	tests/hil/vm/systemd/modules-load.conf:/etc/modules-load.d/hil.conf \
	tests/lib/mkcerts.sh:/hil/tests/lib/mkcerts.sh

hil-vm-systemd: deb
	@tools="$(HIL_SYSTEMD_CACHE)/tools"; rc=0; \
	tests/hil/vm/systemd/prepare "$$tools" || exit 1; \
	debs="$$(ls $(DEB_DIR)/bridged_*.deb):/hil/debs/bridged.deb $$(ls $(DEB_DIR)/bridged-syncd_*.deb):/hil/debs/bridged-syncd.deb"; \
	for r in $(HIL_BLUEZ); do \
		HIL_BLUEZ=$$r "$$tools/check-environment" --cache "$(HIL_SYSTEMD_CACHE)" || { \
			test $$? -eq 77 && echo "make hil-vm-systemd: skipped" >&2 && exit 0; exit 1; } ; \
		HIL_BLUEZ=$$r "$$tools/build" --cache "$(HIL_SYSTEMD_CACHE)" $$debs $(HIL_SYSTEMD_FILES) || exit 1; \
		HIL_BLUEZ=$$r HIL_MEM=$${HIL_MEM:-1536} HIL_TEST_TIMEOUT=$${HIL_TEST_TIMEOUT:-400} \
			tests/hil/vm/run --cache "$(HIL_SYSTEMD_CACHE)" $(HIL_SYSTEMD_TESTS) || rc=1; \
	done; \
	exit $$rc

.PHONY: hil-vm-systemd
