# gatt/: the pure codecs (libcodec: policy + wire + recjson, no sd-bus) and,
# apart from them, the BlueZ client.
CODEC_SRCS := gatt/wire.c gatt/recjson.c
CODEC_OBJS := $(POLICY_OBJS) $(CODEC_SRCS:%.c=$(B)/%.o)
CODEC_LIBS = $(call pkglibs,libcjson) -lm

$(B)/libcodec.a: $(CODEC_OBJS) ; $(AR_RULE)
$(B)/fuzzobj/libcodec.a: $(POLICY_SRCS:%.c=$(B)/fuzzobj/%.o) $(CODEC_SRCS:%.c=$(B)/fuzzobj/%.o) ; $(AR_RULE)
