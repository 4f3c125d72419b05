# SPDX-License-Identifier: MIT
# tests/systemd/: checks of what systemd/ installs (check-units.sh): the unit
# (systemd-analyze verify and security), the D-Bus policy on a private
# dbus-daemon, sysusers.d and tmpfiles.d in a scratch root. bus-peer stands in
# for bridged on that bus; the script finds it through $BRIDGED_BUILD.
TESTS += tests/systemd/check-units.sh

CHECK_DEPS += $(B)/tests/systemd/bus-peer

$(B)/tests/systemd/bus-peer: $(B)/tests/systemd/bus-peer.o
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(call pkglibs,libsystemd)
