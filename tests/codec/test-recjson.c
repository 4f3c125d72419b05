/* SPDX-License-Identifier: MIT */
/* Unit tests of codec/recjson.c: the strict JSON reader, every value form and
 * family both ways, exact number round trips, and every rejection with the
 * member path it names. JSON in the tables is written with ' for " and turned
 * into real JSON by q(). */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <cjson/cJSON.h>

#include "codec/recjson.h"

#define ELEMENTSOF(a) (sizeof(a) / sizeof((a)[0]))

#define STAMP "'stamp':{'ms':1763700000000,'c':3,'origin':'00a1b2c3d4e5f607'}"
#define REC(k, f, v) "{'key':'" k "','family':'" f "'," STAMP ",'derived':false,'value':" v "}"

#define PROFILE_V "{'hearing':{'enabled':false,'left_db':[0,0,0,0,0,0],'right_db':[0,0,0,0,0,0]}," \
                  "'noise_control':'off','ambient_level':0,'touch':{'left':'none','right':'none'},'name':'x'}"
#define STD_V "{'bands_db':[0,0,0,0,0]}"
#define PRO_V "{'preamp_db':0,'bands':[{'type':'peak','freq_hz':1000,'gain_db':0,'q':1}," \
              "{'type':'peak','freq_hz':2000,'gain_db':0,'q':1},{'type':'high_shelf','freq_hz':8000,'gain_db':0,'q':0.71}]}"
#define ACT_STD "{'preset':'custom','eq':" STD_V "}"
#define ACT_PRO "{'preset':'custom','eq':" PRO_V "}"
#define REC_PRO REC("eq.active", "pro", ACT_PRO)

/* ' -> ", in a static buffer (tests are single-threaded) */
static const char *q(const char *s) {
        static char buf[4096];
        size_t n = strlen(s);

        assert_true(n < sizeof(buf));
        for (size_t i = 0; i <= n; i++)
                buf[i] = s[i] == '\'' ? '"' : s[i];
        return buf;
}

/* base with the first occurrence of find replaced by repl, then q() */
static const char *mutate(const char *base, const char *find, const char *repl) {
        static char buf[4096];
        const char *at = find ? strstr(base, find) : NULL;

        if (!find)
                return q(base);
        if (!at)
                fail_msg("\"%s\" not in %s", find, base);
        (void) snprintf(buf, sizeof(buf), "%.*s%s%s", (int) (at - base), base, repl, at + strlen(find));
        return q(buf);
}

static void stamp_example(struct stamp *s) {
        s->hlc = stamp_pack(1763700000000ull, 3);
        s->origin = 0x00a1b2c3d4e5f607ull;
}

static void profile_example(struct record *r) {
        struct profile *p = &r->value.profile;
        static const int8_t left[6] = { -24, -23, 0, 1, 23, 24 }, right[6] = { 2, 4, 6, 8, 10, 12 };

        memset(r, 0, sizeof(*r));
        value_init(&r->value, KEY_PROFILE, FAMILY_ANY);
        stamp_example(&r->stamp);
        p->hearing_enabled = true;
        memcpy(p->left, left, 6);
        memcpy(p->right, right, 6);
        p->noise_control = NOISE_AMBIENT;
        p->ambient_level = 10;
        p->touch_left = TOUCH_PLAY_PAUSE;
        p->touch_right = TOUCH_VOICE_ASSISTANT;
        strcpy(p->name, "B\xc3\xbc" "ds \"1\"");
        p->name_len = (uint8_t) strlen(p->name);
}

static void pro_example(union eq_params *eq, unsigned count) {
        eq->pro.preamp = -20;
        eq->pro.count = (uint8_t) count;
        for (unsigned i = 0; i < count; i++)
                eq->pro.band[i] = (struct eq_band) { (uint8_t) (i % 3), (uint16_t) (20 + 2000 * i),
                                                     (int16_t) (35 - 13 * (int) i), (uint16_t) (71 + 90 * i) };
}

static int parse_record(const char *sq, struct record *ret, struct value_err *e) {
        const char *text = q(sq);

        return recjson_record_parse(text, strlen(text), ret, e);
}

static void assert_record_equal(const struct record *a, const struct record *b) {
        assert_true(value_equal(&a->value, &b->value));
        assert_true(stamp_eq(a->stamp, b->stamp));
        assert_int_equal(a->flags, b->flags);
        assert_int_equal(a->revision, b->revision);
}

/* print, compare with the expected text (if any), parse back, compare */
static void round_trip(const struct record *r, const char *expect) {
        struct value_err e = { { 0 } };
        struct record back;
        char *s = recjson_record_print(r), *again;

        assert_non_null(s);
        if (expect)
                assert_string_equal(s, q(expect));
        assert_int_equal(recjson_record_parse(s, strlen(s), &back, &e), 0);
        assert_record_equal(r, &back);
        again = recjson_record_print(&back);
        assert_string_equal(s, again);
        free(again);
        free(s);
}

static void test_profile(void **state) {
        struct record r;

        (void) state;
        profile_example(&r);
        round_trip(&r, "{'key':'profile','family':'any','stamp':{'ms':1763700000000,'c':3,'origin':'00a1b2c3d4e5f607'},"
                       "'derived':false,'value':{'hearing':{'enabled':true,'left_db':[-12,-11.5,0,0.5,11.5,12],"
                       "'right_db':[1,2,3,4,5,6]},'noise_control':'ambient','ambient_level':10,"
                       "'touch':{'left':'play_pause','right':'voice_assistant'},'name':'B\xc3\xbc" "ds \\'1\\''}}");
        r.value.profile.name[0] = '\0';
        r.value.profile.name_len = 0;
        r.flags = RECORD_DERIVED;
        round_trip(&r, NULL);
        memcpy(r.value.profile.name, "\xf0\x9f\x8e\xa7\xf0\x9f\x8e\xa7\xf0\x9f\x8e\xa7\xf0\x9f\x8e\xa7"
                                     "\xf0\x9f\x8e\xa7\xf0\x9f\x8e\xa7\xf0\x9f\x8e\xa7\xf0\x9f\x8e\xa7", 33);
        r.value.profile.name_len = 32;
        round_trip(&r, NULL);
}

