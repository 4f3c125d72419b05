# SPDX-License-Identifier: MIT
# completion/: bash completion for bridgectl, installed where bash-completion
# loads it on demand (DATADIR/bash-completion/completions, the directory
# bash-completion's pkg-config file names for PREFIX=/usr).
BASH_COMPLETIONSDIR ?= $(DATADIR)/bash-completion/completions

INSTALL_RULES += install-completion

install-completion:
	install -d $(DESTDIR)$(BASH_COMPLETIONSDIR)
	install -m 0644 completion/bridgectl.bash $(DESTDIR)$(BASH_COMPLETIONSDIR)/bridgectl

.PHONY: install-completion
