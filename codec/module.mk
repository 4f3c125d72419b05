# SPDX-License-Identifier: MIT
# codec/: the record codecs, pure (no sd-bus, no libcurl): the GATT bytes
# (wire), the sync API's JSON form (recjson) and the strict JSON reader under
# it (json-strict), JSON Merge Patch (merge-patch), the AutoEq/REW EQ text
# (parametric) and a value in words (describe). libcodec.a carries policy's objects too, so that syncd,
# the fuzzers, the unit tests and the daemon link the pure half as one archive.
CODEC_SRCS := codec/wire.c codec/json-strict.c codec/recjson.c codec/merge-patch.c codec/parametric.c \
	codec/describe.c
CODEC_OBJS := $(POLICY_OBJS) $(CODEC_SRCS:%.c=$(B)/%.o)
CODEC_LIBS = $(call pkglibs,libcjson) -lm

$(B)/libcodec.a: $(CODEC_OBJS) ; $(AR_RULE)
$(B)/fuzzobj/libcodec.a: $(POLICY_SRCS:%.c=$(B)/fuzzobj/%.o) $(CODEC_SRCS:%.c=$(B)/fuzzobj/%.o) ; $(AR_RULE)