static void test_standard(void **state) {
        static const int8_t g[5] = { -24, -1, 0, 7, 24 };
        struct record r;

        (void) state;
        memset(&r, 0, sizeof(r));
        value_init(&r.value, KEY_EQ_CUSTOM, FAMILY_STANDARD);
        stamp_example(&r.stamp);
        memcpy(r.value.custom.std.gain, g, 5);
        round_trip(&r, "{'key':'eq.custom','family':'standard','stamp':{'ms':1763700000000,'c':3,"
                       "'origin':'00a1b2c3d4e5f607'},'derived':false,'value':{'bands_db':[-12,-0.5,0,3.5,12]}}");

        value_init(&r.value, KEY_EQ_ACTIVE, FAMILY_STANDARD);
        r.value.active.preset = PRESET_CUSTOM;
        memcpy(r.value.active.eq.std.gain, g, 5);
        r.flags = RECORD_DERIVED;
        round_trip(&r, "{'key':'eq.active','family':'standard','stamp':{'ms':1763700000000,'c':3,"
                       "'origin':'00a1b2c3d4e5f607'},'derived':true,'value':{'preset':'custom',"
                       "'eq':{'bands_db':[-12,-0.5,0,3.5,12]}}}");
        for (unsigned p = PRESET_FLAT; p <= PRESET_TREBLE; p++) {
                value_init(&r.value, KEY_EQ_ACTIVE, FAMILY_STANDARD);
                r.value.active.preset = (uint8_t) p;
                round_trip(&r, NULL);
        }
}

static void test_pro(void **state) {
        struct record r;

        (void) state;
        memset(&r, 0, sizeof(r));
        stamp_example(&r.stamp);
        value_init(&r.value, KEY_EQ_CUSTOM, FAMILY_PRO);
        pro_example(&r.value.custom, 2);
        round_trip(&r, "{'key':'eq.custom','family':'pro','stamp':{'ms':1763700000000,'c':3,'origin':'00a1b2c3d4e5f607'},"
                       "'derived':false,'value':{'preamp_db':-2,'bands':["
                       "{'type':'peak','freq_hz':20,'gain_db':3.5,'q':0.71},"
                       "{'type':'low_shelf','freq_hz':2020,'gain_db':2.2,'q':1.61}]}}");
        for (unsigned n = 1; n <= PRO_BANDS_MAX; n++) {
                value_init(&r.value, KEY_EQ_CUSTOM, FAMILY_PRO);
                pro_example(&r.value.custom, n);
                round_trip(&r, NULL);
                value_init(&r.value, KEY_EQ_ACTIVE, FAMILY_PRO);
                r.value.active.preset = PRESET_CUSTOM;
                pro_example(&r.value.active.eq, n);
                round_trip(&r, NULL);
        }
        value_init(&r.value, KEY_EQ_ACTIVE, FAMILY_PRO);
        r.value.active.preset = PRESET_BASS_BOOST;
        round_trip(&r, "{'key':'eq.active','family':'pro','stamp':{'ms':1763700000000,'c':3,'origin':'00a1b2c3d4e5f607'},"
                       "'derived':false,'value':{'preset':'bass_boost'}}");
}

/* Every wire integer of every quantity prints and reads back to itself. */
static void check_exact(struct value *v, int16_t *field16, int8_t *field8, long min, long max) {
        struct value back;
        struct value_err e = { { 0 } };

        for (long n = min; n <= max; n++) {
                char *s;

                if (field16)
                        *field16 = (int16_t) n;
                else
                        *field8 = (int8_t) n;
                s = recjson_value_print(v);
                assert_non_null(s);
                if (recjson_value_parse(s, strlen(s), v->key, v->family, &back, &e) != 0)
                        fail_msg("%ld: %s: %s", n, s, e.msg);
                assert_true(value_equal(v, &back));
                free(s);
        }
}

static void test_exact_numbers(void **state) {
        struct value v;

        (void) state;
        value_init(&v, KEY_PROFILE, FAMILY_ANY);
        check_exact(&v, NULL, &v.profile.left[3], PROFILE_GAIN_MIN, PROFILE_GAIN_MAX);
        value_init(&v, KEY_EQ_CUSTOM, FAMILY_STANDARD);
        check_exact(&v, NULL, &v.custom.std.gain[4], STD_GAIN_MIN, STD_GAIN_MAX);
        value_init(&v, KEY_EQ_CUSTOM, FAMILY_PRO);
        pro_example(&v.custom, 1);
        check_exact(&v, &v.custom.pro.preamp, NULL, PRO_PREAMP_MIN, PRO_PREAMP_MAX);
        check_exact(&v, &v.custom.pro.band[0].gain, NULL, PRO_GAIN_MIN, PRO_GAIN_MAX);
        check_exact(&v, (int16_t *) &v.custom.pro.band[0].q100, NULL, PRO_Q_MIN, PRO_Q_MAX);
        check_exact(&v, (int16_t *) &v.custom.pro.band[0].freq_hz, NULL, PRO_FREQ_MIN, 20000);
}

