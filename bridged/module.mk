# SPDX-License-Identifier: MIT
# bridged/: the daemon. libbridged-base.a holds what every part of it uses and
# that needs nothing of the rest: the configuration file and token (conf), the
# command line (options), the log (log). The daemon's own objects (store,
# HTTPS client, sync engine, control API, main) and bridgectl are added below
# as they are written, each as its own list, linking libbridged-base.a.
BRIDGED_BASE_SRCS := bridged/conf.c bridged/options.c bridged/log.c
BRIDGED_BASE_OBJS := $(BRIDGED_BASE_SRCS:%.c=$(B)/%.o)
# conf: inih, libcommon.a (the Buds address) and libuplink.a's uplink-url.o
# (Url= is checked as the uplink will, with libcurl's parser), libcodec.a's
# policy objects (UTF-8), GnuTLS (CAFile= is loaded to count its
# certificates); log: sd-journal.
BRIDGED_BASE_LIBS = $(call pkglibs,inih libcurl libsystemd gnutls)

$(B)/libbridged-base.a: $(BRIDGED_BASE_OBJS) ; $(AR_RULE)

# The daemon: the store, the sync engine's core, the manager that drives it
# over BlueZ (libgatt) and the server (libuplink), and the control API.
BRIDGED_SRCS := bridged/store.c bridged/engine.c bridged/latency.c bridged/manager.c bridged/manager-buds.c bridged/manager-sync.c \
	bridged/manager-registry.c bridged/manager-sync-call.c bridged/sync-loop.c bridged/access.c bridged/control.c bridged/control-watch.c bridged/control-buds.c bridged/control-json.c
BRIDGED_OBJS := $(BRIDGED_SRCS:%.c=$(B)/%.o)
BRIDGED_LIBS = $(BRIDGED_BASE_LIBS) $(call pkglibs,libcurl libsystemd sqlite3) $(CODEC_LIBS)

$(B)/libbridged.a: $(BRIDGED_OBJS) ; $(AR_RULE)

$(B)/bridged/bridged: $(B)/bridged/bridged.o $(B)/libbridged.a $(B)/libbridged-base.a $(B)/libuplink.a \
		$(B)/libgatt.a $(B)/libcodec.a $(B)/libcommon.a
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(BRIDGED_LIBS)

# bridgectl needs only the bus and the names of keys and families.
$(B)/bridged/bridgectl: $(B)/bridged/bridgectl.o $(B)/bridged/bridgectl-show.o $(B)/bridged/bridgectl-monitor.o \
		$(B)/libcodec.a $(B)/libcommon.a
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(call pkglibs,libsystemd) $(CODEC_LIBS)

PROGRAMS += $(B)/bridged/bridged $(B)/bridged/bridgectl
INSTALLED_PROGRAMS += $(B)/bridged/bridged $(B)/bridged/bridgectl
INSTALL_RULES += install-bridged

install-bridged: $(B)/bridged/bridged $(B)/bridged/bridgectl
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(BINDIR)
	install -m 0755 $(B)/bridged/bridged $(DESTDIR)$(SBINDIR)/bridged
	install -m 0755 $(B)/bridged/bridgectl $(DESTDIR)$(BINDIR)/bridgectl

.PHONY: install-bridged
