# SPDX-License-Identifier: MIT
# make deb: the Debian packages, built by dpkg-buildpackage from a copy of the
# source tree in $(B)/deb/src (dh_clean walks and prunes the whole tree it
# runs in, which must not be a working tree with build/ in it). The .deb,
# .changes and .buildinfo files land in $(B)/deb; lintian, when installed,
# checks them and fails the target on an error.
DEB_DIR := $(B)/deb

deb:
	rm -rf $(DEB_DIR)
	mkdir -p $(DEB_DIR)/src/bridged
	tar -c --exclude=./build --exclude='./$(B)' --exclude=./.git --exclude=./debian/build \
		--exclude=./debian/tmp -f - . | tar -x -C $(DEB_DIR)/src/bridged
	cd $(DEB_DIR)/src/bridged && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u MAKEOVERRIDES \
		dpkg-buildpackage -us -uc -b
	find $(DEB_DIR)/src -maxdepth 1 -type f \( -name '*.deb' -o -name '*.ddeb' -o -name '*.changes' \
		-o -name '*.buildinfo' \) -exec mv -t $(DEB_DIR) {} +
	rm -rf $(DEB_DIR)/src
	@if command -v lintian >/dev/null; then \
		echo "lintian $(DEB_DIR)/*.changes"; lintian --fail-on error $(DEB_DIR)/*.changes; \
	else echo "deb: lintian is not installed; not checked"; fi
	@ls -1 $(DEB_DIR)

.PHONY: deb