static void test_stamps(void **state) {
        static const uint64_t ms[] = { 0, 1, 1763700000000ull, (1ull << 48) - 1 };
        static const uint16_t c[] = { 0, 1, 65535 };
        struct record r, back;
        char hex[17];
        uint64_t o = 0;

        (void) state;
        profile_example(&r);
        for (unsigned i = 0; i < ELEMENTSOF(ms); i++)
                for (unsigned k = 0; k < ELEMENTSOF(c); k++) {
                        r.stamp.hlc = stamp_pack(ms[i], c[k]);
                        r.stamp.origin = ~0ull - i;
                        round_trip(&r, NULL);
                }
        r.stamp = STAMP_FACTORY;
        round_trip(&r, NULL);

        recjson_origin_format(0x00a1b2c3d4e5f607ull, hex);
        assert_string_equal(hex, "00a1b2c3d4e5f607");
        assert_int_equal(recjson_origin_parse("ffffffffffffffff", &o), 0);
        assert_true(o == ~0ull);
        assert_int_equal(recjson_origin_parse("fffffffffffffffF", &o), -EINVAL);
        assert_int_equal(recjson_origin_parse("fffffffffffffff", &o), -EINVAL);
        assert_int_equal(recjson_origin_parse("fffffffffffffffff", &o), -EINVAL);
        assert_int_equal(recjson_origin_parse(NULL, &o), -EINVAL);

        /* all 65536 counters */
        for (unsigned k = 0; k <= 0xffff; k++) {
                char *s;

                r.stamp.hlc = stamp_pack(1, (uint16_t) k);
                s = recjson_record_print(&r);
                assert_int_equal(recjson_record_parse(s, strlen(s), &back, NULL), 0);
                assert_true(stamp_eq(back.stamp, r.stamp));
                free(s);
        }
}

/* Inputs that are fine though not in the printer's form. */
static void test_lenient_forms(void **state) {
        struct value_err e = { { 0 } };
        const char *text;
        struct record r;
        struct value v;

        (void) state;
        /* derived may be left out; exponents, -0 and trailing zeros are numbers like any other */
        assert_int_equal(parse_record("{'key':'eq.custom','family':'standard','value':{'bands_db':[1e1,-0,-0.0,0.5e0,35E-1]},"
                                      "'stamp':{'origin':'0000000000000000','c':-0,'ms':1.0e3}} \r\n\t", &r, &e), 0);
        assert_int_equal(r.flags, 0);
        assert_int_equal(r.revision, 0);
        assert_int_equal(r.value.custom.std.gain[0], 20);
        assert_int_equal(r.value.custom.std.gain[1], 0);
        assert_int_equal(r.value.custom.std.gain[2], 0);
        assert_int_equal(r.value.custom.std.gain[3], 1);
        assert_int_equal(r.value.custom.std.gain[4], 7);
        assert_true(r.stamp.hlc == stamp_pack(1000, 0));
        {
                char *s = recjson_record_print(&r);
                assert_string_equal(s, q("{'key':'eq.custom','family':'standard','stamp':{'ms':1000,'c':0,"
                                         "'origin':'0000000000000000'},'derived':false,'value':{'bands_db':[10,0,0,0.5,3.5]}}"));
                free(s);
        }
        text = q("{'preamp_db':-1.20,'bands':[{'q':7.1e-1,'gain_db':-12,'freq_hz':2e4,'type':'low_shelf'}]}");
        assert_int_equal(recjson_value_parse(text, strlen(text), KEY_EQ_CUSTOM, FAMILY_PRO, &v, &e), 0);
        assert_int_equal(v.custom.pro.preamp, -12);
        assert_int_equal(v.custom.pro.band[0].q100, 71);
        assert_int_equal(v.custom.pro.band[0].freq_hz, 20000);
        assert_int_equal(v.custom.pro.band[0].gain, -120);
        /* a text need not end in NUL: only len counts */
        assert_int_equal(recjson_value_parse("{\"bands_db\":[0,0,0,0,0]}}garbage", 24, KEY_EQ_CUSTOM, FAMILY_STANDARD, &v, &e), 0);
        /* an escaped surrogate pair is a character like any other */
        text = mutate(REC("profile", "any", PROFILE_V), "'name':'x'", "'name':'\\ud83c\\udfa7\\u00e9'");
        assert_int_equal(recjson_record_parse(text, strlen(text), &r, &e), 0);
        assert_string_equal(r.value.profile.name, "\xf0\x9f\x8e\xa7\xc3\xa9");
}

struct bad {
        int key;                /* 0: a whole record */
        int family;
        const char *base;
        const char *find, *repl;        /* find NULL: base as it is */
        const char *msg;        /* NULL: only the return code is checked */
};

#define R(find, repl, msg) { 0, 0, REC_PRO, find, repl, msg }
#define P(find, repl, msg) { KEY_PROFILE, FAMILY_ANY, PROFILE_V, find, repl, msg }
#define S(find, repl, msg) { KEY_EQ_CUSTOM, FAMILY_STANDARD, STD_V, find, repl, msg }
#define X(find, repl, msg) { KEY_EQ_CUSTOM, FAMILY_PRO, PRO_V, find, repl, msg }
#define AS(find, repl, msg) { KEY_EQ_ACTIVE, FAMILY_STANDARD, ACT_STD, find, repl, msg }
#define AP(find, repl, msg) { KEY_EQ_ACTIVE, FAMILY_PRO, ACT_PRO, find, repl, msg }

