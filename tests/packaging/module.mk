# SPDX-License-Identifier: MIT
# tests/packaging/: what make install and the Debian packaging deliver, checked
# without building a package. check-install.sh: every file make install
# installs (with debian/rules' variables) is in exactly one package's
# debian/*.install. check-completion.sh: the bash completion of bridgectl.
# check-licence.sh: LICENSE, debian/copyright and an SPDX line in every file.
# check-version.sh: the programs' --version and the pages' .TH against
# debian/changelog.
TESTS += tests/packaging/check-install.sh tests/packaging/check-completion.sh \
	tests/packaging/check-licence.sh tests/packaging/check-version.sh

tests/packaging/check-completion.sh: $(B)/bridged/bridgectl
tests/packaging/check-version.sh: $(B)/bridged/bridged $(B)/bridged/bridgectl $(B)/server/syncd

# check-smoke.sh: debian/tests/smoke (the package's autopkgtest) on the build
# tree, so the smoke test itself is known to work before a package runs it.
TESTS += tests/packaging/check-smoke.sh

tests/packaging/check-smoke.sh: $(B)/bridged/bridged $(B)/bridged/bridgectl $(B)/server/syncd
