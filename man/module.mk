# SPDX-License-Identifier: MIT
# man/: the manual pages, man(7) source kept as written (no generation step).
# tests/man/check-man.sh lints each and holds it against the program's --help.
MAN_PAGES := man/bridgectl.1 man/bridged.conf.5 man/bridged.8 man/syncd.8

INSTALL_RULES += install-man

install-man:
	install -d $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8
	install -m 0644 man/bridgectl.1 $(DESTDIR)$(MANDIR)/man1/bridgectl.1
	install -m 0644 man/bridged.conf.5 $(DESTDIR)$(MANDIR)/man5/bridged.conf.5
	install -m 0644 man/bridged.8 man/syncd.8 $(DESTDIR)$(MANDIR)/man8/

.PHONY: install-man
