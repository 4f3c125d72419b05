# SPDX-License-Identifier: MIT
# uplink/: the HTTPS client of the sync API, beside gatt/: libcurl's multi
# interface on sd-event (curl-loop), the calls and their retries (uplink), the
# bodies and answers (uplink-json), Idempotency-Keys (uplink-key) and the
# error table (uplink-error), the server URL's check (uplink-url, which the
# configuration uses too). libuplink.a, linked with libcommon.a and
# libcodec.a.
UPLINK_SRCS := uplink/curl-loop.c uplink/uplink.c uplink/uplink-error.c uplink/uplink-json.c \
	uplink/uplink-key.c uplink/uplink-url.c
UPLINK_OBJS := $(UPLINK_SRCS:%.c=$(B)/%.o)
UPLINK_LIBS = $(call pkglibs,libcurl libsystemd) $(CODEC_LIBS)

$(B)/libuplink.a: $(UPLINK_OBJS) ; $(AR_RULE)
