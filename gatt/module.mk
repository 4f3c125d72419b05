# SPDX-License-Identifier: MIT
# gatt/: the BlueZ client (sd-bus) and nothing else: libgatt.a, linked with
# libcommon.a, libcodec.a and libsystemd.
GATT_SRCS := gatt/bluez.c gatt/bluez-buds.c gatt/bluez-op.c gatt/bluez-request.c
GATT_OBJS := $(GATT_SRCS:%.c=$(B)/%.o)
GATT_LIBS = $(call pkglibs,libsystemd) $(CODEC_LIBS)

$(B)/libgatt.a: $(GATT_OBJS) ; $(AR_RULE)
