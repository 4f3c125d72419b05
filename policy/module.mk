# SPDX-License-Identifier: MIT
# policy/: pure C, no I/O. Everything links it.
POLICY_SRCS := $(sort $(wildcard policy/*.c))
POLICY_OBJS := $(POLICY_SRCS:%.c=$(B)/%.o)

$(B)/libpolicy.a: $(POLICY_OBJS) ; $(AR_RULE)
