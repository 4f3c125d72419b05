# bridged/: the daemon. libbridged-base.a holds what every part of it uses and
# that needs nothing of the rest: the configuration file and token (conf), the
# command line (options), the log (log). The daemon's own objects (store,
# HTTPS client, sync engine, control API, main) and bridgectl are added below
# as they are written, each as its own list, linking libbridged-base.a.
BRIDGED_BASE_SRCS := bridged/conf.c bridged/options.c bridged/log.c
BRIDGED_BASE_OBJS := $(BRIDGED_BASE_SRCS:%.c=$(B)/%.o)
# conf: inih, and libcurl's URL parser (Url= is checked as libcurl will read
# it); log: sd-journal.
BRIDGED_BASE_LIBS = $(call pkglibs,inih libcurl libsystemd)

$(B)/libbridged-base.a: $(BRIDGED_BASE_OBJS) ; $(AR_RULE)
