# SPDX-License-Identifier: MIT
# tests/gatt/: the BlueZ client against budsim on a private dbus-daemon
# (tests/lib/testbus), and its benchmark.
GATT_FIXTURE_OBJS := $(B)/tests/gatt/fixture.o $(B)/tests/lib/testbus.o

TESTS += $(B)/tests/gatt/test-bluez
BENCHES += $(B)/tests/gatt/bench-bluez

# Both run the budsim program, so they depend on it being built.
$(B)/tests/gatt/test-bluez $(B)/tests/gatt/bench-bluez: $(B)/tests/gatt/%: $(B)/tests/gatt/%.o \
		$(GATT_FIXTURE_OBJS) $(B)/libgatt.a $(B)/libcodec.a $(B)/libcommon.a | $(B)/tests/budsim/budsim
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(call pkglibs,cmocka) $(GATT_LIBS)