static const struct bad bad_cases[] = {
        /* the text itself */
        R("}}}", "}}} x", "json: unexpected data at byte 329"),
        R("}}}", "}}}}", "json: unexpected data at byte 328"),
        R("}}}", "}}}  [", "json: unexpected data at byte 330"),
        R("}}}", "}}", "json: syntax error at byte 326"),
        R("'peak'", "'pe\\u0000ak'", "json: \\u0000 at byte 180 is not allowed"),
        R("'key'", "'k\\u0000ey'", "json: \\u0000 at byte 3 is not allowed"),
        R("'peak'", "'pe\\u00zzak'", "json: invalid escape at byte 180"),
        R("'peak'", "'pe\\u00a'", "json: invalid escape at byte 180"),
        R("'peak'", "'pe\\x41'", "json: invalid escape at byte 180"),
        R("'peak'", "'pe\\ud800'", "json: syntax error at byte 180"),
        R("'peak'", "'pe\\udc00\\ud800'", NULL),
        R("'peak'", "'pe\xc3'", "json: invalid UTF-8 at byte 180"),
        R("'peak'", "'pe\xc0\xafk'", "json: invalid UTF-8 at byte 180"),         /* overlong */
        R("'peak'", "'pe\xed\xa0\x80k'", "json: invalid UTF-8 at byte 180"),     /* surrogate */
        R("'peak'", "'pe\xf4\x90\x80\x80k'", "json: invalid UTF-8 at byte 180"), /* > U+10FFFF */
        R("'peak'", "'pe\xffk'", "json: invalid UTF-8 at byte 180"),
        R("'peak'", "'pe\x80k'", "json: invalid UTF-8 at byte 180"),
        R("{'key'", "\xef\xbb\xbf{'key'", "json: unexpected data at byte 0"),            /* BOM */
        R("}}}", "}}}\xc3\xa9", "json: unexpected data at byte 328"),
        R("'peak'", "'pe\tk'", "json: control character in a string at byte 180"),
        R("'peak'", "'pe\nk'", "json: control character in a string at byte 180"),
        R("'key':", "'key':\x01", "json: control character at byte 7"),
        R("'key':", "'key':\f", "json: control character at byte 7"),
        R("'peak'", "'peak", NULL),
        R("'q':1}", "'q':01}", "json: invalid number at byte 215"),
        R("'q':1}", "'q':1.}", "json: invalid number at byte 215"),
        R("'q':1}", "'q':1.e1}", "json: invalid number at byte 215"),
        R("'q':1}", "'q':.5}", "json: syntax error at byte 215"),
        R("'q':1}", "'q':+1}", "json: syntax error at byte 215"),
        R("'q':1}", "'q':1e}", "json: invalid number at byte 215"),
        R("'q':1}", "'q':-}", "json: invalid number at byte 215"),
        R("'q':1}", "'q':--1}", "json: invalid number at byte 215"),
        R("'q':1}", "'q':0x1}", "json: syntax error at byte 216"),
        R("'q':1}", "'q':NaN}", "json: syntax error at byte 215"),
        R("'q':1}", "'q':Infinity}", "json: syntax error at byte 215"),
        R("'q':1}", "'q':1.00000000000000000000000000000000000000000000000000000000000000}",
          "json: number at byte 215 is longer than 63 characters"),
        R("'q':1}", "'q':1e999}", "value.eq.bands[0].q: must be a finite number"),
        R("'q':1}", "'q':-1e999}", "value.eq.bands[0].q: must be a finite number"),
        R("'q':1}", "'q':1,'q':1}", "json: duplicate member \"q\""),
        R("'key'", "'key':'profile','key'", "json: duplicate member \"key\""),
        R("'ms'", "'c':1,'ms'", "json: duplicate member \"c\""),
        R("'ms'", "'\\u0063':1,'ms'", "json: duplicate member \"c\""),    /* names compare unescaped */
        R("'type'", "'a':1,'b':2,'c':3,'d':4,'e':5,'f':6,'g':7,'h':8,'i':9,'j':10,'k':11,'l':12,'m':13,'n':14,'o':15,'p':16,'gain_db':1,'type'",
          "json: duplicate member \"gain_db\""),
        R("'type'", "'a':1,'b':2,'c':3,'d':4,'e':5,'f':6,'g':7,'h':8,'i':9,'j':10,'k':11,'l':12,'m':13,'n':14,'o':15,'p':16,'type'",
          "value.eq.bands[0]: unknown member \"a\""),
        R("'key'", "'x':[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]],'key'", "json: nesting deeper than 16 at byte 20"),
        R("'key'", "'x':[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]],'key'", "record: unknown member \"x\""),
        R("'key'", "'x':{'a':{'a':{'a':{'a':{'a':{'a':{'a':{'a':{'a':{'a':{'a':{'a':{'a':{'a':{'a':{}}}}}}}}}}}}}}}}},'key'",
          "json: nesting deeper than 16 at byte 80"),
        R("'key'", "'\xc3\xa9\\u0001\\\"\\\\\\u0041234567890123456789012345678901234567890':1,'key'",
          "record: unknown member \"\xc3\xa9???A23456789012345678901234567...\""),
        R("'key'", "'a\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9':1,'key'",
          "record: unknown member \"a\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9...\""),

        /* records */
        R("'key'", "'foo':1,'key'", "record: unknown member \"foo\""),
        R("'key':'eq.active',", "", "record: missing member \"key\""),
        R("'family':'pro',", "", "record: missing member \"family\""),
        R(STAMP ",", "", "record: missing member \"stamp\""),
        R(",'value'", ",'valu'", "record: unknown member \"valu\""),
        R("'derived':false,'value':" ACT_PRO, "'derived':false", "record: missing member \"value\""),
        R("'derived':false", "'derived':0", "derived: must be true or false"),
        R("'derived':false", "'derived':null", "derived: must be true or false"),
        R("'derived':false", "'derived':'false'", "derived: must be true or false"),
        R("'eq.active'", "'eq'", "key: \"eq\" is not one of profile|eq.custom|eq.active"),
        R("'eq.active'", "'Profile'", "key: \"Profile\" is not one of profile|eq.custom|eq.active"),
        R("'eq.active'", "3", "key: must be a string"),
        R("'pro'", "'Pro'", "family: \"Pro\" is not one of any|standard|pro"),
        R("'pro'", "'any'", "family: any does not fit key eq.active (profile is any, EQ items standard or pro)"),
        R("'pro'", "2", "family: must be a string"),
        R("'pro'", "'standard'", "value.eq: unknown member \"preamp_db\""),
        R("'eq.active','family':'pro'", "'profile','family':'pro'",
          "family: pro does not fit key profile (profile is any, EQ items standard or pro)"),
        R("'eq.active','family':'pro'", "'profile','family':'standard'", NULL),
        R("'eq.active','family':'pro'", "'profile','family':'any'", "value: unknown member \"preset\""),
        { 0, 0, "[]", NULL, NULL, "record: must be an object" },
        { 0, 0, "'record'", NULL, NULL, "record: must be an object" },
        { 0, 0, "null", NULL, NULL, "record: must be an object" },
        { 0, 0, "", NULL, NULL, "json: syntax error at byte 0" },
        { 0, 0, " \n", NULL, NULL, NULL },
        { 0, 0, "{'key'}", NULL, NULL, "json: syntax error at byte 6" },
        { 0, 0, "{'key':1,}", NULL, NULL, NULL },
        { 0, 0, "[1 2]", NULL, NULL, NULL },

        /* stamps */
        R(STAMP, "'stamp':[]", "stamp: must be an object"),
        R(STAMP, "'stamp':null", "stamp: must be an object"),
        R("'ms'", "'d':0,'ms'", "stamp: unknown member \"d\""),
        R("'ms':1763700000000,", "", "stamp: missing member \"ms\""),
        R("'c':3,", "", "stamp: missing member \"c\""),
        R(",'origin':'00a1b2c3d4e5f607'", "", "stamp: missing member \"origin\""),
        R("1763700000000", "-1", "stamp.ms: -1 is outside 0..281474976710655"),
        R("1763700000000", "281474976710656", "stamp.ms: 281474976710656 is outside 0..281474976710655"),
        R("1763700000000", "1e300", "stamp.ms: 1e+300 is outside 0..281474976710655"),
        R("1763700000000", "1763700000000.5", "stamp.ms: 1763700000000.5 is not an integer"),
        R("1763700000000", "'1763700000000'", "stamp.ms: must be a number"),
        R("1763700000000", "true", "stamp.ms: must be a number"),
        R("'c':3", "'c':65536", "stamp.c: 65536 is outside 0..65535"),
        R("'c':3", "'c':-1", "stamp.c: -1 is outside 0..65535"),
        R("'c':3", "'c':0.5", "stamp.c: 0.5 is not an integer"),
        R("'c':3", "'c':[3]", "stamp.c: must be a number"),
        R("'00a1b2c3d4e5f607'", "'00A1B2C3D4E5F607'", "stamp.origin: must be 16 lower-case hex digits"),
        R("'00a1b2c3d4e5f607'", "'00a1b2c3d4e5f60'", "stamp.origin: must be 16 lower-case hex digits"),
        R("'00a1b2c3d4e5f607'", "'00a1b2c3d4e5f6070'", "stamp.origin: must be 16 lower-case hex digits"),
        R("'00a1b2c3d4e5f607'", "'00a1b2c3d4e5f60g'", "stamp.origin: must be 16 lower-case hex digits"),
        R("'00a1b2c3d4e5f607'", "'0x a1b2c3d4e5f607'", "stamp.origin: must be 16 lower-case hex digits"),
        R("'00a1b2c3d4e5f607'", "''", "stamp.origin: must be 16 lower-case hex digits"),
        R("'00a1b2c3d4e5f607'", "' 00a1b2c3d4e5f60'", "stamp.origin: must be 16 lower-case hex digits"),
        R("'00a1b2c3d4e5f607'", "12345678", "stamp.origin: must be a string"),

        /* profile */
        { KEY_PROFILE, FAMILY_ANY, "[]", NULL, NULL, "value: must be an object" },
        { KEY_PROFILE, FAMILY_ANY, "7", NULL, NULL, "value: must be an object" },
        P("'name':'x'", "'name':'x','foo':1", "value: unknown member \"foo\""),
        P("'enabled'", "'gain':1,'enabled'", "value.hearing: unknown member \"gain\""),
        P("'left':'none'", "'left':'none','middle':'none'", "value.touch: unknown member \"middle\""),
        P("'hearing':{'enabled':false,'left_db':[0,0,0,0,0,0],'right_db':[0,0,0,0,0,0]},", "",
          "value: missing member \"hearing\""),
        P("'enabled':false,", "", "value.hearing: missing member \"enabled\""),
        P(",'right_db':[0,0,0,0,0,0]", "", "value.hearing: missing member \"right_db\""),
        P("'noise_control':'off',", "", "value: missing member \"noise_control\""),
        P("'ambient_level':0,", "", "value: missing member \"ambient_level\""),
        P("'touch':{'left':'none','right':'none'},", "", "value: missing member \"touch\""),
        P(",'right':'none'", "", "value.touch: missing member \"right\""),
        P(",'name':'x'", "", "value: missing member \"name\""),
        P("{'enabled'", "[{'enabled'", NULL),
        P("'hearing':{'enabled':false,'left_db':[0,0,0,0,0,0],'right_db':[0,0,0,0,0,0]}", "'hearing':true",
          "value.hearing: must be an object"),
        P("'touch':{'left':'none','right':'none'}", "'touch':'none'", "value.touch: must be an object"),
        P("'enabled':false", "'enabled':1", "value.hearing.enabled: must be true or false"),
        P("'enabled':false", "'enabled':'true'", "value.hearing.enabled: must be true or false"),
        P("'left_db':[0,0,0,0,0,0]", "'left_db':[0,0,0,0,0]", "value.hearing.left_db: must be an array of 6 numbers"),
        P("'left_db':[0,0,0,0,0,0]", "'left_db':[0,0,0,0,0,0,0]", "value.hearing.left_db: must be an array of 6 numbers"),
        P("'left_db':[0,0,0,0,0,0]", "'left_db':{}", "value.hearing.left_db: must be an array of 6 numbers"),
        P("'left_db':[0,0,0,0,0,0]", "'left_db':[0,0.3,0,0,0,0]", "value.hearing.left_db[1]: 0.3 is not a multiple of 0.5"),
        P("'left_db':[0,0,0,0,0,0]", "'left_db':[0,3.50000000001,0,0,0,0]",
          "value.hearing.left_db[1]: 3.50000000001 is not a multiple of 0.5"),
        P("'right_db':[0,0,0,0,0,0]", "'right_db':[0,0,0,0,0,12.5]", "value.hearing.right_db[5]: 12.5 is outside -12..12"),
        P("'right_db':[0,0,0,0,0,0]", "'right_db':[0,0,0,0,0,-12.5]", "value.hearing.right_db[5]: -12.5 is outside -12..12"),
        P("'left_db':[0,0,0,0,0,0]", "'left_db':['1',0,0,0,0,0]", "value.hearing.left_db[0]: must be a number"),
        P("'left_db':[0,0,0,0,0,0]", "'left_db':[null,0,0,0,0,0]", "value.hearing.left_db[0]: must be a number"),
        P("'left_db':[0,0,0,0,0,0]", "'left_db':[0,0,0,0,1e400,0]", "value.hearing.left_db[4]: must be a finite number"),
        P("'off'", "'loud'", "value.noise_control: \"loud\" is not one of off|anc|ambient"),
        P("'off'", "'ANC'", "value.noise_control: \"ANC\" is not one of off|anc|ambient"),
        P("'off'", "1", "value.noise_control: must be a string"),
        P("'ambient_level':0", "'ambient_level':11", "value.ambient_level: 11 is outside 0..10"),
        P("'ambient_level':0", "'ambient_level':-1", "value.ambient_level: -1 is outside 0..10"),
        P("'ambient_level':0", "'ambient_level':1.5", "value.ambient_level: 1.5 is not an integer"),
        P("'ambient_level':0", "'ambient_level':'5'", "value.ambient_level: must be a number"),
        P("'left':'none'", "'left':'skip'",
          "value.touch.left: \"skip\" is not one of none|play_pause|next|previous|noise_control|voice_assistant"),
        P("'right':'none'", "'right':null", "value.touch.right: must be a string"),
        P("'name':'x'", "'name':'123456789012345678901234567890123'", "value.name: 33 bytes is longer than 32"),
        P("'name':'x'", "'name':'\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
                        "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9'", "value.name: 34 bytes is longer than 32"),
        P("'name':'x'", "'name':'\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9"
                        "\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9'", "value.name: 34 bytes is longer than 32"),
        P("'name':'x'", "'name':3", "value.name: must be a string"),
        P("'name':'x'", "'name':'a\\u0000'", "json: \\u0000 at byte 166 is not allowed"),

        /* standard */
        S("[0,0,0,0,0]", "[0,0,0,0]", "value.bands_db: must be an array of 5 numbers"),
        S("[0,0,0,0,0]", "[0,0,0,0,0,0]", "value.bands_db: must be an array of 5 numbers"),
        S("[0,0,0,0,0]", "[0,0,0,0,24.5]", "value.bands_db[4]: 24.5 is outside -12..12"),
        S("[0,0,0,0,0]", "[0,0,0.25,0,0]", "value.bands_db[2]: 0.25 is not a multiple of 0.5"),
        S("[0,0,0,0,0]", "[0,0,0,0,false]", "value.bands_db[4]: must be a number"),
        S("'bands_db'", "'preamp_db':0,'bands_db'", "value: unknown member \"preamp_db\""),
        S("'bands_db':[0,0,0,0,0]", "", "value: missing member \"bands_db\""),
        { KEY_EQ_CUSTOM, FAMILY_STANDARD, PRO_V, NULL, NULL, "value: unknown member \"preamp_db\"" },

        /* pro */
        X("'preamp_db':0", "'preamp_db':0.1", "value.preamp_db: 0.1 is outside -12..0"),
        X("'preamp_db':0", "'preamp_db':-12.1", "value.preamp_db: -12.1 is outside -12..0"),
        X("'preamp_db':0", "'preamp_db':-2.05", "value.preamp_db: -2.05 is not a multiple of 0.1"),
        X("'preamp_db':0", "'preamp_db':'0'", "value.preamp_db: must be a number"),
        X("'preamp_db':0,", "", "value: missing member \"preamp_db\""),
        X("'preamp_db'", "'bands_db':[0,0,0,0,0],'preamp_db'", "value: unknown member \"bands_db\""),
        { KEY_EQ_CUSTOM, FAMILY_PRO, "{'preamp_db':0,'bands':[]}", NULL, NULL, "value.bands: has 0 bands, must have 1..10" },
        { KEY_EQ_CUSTOM, FAMILY_PRO, "{'preamp_db':0,'bands':[{},{},{},{},{},{},{},{},{},{},{}]}", NULL, NULL,
          "value.bands: has 11 bands, must have 1..10" },
        { KEY_EQ_CUSTOM, FAMILY_PRO, "{'preamp_db':0,'bands':{}}", NULL, NULL, "value.bands: must be an array" },
        { KEY_EQ_CUSTOM, FAMILY_PRO, "{'preamp_db':0}", NULL, NULL, "value: missing member \"bands\"" },
        { KEY_EQ_CUSTOM, FAMILY_PRO, STD_V, NULL, NULL, "value: unknown member \"bands_db\"" },
        X("'q':0.71", "'q':10.01", "value.bands[2].q: 10.01 is outside 0.1..10"),
        X("'q':0.71", "'q':0.09", "value.bands[2].q: 0.09 is outside 0.1..10"),
        X("'q':1}", "'q':0.705}", "value.bands[0].q: 0.705 is not a multiple of 0.01"),
        X("'freq_hz':1000", "'freq_hz':19", "value.bands[0].freq_hz: 19 is outside 20..20000"),
        X("'freq_hz':1000", "'freq_hz':20001", "value.bands[0].freq_hz: 20001 is outside 20..20000"),
        X("'freq_hz':1000", "'freq_hz':100.5", "value.bands[0].freq_hz: 100.5 is not an integer"),
        X("'gain_db':0", "'gain_db':12.1", "value.bands[0].gain_db: 12.1 is outside -12..12"),
        X("'gain_db':0", "'gain_db':-12.1", "value.bands[0].gain_db: -12.1 is outside -12..12"),
        X("'gain_db':0", "'gain_db':3.55", "value.bands[0].gain_db: 3.55 is not a multiple of 0.1"),
        X("'gain_db':0", "'gain_db':3.50000000001", "value.bands[0].gain_db: 3.50000000001 is not a multiple of 0.1"),
        X("'type':'peak'", "'type':'notch'", "value.bands[0].type: \"notch\" is not one of peak|low_shelf|high_shelf"),
        X("'type':'peak'", "'type':0", "value.bands[0].type: must be a string"),
        X("'type':'peak',", "", "value.bands[0]: missing member \"type\""),
        X(",'q':0.71", "", "value.bands[2]: missing member \"q\""),
        X("'type':'high_shelf'", "'width':1,'type':'high_shelf'", "value.bands[2]: unknown member \"width\""),
        X("{'type':'peak','freq_hz':2000,'gain_db':0,'q':1}", "7", "value.bands[1]: must be an object"),

        /* eq.active */
        AS("'custom'", "'flat'", "value.eq: must be absent unless the preset is custom"),
        AP("'custom'", "'treble'", "value.eq: must be absent unless the preset is custom"),
        { KEY_EQ_ACTIVE, FAMILY_PRO, "{'preset':'custom'}", NULL, NULL, "value: missing member \"eq\" (the preset is custom)" },
        { KEY_EQ_ACTIVE, FAMILY_STANDARD, "{'preset':'custom'}", NULL, NULL, "value: missing member \"eq\" (the preset is custom)" },
        { KEY_EQ_ACTIVE, FAMILY_STANDARD, "{'eq':" STD_V "}", NULL, NULL, "value: missing member \"preset\"" },
        AS("'custom'", "'loud'", "value.preset: \"loud\" is not one of flat|bass_boost|voice|treble|custom"),
        AS("'custom'", "255", "value.preset: must be a string"),
        AS("'preset'", "'x':1,'preset'", "value: unknown member \"x\""),
        AS("[0,0,0,0,0]", "[0,0,0,0,13]", "value.eq.bands_db[4]: 13 is outside -12..12"),
        AS("'eq':" STD_V, "'eq':" PRO_V, "value.eq: unknown member \"preamp_db\""),
        AS("'eq':" STD_V, "'eq':null", "value.eq: must be an object"),
        AP("'q':0.71", "'q':1001", "value.eq.bands[2].q: 1001 is outside 0.1..10"),
        AP("'eq':" PRO_V, "'eq':" STD_V, "value.eq: unknown member \"bands_db\""),
        AP("'eq':", "'eq':{'preamp_db':0,'bands':[{'type':'peak','freq_hz':1,'gain_db':0,'q':1}]},'x':", NULL),
        { KEY_EQ_ACTIVE, FAMILY_PRO, "{'preset':'flat','eq':null}", NULL, NULL, "value.eq: must be absent unless the preset is custom" },
        { KEY_EQ_ACTIVE, FAMILY_ANY, "{'preset':'flat'}", NULL, NULL, "value: key 3 and family 0 do not make an item" },
        { KEY_PROFILE, FAMILY_PRO, PROFILE_V, NULL, NULL, "value: key 1 and family 2 do not make an item" },
        { 4, FAMILY_PRO, "{}", NULL, NULL, "value: key 4 and family 2 do not make an item" },
};

