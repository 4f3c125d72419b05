# SPDX-License-Identifier: MIT
# bridged: top-level build. Each directory adds its own rules in module.mk;
# this file holds what they share. Plain GNU make, pkg-config for every library.

PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
SBINDIR ?= $(PREFIX)/sbin
LIBEXECDIR ?= $(PREFIX)/libexec
DATADIR ?= $(PREFIX)/share
MANDIR ?= $(DATADIR)/man
SYSCONFDIR ?= /etc
DESTDIR ?=

# One version for every program, page and package: debian/changelog's, without
# an epoch or a Debian revision (tests/packaging/check-version.sh holds the
# programs and the manual pages to it).
VERSION := $(shell sed -n '1{s/^[^(]*(\([^)]*\)).*/\1/;s/^[0-9]*://;s/-[^-]*$$//;p;q;}' debian/changelog 2>/dev/null)
$(if $(VERSION),,$(error Makefile: no version in the first line of debian/changelog))
B ?= build
SAN ?= 0
CC ?= cc
FUZZ_CC ?= clang
FUZZ_SECONDS ?= 60

# Build and test inputs every target needs; build-aux/deps checks them first.
TOP_TARGETS := all check bench demo demo-shell fuzz install hil-vm

.DEFAULT_GOAL := all

ifndef BRIDGED_INNER
# Outer make: check the Debian packages, then run the real build in a sub-make
# (so pkg-config is asked only after anything missing was installed).
$(TOP_TARGETS): deps
	@$(MAKE) --no-print-directory BRIDGED_INNER=1 $@

deps:
	@build-aux/deps

# make deb installs nothing on its own, root or not: it says what the
# package build lacks (dpkg-checkbuilddeps reads debian/control) and stops.
deb:
	@build-aux/deps --check-only debhelper dpkg-dev
	@dpkg-checkbuilddeps
	@$(MAKE) --no-print-directory BRIDGED_INNER=1 $@

clean:
	rm -rf build

# For editors (clangd): the compile commands of everything, from a dry run.
compile_commands.json:
	@build-aux/compile-commands $@ BRIDGED_INNER=1 all check-build

.PHONY: compile_commands.json

.PHONY: $(TOP_TARGETS) deps clean
else

PKGS := libsystemd sqlite3 libpq libcurl libcjson cmocka inih libmicrohttpd
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS))
pkglibs = $(shell pkg-config --libs $(1))

WARN := -Wall -Wextra -Werror -Wshadow -Wmissing-prototypes -Wstrict-prototypes
CSTD := -std=gnu11
OPT ?= -O2 -g
ifeq ($(SAN),1)
OPT := -O1 -g -fno-omit-frame-pointer
SANFLAGS := -fsanitize=address,undefined -fno-sanitize-recover=undefined
endif
ALL_CFLAGS := $(CSTD) $(WARN) $(OPT) $(SANFLAGS) -D_GNU_SOURCE -DBRIDGED_VERSION='"$(VERSION)"' -I. \
	$(PKG_CFLAGS) -MMD -MP $(CFLAGS)
ALL_LDFLAGS := $(SANFLAGS) $(LDFLAGS)

# Fuzzers: clang, libFuzzer, ASan and UBSan; objects apart from the normal ones.
FUZZ_CFLAGS := -std=gnu11 $(WARN) -g -O1 -D_GNU_SOURCE -I. $(PKG_CFLAGS) \
	-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined

# Filled by the module.mk files:
TESTS :=          # programs the runner runs (cmocka binaries, test scripts)
BENCHES :=        # programs make bench runs
FUZZERS :=        # names; tests/fuzz/fuzz-NAME.c, corpus in tests/fuzz/corpus/NAME
PROGRAMS :=       # what make all builds
CHECK_DEPS :=     # helpers the test programs run (built before make check runs them)
INSTALL_RULES :=  # targets make install runs

$(B)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(B)/fuzzobj/%.o: %.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -MMD -MP -c $< -o $@

