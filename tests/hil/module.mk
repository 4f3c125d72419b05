# tests/hil/: hardware-in-loop groundwork. A QEMU VM (tests/hil/vm/) runs the
# real bluetoothd 5.66 with two virtual LE controllers; buds-periph serves the
# Buds model (tests/budsim/buds.c) as a real GATT peripheral on one of them
# and the scenarios drive a client on the other. `make hil-vm` builds what
# goes into the image, checks this machine can run it (one line and a skip
# when it cannot), builds the image (cached under $(HIL_CACHE)) and runs it.
HIL_CACHE ?= $(B)/hil-vm
HIL_TESTS ?= probe-basic

HIL_PERIPH := $(B)/tests/hil/buds-periph
HIL_PROBE := $(B)/tests/hil/hil-probe
PROGRAMS += $(HIL_PERIPH) $(HIL_PROBE)

$(HIL_PERIPH): $(B)/tests/budsim/periph.o $(B)/tests/budsim/buds.o $(B)/libcodec.a
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(call pkglibs,libsystemd) $(CODEC_LIBS)

$(HIL_PROBE): $(B)/tests/hil/vm/probe.o $(B)/libcodec.a
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(call pkglibs,libsystemd) $(CODEC_LIBS)

# What goes into the image: HOST_PATH[:VM_PATH] (default /usr/local/bin/NAME).
# Scenario scripts live in tests/hil/vm/tests/ and are always included.
HIL_IMAGE_FILES := $(HIL_PERIPH) $(HIL_PROBE)

hil-vm: $(HIL_IMAGE_FILES)
	@tests/hil/vm/check-environment --cache "$(HIL_CACHE)" || { \
		test $$? -eq 77 && echo "make hil-vm: skipped" >&2 && exit 0; exit 1; } ; \
	tests/hil/vm/build --cache "$(HIL_CACHE)" $(HIL_IMAGE_FILES) && \
	tests/hil/vm/run --cache "$(HIL_CACHE)" $(HIL_TESTS)

.PHONY: hil-vm