/* 0, or 1 after printing what went wrong: a table reports all its failures. */
static int check_bad(const struct bad *b, size_t i) {
        struct value_err e = { { 0 } };
        const char *text = mutate(b->base, b->find, b->repl);
        struct record r, r0;
        int rc;

        memset(&r, 0xa5, sizeof(r));
        r0 = r;
        if (b->key == 0)
                rc = recjson_record_parse(text, strlen(text), &r, &e);
        else
                rc = recjson_value_parse(text, strlen(text), b->key, b->family, &r.value, &e);
        if (rc != -EINVAL || memcmp(&r, &r0, sizeof(r)) != 0 || !e.msg[0] ||
            (b->msg && strcmp(b->msg, e.msg) != 0)) {
                print_error("case %zu: %s\n  returned %d, got \"%s\"\n  want \"%s\"%s\n", i, text, rc, e.msg,
                            b->msg ? b->msg : "(any)", memcmp(&r, &r0, sizeof(r)) ? " (ret written)" : "");
                return 1;
        }
        return 0;
}

static void test_bad(void **state) {
        int failed = 0;

        (void) state;
        for (size_t i = 0; i < ELEMENTSOF(bad_cases); i++)
                failed += check_bad(&bad_cases[i], i);
        assert_int_equal(failed, 0);
}

