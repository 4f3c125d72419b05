# gatt/: the pure codecs (libcodec: policy + wire + recjson, no sd-bus) and,
# apart from them, the BlueZ client.
CODEC_SRCS := gatt/wire.c gatt/recjson.c
CODEC_OBJS := $(POLICY_OBJS) $(CODEC_SRCS:%.c=$(B)/%.o)
CODEC_LIBS = $(call pkglibs,libcjson) -lm

$(B)/libcodec.a: $(CODEC_OBJS) ; $(AR_RULE)
$(B)/fuzzobj/libcodec.a: $(POLICY_SRCS:%.c=$(B)/fuzzobj/%.o) $(CODEC_SRCS:%.c=$(B)/fuzzobj/%.o) ; $(AR_RULE)

# The BlueZ client (sd-bus): libgatt.a, linked with libcodec.a and libsystemd.
GATT_SRCS := gatt/bluez.c gatt/bluez-buds.c gatt/bluez-op.c gatt/bluez-request.c
GATT_OBJS := $(GATT_SRCS:%.c=$(B)/%.o)
GATT_LIBS = $(call pkglibs,libsystemd) $(CODEC_LIBS)

$(B)/libgatt.a: $(GATT_OBJS) ; $(AR_RULE)