# Fragments write `$(B)/libfoo.a: objects ; $(AR_RULE)`.
AR_RULE = @mkdir -p $(@D) && rm -f $@ && $(AR) rcs $@ $^

# The libraries bottom up (a fragment may use the variables of those above
# it), then the programs, then the tests; the order is written out, not taken
# from the alphabet.
include policy/module.mk common/module.mk codec/module.mk gatt/module.mk uplink/module.mk
include bridged/module.mk server/module.mk
include systemd/module.mk man/module.mk completion/module.mk debian/module.mk
include tests/module.mk tests/policy/module.mk tests/common/module.mk tests/codec/module.mk \
	tests/budsim/module.mk tests/bridged/module.mk tests/store/module.mk tests/engine/module.mk \
	tests/gatt/module.mk tests/uplink/module.mk tests/e2e/module.mk tests/demo/module.mk tests/sim/module.mk \
	tests/hil/module.mk tests/systemd/module.mk tests/man/module.mk tests/packaging/module.mk \
	tests/bridgectl/module.mk tests/openapi/module.mk
MODULES_UNLISTED := $(filter-out $(MAKEFILE_LIST),$(wildcard */module.mk tests/*/module.mk))
$(if $(MODULES_UNLISTED),$(error Makefile: add $(MODULES_UNLISTED) to the include list))

all: $(PROGRAMS)

check: all $(TESTS) $(CHECK_DEPS) $(FUZZERS:%=$(B)/fuzz/%)
	@build-aux/run-tests "$(B)" $(TESTS)
	@build-aux/run-fuzz-corpus "$(B)" $(FUZZERS)
ifneq ($(SAN),1)
	@echo "== the same suites under AddressSanitizer and UndefinedBehaviorSanitizer =="
	@$(MAKE) --no-print-directory B=$(B)/san SAN=1 check-san
endif

# Everything make check builds, without running it (compile_commands.json).
check-build: all $(TESTS) $(CHECK_DEPS) $(FUZZERS:%=$(B)/fuzz/%)

# BRIDGED_SAN=1: a suite that only repeats another on a second backend
# (the scenarios on PostgreSQL, through HAProxy) skips itself here, to keep
# make check within 15 minutes; the PostgreSQL store under the sanitizers is
# test-syncd-pg's and test-instances-pg's.
check-san: all $(TESTS) $(CHECK_DEPS)
	@BRIDGED_SAN=1 build-aux/run-tests "$(B)" $(TESTS)

# BRIDGED_BUILD as run-tests sets it: the scripts and the helpers a bench
# starts (syncd, budsim) come from this build directory, not build/.
bench: $(BENCHES)
	@for b in $(BENCHES); do echo "== $$b"; BRIDGED_BUILD=$(B) $$b || exit 1; done

fuzz: $(FUZZERS:%=$(B)/fuzz/%)
	@build-aux/run-fuzz "$(B)" $(FUZZ_SECONDS) $(FUZZERS)

$(B)/fuzz/%: $(B)/fuzzobj/tests/fuzz/fuzz-%.o $(B)/fuzzobj/libcodec.a
	@mkdir -p $(@D)
	$(FUZZ_CC) -fsanitize=fuzzer,address,undefined -o $@ $^ $(call pkglibs,libcjson) -lm

demo: all $(DEMO)
	@BRIDGED_BUILD=$(B) $(DEMO)

# The demo, then the sandbox kept running to try bridgectl in (Ctrl-C ends it).
demo-shell: all $(DEMO)
	@BRIDGED_BUILD=$(B) $(DEMO) --shell

# What a package ships, without the test programs (budsim, the rig's) that
# all builds too: make deb and make install build only these.
programs: $(INSTALLED_PROGRAMS)

install: programs $(INSTALL_RULES)

.PHONY: all programs check check-build check-san bench fuzz demo demo-shell install
.SECONDARY:

-include $(shell find $(B) -path $(B)/hil-vm -prune -o -name '*.d' -type f -print 2>/dev/null)
endif