/* Text that is not a C string: NUL bytes, no terminator, NULL. */
static void test_raw_text(void **state) {
        static const char with_nul[] = "{\"bands_db\":[0,0,0,0,0]}\0";
        struct value_err e = { { 0 } };
        struct value v;
        cJSON *j = NULL;

        (void) state;
        assert_int_equal(recjson_value_parse(with_nul, sizeof(with_nul) - 1, KEY_EQ_CUSTOM, FAMILY_STANDARD, &v, &e), -EINVAL);
        assert_string_equal(e.msg, "json: control character at byte 24");
        memset(&e, 0, sizeof(e));
        assert_int_equal(recjson_value_parse("{\"bands_db\":[0,\0,0,0,0]}", 25, KEY_EQ_CUSTOM, FAMILY_STANDARD, &v, &e), -EINVAL);
        assert_string_equal(e.msg, "json: control character at byte 15");
        memset(&e, 0, sizeof(e));
        assert_int_equal(recjson_value_parse("{\"bands_db\":[0,0,0,0,0]}", 23, KEY_EQ_CUSTOM, FAMILY_STANDARD, &v, &e), -EINVAL);
        assert_string_equal(e.msg, "json: syntax error at byte 22");
        memset(&e, 0, sizeof(e));
        assert_int_equal(recjson_value_parse("{\"bands_db\":[0,0,0,0,0]} 12", 26, KEY_EQ_CUSTOM, FAMILY_STANDARD, &v, &e), -EINVAL);
        assert_string_equal(e.msg, "json: unexpected data at byte 25");
        assert_int_equal(json_strict_parse("1", 1, &j, NULL), 0);
        assert_true(cJSON_IsNumber(j));
        cJSON_Delete(j);
        assert_int_equal(json_strict_parse(NULL, 0, &j, NULL), -EINVAL);
        assert_int_equal(json_strict_parse(NULL, 5, &j, NULL), -EINVAL);
        assert_int_equal(json_strict_parse("\"a\\", 3, &j, NULL), -EINVAL);        /* ends in a backslash */
        assert_int_equal(json_strict_parse("\"\\u12", 5, &j, NULL), -EINVAL);
        assert_int_equal(json_strict_parse("\"a", 2, &j, NULL), -EINVAL);
        assert_int_equal(json_strict_parse("-", 1, &j, NULL), -EINVAL);
        assert_int_equal(json_strict_parse("12", 1, &j, NULL), 0);                /* len wins */
        assert_true(j->valuedouble == 1);
        cJSON_Delete(j);
}

