/* SPDX-License-Identifier: MIT */
/* The three items of Shared Data as typed values, in the exact integer units of
 * the wire (docs/protocol.md), with the range rules that every boundary applies.
 * Pure: no I/O, no allocation, no globals. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "stamp.h"

enum key {
        KEY_PROFILE = 1,
        KEY_EQ_CUSTOM = 2,
        KEY_EQ_ACTIVE = 3,
};
#define KEY_MIN KEY_PROFILE
#define KEY_MAX KEY_EQ_ACTIVE

enum family {
        FAMILY_ANY = 0,         /* profile only */
        FAMILY_STANDARD = 1,
        FAMILY_PRO = 2,
};
#define FAMILY_COUNT 3          /* array index range, FAMILY_ANY..FAMILY_PRO */

enum noise_control {
        NOISE_OFF = 0,
        NOISE_ANC = 1,
        NOISE_AMBIENT = 2,
};

enum touch_action {
        TOUCH_NONE = 0,
        TOUCH_PLAY_PAUSE = 1,
        TOUCH_NEXT = 2,
        TOUCH_PREVIOUS = 3,
        TOUCH_NOISE_CONTROL = 4,
        TOUCH_VOICE_ASSISTANT = 5,
};

enum band_type {
        BAND_PEAK = 0,
        BAND_LOW_SHELF = 1,
        BAND_HIGH_SHELF = 2,
};

enum preset {
        PRESET_FLAT = 0,
        PRESET_BASS_BOOST = 1,
        PRESET_VOICE = 2,
        PRESET_TREBLE = 3,
        PRESET_CUSTOM = 255,
};

/* Record flags (docs/protocol.md) */
#define RECORD_DIRTY   0x01u
#define RECORD_DERIVED 0x02u

/* Ranges, in wire units */
#define PROFILE_GAIN_MIN   (-24)        /* 0.5 dB */
#define PROFILE_GAIN_MAX   24
#define AMBIENT_LEVEL_MAX  10
#define PROFILE_NAME_MAX   32           /* bytes of UTF-8 */
#define STD_BANDS          5
#define STD_GAIN_MIN       (-24)        /* 0.5 dB */
#define STD_GAIN_MAX       24
#define PRO_BANDS_MAX      10
#define PRO_PREAMP_MIN     (-120)       /* 0.1 dB */
#define PRO_PREAMP_MAX     0
#define PRO_FREQ_MIN       20           /* Hz */
#define PRO_FREQ_MAX       20000
#define PRO_GAIN_MIN       (-120)       /* 0.1 dB */
#define PRO_GAIN_MAX       120
#define PRO_Q_MIN          10           /* Q x 100 */
#define PRO_Q_MAX          1000

#define PROFILE_BANDS 6                 /* 250, 500, 1k, 2k, 4k, 8k Hz */

struct profile {
        bool hearing_enabled;
        int8_t left[PROFILE_BANDS];     /* 0.5 dB */
        int8_t right[PROFILE_BANDS];
        uint8_t noise_control;          /* enum noise_control */
        uint8_t ambient_level;
        uint8_t touch_left;             /* enum touch_action */
        uint8_t touch_right;
        uint8_t name_len;               /* bytes, without the terminating NUL */
        char name[PROFILE_NAME_MAX + 1];/* NUL-terminated for convenience */
};

struct eq_standard {
        int8_t gain[STD_BANDS];         /* 0.5 dB at 60, 250, 1000, 4000, 16000 Hz */
};

struct eq_band {
        uint8_t type;                   /* enum band_type */
        uint16_t freq_hz;
        int16_t gain;                   /* 0.1 dB */
        uint16_t q100;                  /* Q x 100 */
};

struct eq_pro {
        int16_t preamp;                 /* 0.1 dB */
        uint8_t count;
        struct eq_band band[PRO_BANDS_MAX];
};

/* EQ parameters; which member is meaningful follows the value's family. */
union eq_params {
        struct eq_standard std;
        struct eq_pro pro;
};

struct eq_active {
        uint8_t preset;                 /* enum preset */
        union eq_params eq;             /* only when preset == PRESET_CUSTOM */
};

/* One item's value in one family. Unused bytes are zero (value_init), so two
 * values compare equal with value_equal. */
struct value {
        enum key key;
        enum family family;             /* FAMILY_ANY for profile, else standard/pro */
        union {
                struct profile profile;
                union eq_params custom; /* KEY_EQ_CUSTOM */
                struct eq_active active;/* KEY_EQ_ACTIVE */
        };
};

/* A stamped copy of a value, as the Buds, the server and the cache hold it. */
struct record {
        struct value value;
        struct stamp stamp;
        uint8_t flags;                  /* RECORD_DIRTY | RECORD_DERIVED */
        uint32_t revision;              /* the Buds' counter; 0 off the Buds */
};

/* Every rejection names the field and why: "bands[2].q: 1001 is outside 10..1000". */
#define VALUE_ERR_MAX 160
struct value_err {
        char msg[VALUE_ERR_MAX];
};

/* Fills e (when not NULL) and returns r (a negative errno), so callers write
 * `return value_errf(e, -EINVAL, "...", ...)`. A message already set is kept
 * (the innermost error wins); prefix with value_err_prefix(). */
int value_errf(struct value_err *e, int r, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void value_err_prefix(struct value_err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

const char *key_name(enum key k);                       /* "profile", "eq.custom", "eq.active"; NULL if invalid */
int key_from_name(const char *s, enum key *ret);        /* -EINVAL if unknown */
const char *family_name(enum family f);                 /* "any", "standard", "pro" */
int family_from_name(const char *s, enum family *ret);
const char *noise_control_name(unsigned v);
int noise_control_from_name(const char *s, uint8_t *ret);
const char *touch_action_name(unsigned v);
int touch_action_from_name(const char *s, uint8_t *ret);
const char *band_type_name(unsigned v);
int band_type_from_name(const char *s, uint8_t *ret);
const char *preset_name(unsigned v);
int preset_from_name(const char *s, uint8_t *ret);

bool key_is_valid(int k);
/* Whether (key, family) names an item representation: profile/any, EQ/standard, EQ/pro. */
bool key_family_is_valid(int k, int f);

void value_init(struct value *v, enum key key, enum family family);

/* Every range, enum, count and UTF-8 rule of the GATT profile. 0 or -EINVAL. */
int value_check(const struct value *v, struct value_err *e);
bool value_equal(const struct value *a, const struct value *b);

/* Strict UTF-8 (no overlongs, no surrogates, nothing above U+10FFFF), and no NUL. */
bool utf8_is_valid(const char *s, size_t n);
