# SPDX-License-Identifier: MIT
# tests/budsim/: the Buds simulator (a fake bluetoothd 5.66 owning org.bluez,
# with a test control interface) and its tests. tests/lib/testbus.c is the
# private dbus-daemon helper that D-Bus tests share.
BUDSIM_SRCS := tests/budsim/budsim.c tests/budsim/bluez.c tests/budsim/chrc.c \
	tests/budsim/control.c tests/budsim/buds.c
BUDSIM_OBJS := $(BUDSIM_SRCS:%.c=$(B)/%.o)
TESTBUS_OBJS := $(B)/tests/lib/testbus.o

PROGRAMS += $(B)/tests/budsim/budsim
TESTS += $(B)/tests/budsim/test-budsim

$(B)/tests/budsim/budsim: $(BUDSIM_OBJS) $(B)/libcodec.a
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(call pkglibs,libsystemd) $(CODEC_LIBS)

# The test runs the budsim program, so it depends on it being built.
$(B)/tests/budsim/test-budsim: $(B)/tests/budsim/test-budsim.o $(B)/tests/budsim/buds.o \
		$(TESTBUS_OBJS) $(B)/libcodec.a | $(B)/tests/budsim/budsim
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(call pkglibs,cmocka libsystemd) $(CODEC_LIBS)