/* The members left alone by the tables: check_members, built trees, NULL e. */
static void test_api(void **state) {
        static const char *const names[] = { "a", "b", NULL };
        struct value_err e = { { 0 } };
        struct record r;
        struct value v;
        struct stamp s;
        cJSON *j;

        (void) state;
        assert_int_equal(json_strict_parse(q("{'a':1,'c':2}"), 13, &j, &e), 0);
        assert_int_equal(json_strict_check_members(j, names, &e), -EINVAL);
        assert_string_equal(e.msg, "unknown member \"c\"");
        memset(&e, 0, sizeof(e));
        assert_int_equal(json_strict_check_members(j->child, names, &e), -EINVAL);
        assert_string_equal(e.msg, "must be an object");
        cJSON_DeleteItemFromObjectCaseSensitive(j, "c");
        assert_int_equal(json_strict_check_members(j, names, NULL), 0);
        cJSON_Delete(j);

        /* a tree made by hand may hold what no parsed text can */
        j = cJSON_Parse(q(PROFILE_V));
        assert_non_null(j);
        cJSON_ReplaceItemInObjectCaseSensitive(j, "name", cJSON_CreateString("\xff"));
        memset(&e, 0, sizeof(e));
        assert_int_equal(recjson_value_from(j, KEY_PROFILE, FAMILY_ANY, &v, &e), -EINVAL);
        assert_string_equal(e.msg, "value.name: not valid UTF-8 or contains NUL");
        cJSON_Delete(j);

        j = recjson_stamp_to((struct stamp) { stamp_pack(5, 6), 7 });
        assert_int_equal(recjson_stamp_from(j, &s, NULL), 0);
        assert_true(s.hlc == stamp_pack(5, 6) && s.origin == 7);
        cJSON_Delete(j);
        j = cJSON_CreateObject();
        memset(&e, 0, sizeof(e));
        assert_int_equal(recjson_stamp_from(j, &s, &e), -EINVAL);
        assert_string_equal(e.msg, "stamp: missing member \"ms\"");
        cJSON_Delete(j);

        /* printers refuse what value_check refuses */
        value_init(&v, KEY_EQ_CUSTOM, FAMILY_PRO);
        assert_null(recjson_value_to(&v));                      /* no bands */
        assert_null(recjson_value_print(&v));
        profile_example(&r);
        r.value.profile.ambient_level = 11;
        assert_null(recjson_record_to(&r));
        assert_null(recjson_record_print(&r));
        r.value.key = 0;
        assert_null(recjson_record_print(&r));

        /* DIRTY and the revision have no JSON form */
        profile_example(&r);
        r.flags = RECORD_DIRTY | RECORD_DERIVED;
        r.revision = 77;
        {
                char *t = recjson_record_print(&r);
                struct record back;

                assert_non_null(strstr(t, "\"derived\":true"));
                assert_int_equal(recjson_record_parse(t, strlen(t), &back, NULL), 0);
                assert_int_equal(back.flags, RECORD_DERIVED);
                assert_int_equal(back.revision, 0);
                free(t);
        }
}

