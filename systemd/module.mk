# SPDX-License-Identifier: MIT
# systemd/: bridged's unit, D-Bus policy, system user, configuration directory
# and default configuration, syncd's unit, system user and default
# configuration, and where `make install` puts them.
# With PREFIX=/usr the unit, sysusers.d and tmpfiles.d directories are the ones
# systemd's pkg-config file names (/lib/... on Debian 12); any other PREFIX
# gets PREFIX/lib/..., which systemd also reads for /usr/local. Each may be set
# on the command line. The D-Bus policy goes where dbus-daemon reads it: the
# package's /usr/share/dbus-1/system.d with PREFIX=/usr, else the
# administrator's /etc/dbus-1/system.d (dbus-daemon never reads
# /usr/local/share/dbus-1).
systemd_pcdir = $(if $(filter /usr,$(PREFIX)),$(shell pkg-config --variable=$(1) systemd 2>/dev/null))
SYSTEMD_UNITDIR ?= $(or $(call systemd_pcdir,systemdsystemunitdir),$(PREFIX)/lib/systemd/system)
SYSUSERS_DIR ?= $(or $(call systemd_pcdir,sysusersdir),$(PREFIX)/lib/sysusers.d)
TMPFILES_DIR ?= $(or $(call systemd_pcdir,tmpfilesdir),$(PREFIX)/lib/tmpfiles.d)
DBUS_POLICYDIR ?= $(if $(filter /usr,$(PREFIX)),$(DATADIR),$(SYSCONFDIR))/dbus-1/system.d

INSTALL_RULES += install-systemd

# The configuration is the administrator's once installed: never overwritten.
# It is 0644 (no secret in it) inside /etc/bridged, which bridged.tmpfiles
# makes 0751 root:bridged once the group exists (systemd-sysusers).
# install_conf FILE: systemd/FILE as /etc/bridged/FILE, unless there is one.
install_conf = if [ -e $(DESTDIR)$(SYSCONFDIR)/bridged/$(1) ]; then \
		echo "install-systemd: keeping $(DESTDIR)$(SYSCONFDIR)/bridged/$(1)"; \
	else \
		echo "install -m 0644 systemd/$(1) $(DESTDIR)$(SYSCONFDIR)/bridged/$(1)"; \
		install -m 0644 systemd/$(1) $(DESTDIR)$(SYSCONFDIR)/bridged/$(1); \
	fi

install-systemd:
	install -d $(DESTDIR)$(SYSTEMD_UNITDIR) $(DESTDIR)$(DBUS_POLICYDIR) \
		$(DESTDIR)$(SYSUSERS_DIR) $(DESTDIR)$(TMPFILES_DIR) $(DESTDIR)$(SYSCONFDIR)/bridged
	for unit in bridged syncd; do \
		sed 's|@SBINDIR@|$(SBINDIR)|g' systemd/$$unit.service > $(DESTDIR)$(SYSTEMD_UNITDIR)/$$unit.service && \
		chmod 0644 $(DESTDIR)$(SYSTEMD_UNITDIR)/$$unit.service || exit 1; \
	done
	install -m 0644 systemd/org.bridged.conf $(DESTDIR)$(DBUS_POLICYDIR)/org.bridged.conf
	install -m 0644 systemd/bridged.sysusers $(DESTDIR)$(SYSUSERS_DIR)/bridged.conf
	install -m 0644 systemd/syncd.sysusers $(DESTDIR)$(SYSUSERS_DIR)/syncd.conf
	install -m 0644 systemd/bridged.tmpfiles $(DESTDIR)$(TMPFILES_DIR)/bridged.conf
	@$(call install_conf,bridged.conf)
	@$(call install_conf,syncd.conf)
	@echo "install-systemd: then, on the target: systemd-sysusers bridged.conf syncd.conf &&" \
		"systemd-tmpfiles --create bridged.conf && systemctl daemon-reload"

.PHONY: install-systemd
