# SPDX-License-Identifier: MIT
# common/: the helpers every library of the house may use and that use none of
# them: cleanup macros (header only), jittered backoff, the Buds address,
# the random sources, the error-message helper, the re-armed sd-event timer,
# the INI file reader and its line rules.
# libcommon.a; its users link what they call (event-timer.o needs libsystemd,
# ini-file.o inih).
COMMON_SRCS := common/backoff.c common/buds-address.c common/errmsg.c common/event-timer.c common/ini-file.c \
	common/ini-line.c common/random.c
COMMON_OBJS := $(COMMON_SRCS:%.c=$(B)/%.o)
COMMON_LIBS = $(call pkglibs,libsystemd)

$(B)/libcommon.a: $(COMMON_OBJS) ; $(AR_RULE)