/* The one writer of push bodies: {"schema", "records"} compactly, each
 * record as recjson_record_print writes it, in order. */
static void test_push_body(void **state) {
        struct record r[2] = { { .stamp = { stamp_pack(1700000000000, 3), 0x0123456789abcdefULL } },
                               { .stamp = { stamp_pack(1700000000001, 0), 0xfeULL }, .flags = RECORD_DERIVED } };
        char *body, *a, *b, want[2048];

        (void) state;
        value_init(&r[0].value, KEY_PROFILE, FAMILY_ANY);
        r[0].value.profile.name_len = 2;
        memcpy(r[0].value.profile.name, "Jo", 2);
        value_init(&r[1].value, KEY_EQ_CUSTOM, FAMILY_STANDARD);
        r[1].value.custom.std.gain[2] = -6;
        a = recjson_record_print(&r[0]);
        b = recjson_record_print(&r[1]);
        assert_non_null(a);
        assert_non_null(b);
        (void) snprintf(want, sizeof(want), "{\"schema\":1,\"records\":[%s,%s]}", a, b);
        body = recjson_push_body_print(1, r, 2);
        assert_non_null(body);
        assert_string_equal(body, want);
        free(body);
        body = recjson_push_body_print(1, r, 0);
        assert_string_equal(body, "{\"schema\":1,\"records\":[]}");
        free(body);
        free(a);
        free(b);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_profile),
                cmocka_unit_test(test_standard),
                cmocka_unit_test(test_pro),
                cmocka_unit_test(test_exact_numbers),
                cmocka_unit_test(test_stamps),
                cmocka_unit_test(test_lenient_forms),
                cmocka_unit_test(test_bad),
                cmocka_unit_test(test_raw_text),
                cmocka_unit_test(test_api),
                cmocka_unit_test(test_push_body),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
