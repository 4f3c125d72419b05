/* SPDX-License-Identifier: MIT */
/* The uplink against the real syncd over TLS: every endpoint, paging, push
 * outcomes, replay after a lost answer, TLS failures that stay failures,
 * every fault the server can inject, the error table's stop cases, 413
 * splits, keep-alive, and cancel/free from everywhere. Each test runs its
 * own sd-event loop and waits for events under a deadline. */
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <systemd/sd-event.h>

#include "uplink/uplink.h"
#include "syncd-harness.h"

#define DEADLINE_MS 15000
#define ORIGIN UINT64_C(0x00a1b2c3d4e5f607)

struct result {
        bool done;
        int r;
        char error[512];
        uint64_t done_usec;
        char cursor[128];
        unsigned schema;
        uint64_t server_time_ms;
        struct record *records;
        size_t n;
        bool more;
        struct uplink_push_result *results;
        bool replayed;
        bool changed;
        struct uplink_device devices[8];
        char texts[8][4][80];
        uint64_t cancel_id;             /* cancel this call from inside the callback */
        int cancel_r;                   /* ... and what uplink_cancel said */
        bool free_uplink;               /* free the uplink from inside the callback */
        struct fix *fix;
};

struct fix {
        sd_event *event;
        struct syncd server;
        struct uplink *u;
        struct uplink_config cfg;
        char ca[256];
        unsigned n_online, n_offline;
        bool online;
        char last_error[512];
};

/* ---- Plumbing ---- */

static uint64_t now_usec(void) {
        struct timespec ts;

        (void) clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000u + (uint64_t) ts.tv_nsec / 1000u;
}

static void on_state(struct uplink *u, bool online, const char *last_error, void *userdata) {
        struct fix *f = userdata;

        (void) u;
        f->online = online;
        if (online)
                f->n_online++;
        else
                f->n_offline++;
        (void) snprintf(f->last_error, sizeof(f->last_error), "%s", last_error ? last_error : "");
        if (getenv("UPLINK_TEST_VERBOSE"))
                print_message("state: %s %s\n", online ? "online" : "offline", f->last_error);
}

static const struct uplink_ops ops = { .state = on_state };

static void run_until(struct fix *f, const bool *flag, unsigned ms) {
        uint64_t deadline = now_usec() + ms * 1000ull;

        while (!*flag) {
                uint64_t now = now_usec();

                if (now >= deadline)
                        fail_msg("no event within %u ms", ms);
                assert_true(sd_event_run(f->event, deadline - now) >= 0);
        }
}

static void run_until_either(struct fix *f, const bool *a, const bool *b, unsigned ms) {
        uint64_t deadline = now_usec() + ms * 1000ull;

        while (!*a && !*b) {
                uint64_t now = now_usec();

                if (now >= deadline)
                        fail_msg("no event within %u ms", ms);
                assert_true(sd_event_run(f->event, deadline - now) >= 0);
        }
}

static void test_config(struct fix *f) {
        (void) snprintf(f->ca, sizeof(f->ca), "%s", syncd_cert_path("ca.pem"));
        f->cfg = (struct uplink_config) {
                .url = f->server.url,
                .token = SYNCD_TOKEN_A,
                .ca_file = f->ca,
                .backoff_min_usec = 10000,
                .backoff_max_usec = 200000,
                .timeout_usec = 2000000,
        };
}

static void fix_uplink(struct fix *f) {
        char *error = NULL;
        int r;

        r = uplink_new(f->event, &f->cfg, &ops, f, &f->u, &error);
        if (r < 0)
                fail_msg("uplink_new: %s", error ? error : strerror(-r));
}

static struct fix *fix_start(const char *cert) {
        struct fix *f = calloc(1, sizeof(*f));

        assert_non_null(f);
        assert_int_equal(syncd_start(&f->server, cert), 0);
        assert_true(sd_event_new(&f->event) >= 0);
        test_config(f);
        return f;
}

static int setup(void **state) {
        struct fix *f = fix_start("server");

        fix_uplink(f);
        *state = f;
        return 0;
}

static int setup_bare(void **state) {
        *state = fix_start("server");
        return 0;
}

static int teardown(void **state) {
        struct fix *f = *state;

        f->u = uplink_free(f->u);
        assert_int_equal(syncd_stop(&f->server), 0);
        sd_event_unref(f->event);
        free(f);
        return 0;
}

static void result_clear(struct result *res) {
        free(res->records);
        free(res->results);
        *res = (struct result) {};
}

static void result_end(struct result *res, int r, const char *error) {
        assert_false(res->done);        /* one callback per call */
        res->done = true;
        res->r = r;
        res->done_usec = now_usec();
        (void) snprintf(res->error, sizeof(res->error), "%s", error ? error : "");
        if (r >= 0)
                assert_null(error);
        else
                assert_non_null(error);
}

static void on_status(struct uplink *u, int r, const char *error, const struct uplink_status *s, void *userdata) {
        struct result *res = userdata;

        result_end(res, r, error);
        if (s) {
                (void) snprintf(res->cursor, sizeof(res->cursor), "%s", s->cursor);
                res->schema = s->schema;
                res->server_time_ms = s->server_time_ms;
        }
        if (res->cancel_id)
                res->cancel_r = uplink_cancel(u, res->cancel_id);
        if (res->free_uplink)
                res->fix->u = uplink_free(u);
}

static void on_pull(struct uplink *u, int r, const char *error, const struct uplink_pull_reply *p, void *userdata) {
        struct result *res = userdata;

        (void) u;
        result_end(res, r, error);
        if (!p)
                return;
        res->records = calloc(p->n + 1, sizeof(*res->records));
        if (p->n > 0)
                memcpy(res->records, p->records, p->n * sizeof(*p->records));
        res->n = p->n;
        res->more = p->more;
        (void) snprintf(res->cursor, sizeof(res->cursor), "%s", p->cursor);
}

static void on_push(struct uplink *u, int r, const char *error, const struct uplink_push_reply *p, void *userdata) {
        struct result *res = userdata;

        (void) u;
        result_end(res, r, error);
        if (!p)
                return;
        res->results = calloc(p->n, sizeof(*res->results));
        memcpy(res->results, p->results, p->n * sizeof(*p->results));
        res->n = p->n;
        res->replayed = p->replayed;
        (void) snprintf(res->cursor, sizeof(res->cursor), "%s", p->cursor);
}

static void on_wait(struct uplink *u, int r, const char *error, const struct uplink_wait_reply *w, void *userdata) {
        struct result *res = userdata;

        (void) u;
        result_end(res, r, error);
        if (!w)
                return;
        res->changed = w->changed;
        (void) snprintf(res->cursor, sizeof(res->cursor), "%s", w->cursor);
}

static void on_done(struct uplink *u, int r, const char *error, void *userdata) {
        (void) u;
        result_end(userdata, r, error);
}

static void copy_text(char *buf, const char **p) {
        if (*p) {
                (void) snprintf(buf, 80, "%s", *p);
                *p = buf;
        }
}

static void on_devices(struct uplink *u, int r, const char *error, const struct uplink_device *d, size_t n,
                       void *userdata) {
        struct result *res = userdata;

        (void) u;
        result_end(res, r, error);
        res->n = n;
        for (size_t i = 0; i < n && i < 8; i++) {
                res->devices[i] = d[i];
                copy_text(res->texts[i][0], &res->devices[i].model);
                copy_text(res->texts[i][1], &res->devices[i].firmware);
                copy_text(res->texts[i][2], &res->devices[i].serial);
                copy_text(res->texts[i][3], &res->devices[i].name);
        }
}

/* ---- Records ---- */

static struct record rec_stamped(enum key k, enum family fam, uint64_t ms, uint16_t c) {
        struct record r = { .stamp = { stamp_pack(ms, c), ORIGIN } };

        value_init(&r.value, k, fam);
        if (k == KEY_EQ_CUSTOM && fam == FAMILY_PRO)
                r.value.custom.pro = (struct eq_pro) { .preamp = -20, .count = 1,
                                                       .band = { { BAND_PEAK, 100, 35, 71 } } };
        if (k == KEY_PROFILE) {
                strcpy(r.value.profile.name, "Alice");
                r.value.profile.name_len = 5;
                r.value.profile.ambient_level = 3;
        }
        return r;
}

/* The five items, stamped now (in this order on the server after a push). */
static void five_items(struct record out[static 5], uint64_t ms) {
        out[0] = rec_stamped(KEY_PROFILE, FAMILY_ANY, ms, 1);
        out[1] = rec_stamped(KEY_EQ_CUSTOM, FAMILY_STANDARD, ms, 2);
        out[2] = rec_stamped(KEY_EQ_CUSTOM, FAMILY_PRO, ms, 3);
        out[3] = rec_stamped(KEY_EQ_ACTIVE, FAMILY_STANDARD, ms, 4);
        out[4] = rec_stamped(KEY_EQ_ACTIVE, FAMILY_PRO, ms, 5);
}

static void push_sync(struct fix *f, const char *key, const struct record *recs, size_t n, unsigned flags,
                      struct result *res) {
        result_clear(res);
        assert_int_equal(uplink_push(f->u, key, ORIGIN, recs, n, flags, on_push, res, NULL), 0);
        run_until(f, &res->done, DEADLINE_MS);
}

static void pull_sync(struct fix *f, const char *cursor, unsigned limit, unsigned flags, struct result *res) {
        result_clear(res);
        assert_int_equal(uplink_pull(f->u, cursor, limit, flags, on_pull, res, NULL), 0);
        run_until(f, &res->done, DEADLINE_MS);
}

static void status_sync(struct fix *f, unsigned flags, struct result *res) {
        result_clear(res);
        assert_int_equal(uplink_status(f->u, flags, on_status, res, NULL), 0);
        run_until(f, &res->done, DEADLINE_MS);
}

static void assert_ok(const struct result *res) {
        if (res->r < 0)
                fail_msg("call failed: %d %s", res->r, res->error);
}

static void assert_contains(const char *s, const char *part) {
        if (!strstr(s, part))
                fail_msg("\"%s\" does not contain \"%s\"", s, part);
}

static void faults(struct fix *f, const char *rules) {
        assert_int_equal(syncd_faults(&f->server, rules), 0);
}

static struct uplink_stats stats(struct fix *f) {
        struct uplink_stats s;

        uplink_get_stats(f->u, &s);
        return s;
}

/* ---- Creation ---- */

static void test_refuses_plain_http(void **state) {
        struct fix *f = *state;
        struct uplink *u = NULL;
        char *error = NULL;

        f->cfg.url = "http://127.0.0.1:1";
        assert_int_equal(uplink_new(f->event, &f->cfg, &ops, f, &u, &error), -EINVAL);
        assert_null(u);
        assert_non_null(error);
        assert_contains(error, "only https://");
        free(error);
        error = NULL;
        f->cfg.url = "ftp://127.0.0.1/";
        assert_int_equal(uplink_new(f->event, &f->cfg, &ops, f, &u, &error), -EINVAL);
        free(error);
        error = NULL;
        f->cfg.url = "https://user:secret@127.0.0.1/";
        assert_int_equal(uplink_new(f->event, &f->cfg, &ops, f, &u, &error), -EINVAL);
        free(error);
        error = NULL;
        f->cfg.url = f->server.url;
        f->cfg.token = "bad token\r\nX-Injected: 1";
        assert_int_equal(uplink_new(f->event, &f->cfg, &ops, f, &u, &error), -EINVAL);
        assert_null(strstr(error, "Injected"));         /* the token is never echoed */
        free(error);
        error = NULL;
        f->cfg.token = SYNCD_TOKEN_A;
        f->cfg.ca_file = "/nonexistent/ca.pem";
        assert_int_equal(uplink_new(f->event, &f->cfg, &ops, f, &u, &error), -ENOENT);
        assert_contains(error, "CAFile=");
        free(error);
}

/* ---- Endpoints ---- */

static void test_status(void **state) {
        struct fix *f = *state;
        struct result res = {};

        status_sync(f, 0, &res);
        assert_ok(&res);
        assert_int_equal(res.schema, 1);
        assert_true(res.cursor[0]);
        assert_true(res.server_time_ms + 60000 > harness_wall_ms() && res.server_time_ms < harness_wall_ms() + 60000);
        assert_true(f->online);
        assert_int_equal(f->n_online, 1);
        assert_true(uplink_is_online(f->u));
        result_clear(&res);
}

static void test_pull_paging(void **state) {
        struct fix *f = *state;
        struct record recs[5], all[5];
        struct result res = {};
        char cursor[128];
        size_t got = 0;

        five_items(recs, harness_wall_ms());
        push_sync(f, "0b5e1c3a-1111-4a4a-8b8b-000000000001", recs, 5, 0, &res);
        assert_ok(&res);
        pull_sync(f, NULL, 2, 0, &res);
        for (unsigned page = 0;; page++) {
                assert_ok(&res);
                assert_true(res.n <= 2);
                memcpy(all + got, res.records, res.n * sizeof(*res.records));
                got += res.n;
                assert_int_equal(res.more, got < 5);
                if (!res.more)
                        break;
                strcpy(cursor, res.cursor);
                pull_sync(f, cursor, 2, 0, &res);
        }
        assert_int_equal(got, 5);
        for (size_t i = 0; i < 5; i++) {
                assert_true(value_equal(&all[i].value, &recs[i].value));
                assert_true(stamp_eq(all[i].stamp, recs[i].stamp));
        }
        /* from the last cursor: nothing new */
        strcpy(cursor, res.cursor);
        pull_sync(f, cursor, 10, 0, &res);
        assert_ok(&res);
        assert_int_equal(res.n, 0);
        assert_false(res.more);
        result_clear(&res);
}

static void test_push_outcomes(void **state) {
        struct fix *f = *state;
        uint64_t now = harness_wall_ms();
        struct record first = rec_stamped(KEY_EQ_ACTIVE, FAMILY_PRO, now, 7);
        struct record batch[3] = {
                rec_stamped(KEY_EQ_ACTIVE, FAMILY_PRO, now - 1000, 0),        /* older: stale */
                rec_stamped(KEY_PROFILE, FAMILY_ANY, now + 600000, 0),        /* 10 min ahead: rejected */
                rec_stamped(KEY_EQ_CUSTOM, FAMILY_STANDARD, now, 1),          /* applied */
        };
        struct result res = {};

        first.value.active.preset = PRESET_BASS_BOOST;
        push_sync(f, "0b5e1c3a-2222-4a4a-8b8b-000000000001", &first, 1, 0, &res);
        assert_ok(&res);
        assert_int_equal(res.n, 1);
        assert_int_equal(res.results[0].status, UPLINK_PUSH_APPLIED);
        assert_false(res.replayed);
        push_sync(f, "0b5e1c3a-2222-4a4a-8b8b-000000000002", batch, 3, 0, &res);
        assert_ok(&res);
        assert_int_equal(res.n, 3);
        assert_int_equal(res.results[0].status, UPLINK_PUSH_STALE);
        assert_true(value_equal(&res.results[0].current.value, &first.value));
        assert_true(stamp_eq(res.results[0].current.stamp, first.stamp));
        assert_int_equal(res.results[1].status, UPLINK_PUSH_REJECTED);
        assert_int_equal(res.results[1].reason, UPLINK_REJECT_FUTURE_STAMP);
        assert_int_equal(res.results[2].status, UPLINK_PUSH_APPLIED);
        assert_int_equal(res.results[2].key, KEY_EQ_CUSTOM);
        assert_int_equal(res.results[2].family, FAMILY_STANDARD);
        assert_true(res.cursor[0]);
        result_clear(&res);
}

static void test_push_replay_same_key(void **state) {
        struct fix *f = *state;
        struct record r = rec_stamped(KEY_PROFILE, FAMILY_ANY, harness_wall_ms(), 0);
        const char *key = "0b5e1c3a-3333-4a4a-8b8b-000000000001";
        struct result res = {};
        char cursor[128];

        push_sync(f, key, &r, 1, 0, &res);
        assert_ok(&res);
        assert_false(res.replayed);
        strcpy(cursor, res.cursor);
        push_sync(f, key, &r, 1, 0, &res);
        assert_ok(&res);
        assert_true(res.replayed);
        assert_int_equal(res.results[0].status, UPLINK_PUSH_APPLIED);
        assert_string_equal(res.cursor, cursor);
        /* the same key with another body is a client bug: reported, not retried */
        r.stamp.hlc++;
        push_sync(f, key, &r, 1, 0, &res);
        assert_int_equal(res.r, -EEXIST);
        assert_contains(res.error, "422");
        assert_contains(res.error, "POST /v1/sync/push");
        assert_int_equal(stats(f).retries, 0);
        result_clear(&res);
}

static void test_wait(void **state) {
        struct fix *f = *state;
        struct record r = rec_stamped(KEY_EQ_ACTIVE, FAMILY_STANDARD, harness_wall_ms(), 0);
        struct result st = {}, w = {}, push = {};
        uint64_t t0;

        status_sync(f, 0, &st);
        assert_ok(&st);
        /* nothing changes: 204 after the timeout, same cursor */
        t0 = now_usec();
        assert_int_equal(uplink_wait(f->u, st.cursor, 1, 0, on_wait, &w, NULL), 0);
        run_until(f, &w.done, DEADLINE_MS);
        assert_ok(&w);
        assert_false(w.changed);
        assert_string_equal(w.cursor, st.cursor);
        assert_true(w.done_usec - t0 >= 900000);
        /* a push while waiting wakes it with a new cursor */
        result_clear(&w);
        assert_int_equal(uplink_wait(f->u, st.cursor, 30, 0, on_wait, &w, NULL), 0);
        assert_int_equal(uplink_push(f->u, "0b5e1c3a-4444-4a4a-8b8b-000000000001", ORIGIN, &r, 1, 0, on_push, &push,
                                     NULL), 0);
        run_until(f, &w.done, DEADLINE_MS);
        run_until(f, &push.done, DEADLINE_MS);
        assert_ok(&w);
        assert_true(w.changed);
        assert_string_not_equal(w.cursor, st.cursor);
        assert_true(w.done_usec - t0 < 10 * 1000000ull);
        assert_int_equal(uplink_wait(f->u, st.cursor, 61, 0, on_wait, &w, NULL), -EINVAL);
        result_clear(&st);
        result_clear(&w);
        result_clear(&push);
}

static void test_devices(void **state) {
        struct fix *f = *state;
        const struct uplink_device buds = {
                .id = UINT64_C(0x1122334455667788), .kind = UPLINK_DEVICE_BUDS, .has_family = true,
                .family = FAMILY_PRO, .model = "Buds Pro 2", .firmware = "1.4.2", .serial = "SN123",
                .name = "Alice's Buds", .battery = 80, .last_seen_ms = 1763700000000,
        };
        const struct uplink_device host = {
                .id = ORIGIN, .kind = UPLINK_DEVICE_HOST, .battery = -1, .last_seen_ms = 1763700000001,
        };
        struct result a = {}, b = {}, list = {};
        const struct uplink_device *got_buds = NULL, *got_host = NULL;

        assert_int_equal(uplink_put_device(f->u, &buds, 0, on_done, &a, NULL), 0);
        assert_int_equal(uplink_put_device(f->u, &host, 0, on_done, &b, NULL), 0);
        run_until(f, &a.done, DEADLINE_MS);
        run_until(f, &b.done, DEADLINE_MS);
        assert_ok(&a);
        assert_ok(&b);
        assert_int_equal(uplink_list_devices(f->u, 0, on_devices, &list, NULL), 0);
        run_until(f, &list.done, DEADLINE_MS);
        assert_ok(&list);
        assert_int_equal(list.n, 2);
        for (size_t i = 0; i < 2; i++)
                if (list.devices[i].id == buds.id)
                        got_buds = &list.devices[i];
                else if (list.devices[i].id == host.id)
                        got_host = &list.devices[i];
        assert_non_null(got_buds);
        assert_non_null(got_host);
        assert_int_equal(got_buds->kind, UPLINK_DEVICE_BUDS);
        assert_true(got_buds->has_family && got_buds->family == FAMILY_PRO);
        assert_string_equal(got_buds->model, "Buds Pro 2");
        assert_string_equal(got_buds->name, "Alice's Buds");
        assert_int_equal(got_buds->battery, 80);
        assert_int_equal(got_buds->last_seen_ms, buds.last_seen_ms);
        assert_int_equal(got_host->kind, UPLINK_DEVICE_HOST);
        assert_false(got_host->has_family);
        assert_null(got_host->model);
        assert_int_equal(got_host->battery, -1);
        /* refused before sending */
        struct uplink_device bad = host;
        bad.battery = 101;
        assert_int_equal(uplink_put_device(f->u, &bad, 0, on_done, &a, NULL), -EINVAL);
}

/* ---- Lost answers, faults, retries ---- */

static void test_replay_after_drop(void **state) {
        struct fix *f = *state;
        struct record r = rec_stamped(KEY_EQ_CUSTOM, FAMILY_PRO, harness_wall_ms(), 0);
        struct result res = {}, st = {};

        faults(f, "[{\"path\": \"/v1/sync/push\", \"action\": \"apply_then_drop\"}]");
        push_sync(f, "0b5e1c3a-5555-4a4a-8b8b-000000000001", &r, 1, 0, &res);
        assert_ok(&res);
        assert_true(res.replayed);              /* the second answer was the stored first one */
        assert_int_equal(res.results[0].status, UPLINK_PUSH_APPLIED);
        assert_true(stats(f).retries >= 1);
        /* applied once: the account's cursor is the push's, and one record is there */
        status_sync(f, 0, &st);
        assert_string_equal(st.cursor, res.cursor);
        pull_sync(f, NULL, 10, 0, &res);
        assert_int_equal(res.n, 1);
        assert_true(stamp_eq(res.records[0].stamp, r.stamp));
        result_clear(&res);
        result_clear(&st);
}

static void survive(struct fix *f, const char *rules, unsigned expect_attempts) {
        struct result res = {};
        struct uplink_stats before = stats(f), after;

        faults(f, rules);
        pull_sync(f, NULL, 10, 0, &res);
        assert_ok(&res);
        after = stats(f);
        assert_int_equal(after.requests - before.requests, expect_attempts);
        assert_int_equal(after.retries - before.retries, expect_attempts - 1);
        assert_true(f->online);
        assert_true(f->n_offline >= 1);
        result_clear(&res);
}

static void test_survives_5xx(void **state) {
        struct fix *f = *state;

        survive(f, "[{\"path\": \"/v1/sync/pull\", \"action\": \"status\", \"status\": 503, \"count\": 2},"
                   " {\"path\": \"/v1/sync/pull\", \"action\": \"status\", \"status\": 500}]", 4);
        assert_int_equal(f->n_offline, 1);      /* one notice for the outage, not one per attempt */
        assert_int_equal(f->n_online, 1);
}

static void test_survives_garbage(void **state) {
        struct fix *f = *state;

        survive(f, "[{\"path\": \"/v1/sync/pull\", \"action\": \"garbage\", \"count\": 2}]", 3);
}

static void test_survives_truncation(void **state) {
        struct fix *f = *state;

        survive(f, "[{\"path\": \"/v1/sync/pull\", \"action\": \"truncate\", \"count\": 2}]", 3);
}

static void test_survives_stall(void **state) {
        struct fix *f = *state;

        f->u = uplink_free(f->u);
        f->cfg.timeout_usec = 300000;
        fix_uplink(f);
        survive(f, "[{\"path\": \"/v1/sync/pull\", \"action\": \"stall\"}]", 2);
}

static void test_rate_limited_retry_after(void **state) {
        struct fix *f = *state;
        struct result res = {};
        uint64_t t0 = now_usec();

        faults(f, "[{\"path\": \"/v1/sync/status\", \"action\": \"status\", \"status\": 429, \"retry_after\": 1}]");
        status_sync(f, 0, &res);
        assert_ok(&res);
        /* the backoff alone would have retried after 10 ms */
        assert_true(res.done_usec - t0 >= 1000000);
        assert_int_equal(stats(f).requests, 2);
        result_clear(&res);
}

static void test_in_progress_same_key(void **state) {
        struct fix *f = *state;
        struct record r = rec_stamped(KEY_PROFILE, FAMILY_ANY, harness_wall_ms(), 0);
        struct result res = {};

        faults(f, "[{\"path\": \"/v1/sync/push\", \"action\": \"status\", \"status\": 409}]");
        push_sync(f, "0b5e1c3a-6666-4a4a-8b8b-000000000001", &r, 1, 0, &res);
        assert_ok(&res);
        assert_false(res.replayed);     /* the 409 stored nothing; the retry applied it */
        assert_int_equal(res.results[0].status, UPLINK_PUSH_APPLIED);
        assert_int_equal(stats(f).requests, 2);
        result_clear(&res);
}

static void test_no_retry_reports_first_failure(void **state) {
        struct fix *f = *state;
        struct result res = {};

        faults(f, "[{\"path\": \"/v1/sync/status\", \"action\": \"status\", \"status\": 503}]");
        status_sync(f, UPLINK_NO_RETRY, &res);
        assert_int_equal(res.r, -EIO);
        assert_contains(res.error, "GET /v1/sync/status");
        assert_contains(res.error, "503");
        assert_false(f->online);
        faults(f, "[{\"path\": \"/v1/sync/status\", \"action\": \"garbage\"}]");
        status_sync(f, UPLINK_NO_RETRY, &res);
        assert_int_equal(res.r, -EPROTO);
        assert_contains(res.error, "malformed answer");
        assert_int_equal(stats(f).requests, 2);
        assert_int_equal(stats(f).retries, 0);
        status_sync(f, UPLINK_NO_RETRY, &res);
        assert_ok(&res);
        assert_true(f->online);
        result_clear(&res);
}

/* ---- Stops ---- */

static void test_unauthorized_stops(void **state) {
        struct fix *f = *state;
        struct result res = {};

        assert_int_equal(uplink_set_token(f->u, "token-nobody"), 0);
        status_sync(f, 0, &res);
        assert_int_equal(res.r, -EACCES);
        assert_contains(res.error, "401");
        assert_null(strstr(res.error, "token-nobody"));
        assert_int_equal(stats(f).requests, 1);
        assert_false(f->online);
        assert_contains(f->last_error, "401");
        /* SIGHUP: a new token, and it works */
        assert_int_equal(uplink_set_token(f->u, SYNCD_TOKEN_A), 0);
        status_sync(f, 0, &res);
        assert_ok(&res);
        assert_true(f->online);
        assert_int_equal(uplink_set_token(f->u, ""), -EINVAL);
        result_clear(&res);
}

static void test_schema_mismatch_stops(void **state) {
        struct fix *f = *state;
        struct record r = rec_stamped(KEY_PROFILE, FAMILY_ANY, harness_wall_ms(), 0);
        struct result res = {};

        f->cfg.schema = 2;
        fix_uplink(f);
        push_sync(f, "0b5e1c3a-7777-4a4a-8b8b-000000000001", &r, 1, 0, &res);
        assert_int_equal(res.r, -EPROTONOSUPPORT);
        assert_contains(res.error, "requires schema 1");
        assert_int_equal(stats(f).requests, 1);
        assert_false(f->online);
        result_clear(&res);
}

static void test_bad_request_not_retried(void **state) {
        struct fix *f = *state;
        struct result res = {};

        pull_sync(f, "not-a-cursor", 10, 0, &res);
        assert_int_equal(res.r, -EBADMSG);
        assert_contains(res.error, "400 bad_request");
        assert_contains(res.error, "POST /v1/sync/pull");
        assert_int_equal(stats(f).requests, 1);
        result_clear(&res);
}

/* ---- 413 ---- */

static void test_split_on_413_fault(void **state) {
        struct fix *f = *state;
        struct record recs[5];
        struct result res = {};

        five_items(recs, harness_wall_ms());
        /* the whole batch and then its first half are "too large" */
        faults(f, "[{\"path\": \"/v1/sync/push\", \"action\": \"status\", \"status\": 413, \"count\": 2}]");
        push_sync(f, "0b5e1c3a-8888-4a4a-8b8b-000000000001", recs, 5, 0, &res);
        assert_ok(&res);
        assert_int_equal(res.n, 5);
        for (size_t i = 0; i < 5; i++) {
                assert_int_equal(res.results[i].status, UPLINK_PUSH_APPLIED);
                assert_int_equal(res.results[i].key, recs[i].value.key);
                assert_int_equal(res.results[i].family, recs[i].value.family);
        }
        /* [0,5) 413, [0,2) 413, [0,1), [1,2), [2,5) */
        assert_int_equal(stats(f).requests, 5);
        assert_int_equal(stats(f).retries, 0);
        /* one record cannot be split */
        faults(f, "[{\"path\": \"/v1/sync/push\", \"action\": \"status\", \"status\": 413}]");
        push_sync(f, "0b5e1c3a-8888-4a4a-8b8b-000000000002", recs, 1, 0, &res);
        assert_int_equal(res.r, -E2BIG);
        result_clear(&res);
}

static void test_split_over_server_limit(void **state) {
        struct fix *f = *state;
        const size_t n = 1500;
        struct record *recs = calloc(n, sizeof(*recs));
        const char *key = "0b5e1c3a-9999-4a4a-8b8b-000000000001";
        struct result res = {}, st = {};
        uint64_t now = harness_wall_ms();
        char cursor[128];

        for (size_t i = 0; i < n; i++)
                recs[i] = rec_stamped(KEY_EQ_ACTIVE, FAMILY_STANDARD, now - n + i, 0);
        push_sync(f, key, recs, n, 0, &res);
        assert_ok(&res);
        assert_int_equal(res.n, n);
        for (size_t i = 0; i < n; i++)
                assert_int_equal(res.results[i].status, UPLINK_PUSH_APPLIED);
        assert_int_equal(stats(f).requests, 3);
        strcpy(cursor, res.cursor);
        /* the same push again: the halves' derived keys replay, nothing changes */
        push_sync(f, key, recs, n, 0, &res);
        assert_ok(&res);
        assert_true(res.replayed);
        assert_string_equal(res.cursor, cursor);
        status_sync(f, 0, &st);
        assert_string_equal(st.cursor, cursor);
        free(recs);
        result_clear(&res);
        result_clear(&st);
}

/* ---- TLS ---- */

/* With retries it keeps failing (and says why); without, it fails once. */
static void tls_fails(struct fix *f, const char *why) {
        struct result res = {}, keep = {};
        uint64_t id = 0;

        fix_uplink(f);
        status_sync(f, UPLINK_NO_RETRY, &res);
        assert_int_equal(res.r, -EKEYREJECTED);
        assert_contains(res.error, "GET /v1/sync/status: TLS verification failed");
        assert_contains(res.error, why);
        assert_int_equal(uplink_status(f->u, 0, on_status, &keep, &id), 0);
        assert_true(id > 0);
        while (stats(f).requests < 5) {
                assert_true(sd_event_run(f->event, 2000000) >= 0);
                assert_false(keep.done);
        }
        assert_false(keep.done);
        assert_false(f->online);
        assert_contains(f->last_error, "TLS verification failed");
        assert_int_equal(uplink_cancel(f->u, id), 0);
        /* a later call's end: a callback of the cancelled one would have run by then */
        status_sync(f, UPLINK_NO_RETRY, &res);
        assert_false(keep.done);
        result_clear(&res);
}

static int setup_other_ca(void **state) {
        *state = fix_start("other-server");
        return 0;
}

static int setup_wrong_host(void **state) {
        *state = fix_start("wrong-host");
        return 0;
}

static void test_tls_unknown_ca(void **state) {
        tls_fails(*state, "certificate");
}

static void test_tls_wrong_host(void **state) {
        tls_fails(*state, "127.0.0.1");
}

static void test_tls_pin_mismatch(void **state) {
        struct fix *f = *state;
        char pin[128] = "";
        struct result res = {};
        FILE *p;

        f->cfg.pinned_public_key = "sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
        tls_fails(f, "pinned");
        f->u = uplink_free(f->u);
        /* the right pin works */
        p = fopen(syncd_cert_path("server.pin"), "re");
        assert_non_null(p);
        assert_non_null(fgets(pin, sizeof(pin), p));
        (void) fclose(p);
        pin[strcspn(pin, "\n")] = '\0';
        f->cfg.pinned_public_key = pin;
        fix_uplink(f);
        status_sync(f, UPLINK_NO_RETRY, &res);
        assert_ok(&res);
        result_clear(&res);
}

static void test_tls_system_store_refuses_test_ca(void **state) {
        struct fix *f = *state;

        f->cfg.ca_file = NULL;          /* the system's trust store does not know the test CA */
        tls_fails(f, "certificate");
}

/* ---- Connections ---- */

static void test_keep_alive(void **state) {
        struct fix *f = *state;
        struct record r = rec_stamped(KEY_PROFILE, FAMILY_ANY, harness_wall_ms(), 0);
        struct result res = {};
        char key[40];

        for (unsigned i = 0; i < 20; i++) {
                status_sync(f, 0, &res);
                assert_ok(&res);
                pull_sync(f, NULL, 10, 0, &res);
                assert_ok(&res);
                r.stamp.hlc++;
                (void) snprintf(key, sizeof(key), "0b5e1c3a-aaaa-4a4a-8b8b-%012u", i);
                push_sync(f, key, &r, 1, 0, &res);
                assert_ok(&res);
        }
        print_message("keep-alive: %" PRIu64 " requests, %" PRIu64 " new connections (TLS handshakes)\n",
                      stats(f).requests, stats(f).connects);
        assert_int_equal(stats(f).requests, 60);
        assert_int_equal(stats(f).connects, 1);
        result_clear(&res);
}

static void test_server_gone_then_back(void **state) {
        struct fix *f = *state;
        struct result res = {}, gone = {};

        status_sync(f, 0, &res);
        assert_true(f->online);
        assert_int_equal(syncd_stop(&f->server), 0);
        /* the transfer starts inside the call, and on the loopback it can
         * fail there too: its callback still comes from the loop */
        result_clear(&res);
        assert_int_equal(uplink_status(f->u, UPLINK_NO_RETRY, on_status, &res, NULL), 0);
        assert_false(res.done);
        run_until(f, &res.done, DEADLINE_MS);
        assert_true(res.r == -ECONNREFUSED || res.r == -ECONNRESET);
        assert_false(f->online);
        assert_contains(f->last_error, "GET /v1/sync/status");
        /* a retrying call goes on through the outage; freed, it never calls back */
        assert_int_equal(uplink_status(f->u, 0, on_status, &gone, NULL), 0);
        while (stats(f).requests < 5)
                assert_true(sd_event_run(f->event, 2000000) >= 0);
        assert_false(gone.done);
        f->u = uplink_free(f->u);
        assert_int_equal(syncd_start(&f->server, "server"), 0);
        test_config(f);
        fix_uplink(f);
        status_sync(f, 0, &res);
        assert_ok(&res);
        assert_true(f->online);
        assert_false(gone.done);
        result_clear(&res);
}

/* ---- Cancel and free ---- */

static void test_cancel(void **state) {
        struct fix *f = *state;
        struct result st = {}, w = {};
        uint64_t id = 0, id2 = 0;

        status_sync(f, 0, &st);
        assert_int_equal(uplink_wait(f->u, st.cursor, 30, 0, on_wait, &w, &id), 0);
        assert_true(id > 0);
        assert_false(w.done);                   /* never from inside the starting call */
        assert_int_equal(uplink_cancel(f->u, id), 0);
        assert_false(w.done);
        assert_int_equal(uplink_cancel(f->u, id), -ENOENT);
        assert_int_equal(uplink_cancel(f->u, 0), -ENOENT);
        /* the link still works, the next id is new, and by the end of a later
         * call a callback of the cancelled one would have run */
        result_clear(&st);
        assert_int_equal(uplink_status(f->u, 0, on_status, &st, &id2), 0);
        assert_true(id2 > id);
        run_until(f, &st.done, DEADLINE_MS);
        assert_ok(&st);
        assert_false(w.done);
        result_clear(&st);
        result_clear(&w);
}

/* A callback cancels another call: that one never calls back, also when both
 * answers were read in the same turn of the loop. */
static void test_cancel_from_callback(void **state) {
        struct fix *f = *state;
        struct result st = {}, w = {}, a = {}, b = {}, later = {};
        uint64_t wid = 0, aid = 0, bid = 0;

        status_sync(f, 0, &st);
        assert_int_equal(uplink_wait(f->u, st.cursor, 30, 0, on_wait, &w, &wid), 0);
        a.cancel_id = wid;
        assert_int_equal(uplink_status(f->u, 0, on_status, &a, NULL), 0);
        run_until(f, &a.done, DEADLINE_MS);
        assert_ok(&a);
        assert_int_equal(a.cancel_r, 0);
        assert_false(w.done);
        /* two calls, each cancelling the other: exactly one callback runs */
        result_clear(&a);
        assert_int_equal(uplink_status(f->u, 0, on_status, &a, &aid), 0);
        assert_int_equal(uplink_status(f->u, 0, on_status, &b, &bid), 0);
        a.cancel_id = bid;
        b.cancel_id = aid;
        run_until_either(f, &a.done, &b.done, DEADLINE_MS);
        assert_int_equal(a.done ? a.cancel_r : b.cancel_r, 0);
        status_sync(f, 0, &later);
        assert_ok(&later);
        assert_true(a.done != b.done);
        assert_false(w.done);
        result_clear(&st);
        result_clear(&a);
        result_clear(&b);
        result_clear(&later);
}

static void test_free_cancels_pending(void **state) {
        struct fix *f = *state;
        struct result a = {}, b = {}, later = {};

        assert_int_equal(uplink_status(f->u, 0, on_status, &a, NULL), 0);
        assert_int_equal(uplink_list_devices(f->u, 0, on_devices, &b, NULL), 0);
        f->u = uplink_free(f->u);
        assert_false(a.done);
        assert_false(b.done);
        /* a call on a new uplink ends after theirs would have */
        fix_uplink(f);
        status_sync(f, 0, &later);
        assert_ok(&later);
        assert_false(a.done);
        assert_false(b.done);
        result_clear(&later);
}

/* Freeing from inside a callback drops the calls still pending, with no
 * callback: a long poll surely, a pull unless it was answered first. */
static void test_free_from_callback(void **state) {
        struct fix *f = *state;
        struct result st = {}, a = { .free_uplink = true, .fix = f }, b = {}, w = {}, later = {};

        status_sync(f, 0, &st);
        assert_int_equal(uplink_wait(f->u, st.cursor, 30, 0, on_wait, &w, NULL), 0);
        assert_int_equal(uplink_status(f->u, 0, on_status, &a, NULL), 0);
        assert_int_equal(uplink_pull(f->u, NULL, 10, 0, on_pull, &b, NULL), 0);
        run_until(f, &a.done, DEADLINE_MS);
        assert_null(f->u);
        assert_false(w.done);
        if (b.done)
                assert_ok(&b);                  /* answered before the free, never cancelled */
        fix_uplink(f);
        status_sync(f, 0, &later);
        assert_ok(&later);
        assert_false(w.done);
        result_clear(&st);
        result_clear(&a);
        result_clear(&b);
        result_clear(&later);
}

static void test_arguments(void **state) {
        struct fix *f = *state;
        struct record r = rec_stamped(KEY_PROFILE, FAMILY_ANY, harness_wall_ms(), 0);
        struct result res = {};

        uint64_t id = 7;

        assert_int_equal(uplink_push(f->u, "not-a-uuid", ORIGIN, &r, 1, 0, on_push, &res, &id), -EINVAL);
        assert_int_equal(uplink_push(f->u, "0b5e1c3a-bbbb-4a4a-8b8b-000000000001", ORIGIN, &r, 0, 0, on_push, &res,
                                     &id), -EINVAL);
        r.value.profile.ambient_level = 11;
        assert_int_equal(uplink_push(f->u, "0b5e1c3a-bbbb-4a4a-8b8b-000000000001", ORIGIN, &r, 1, 0, on_push, &res,
                                     &id), -EINVAL);
        assert_int_equal(uplink_pull(f->u, NULL, 0, 0, on_pull, &res, &id), -EINVAL);
        assert_int_equal(uplink_pull(f->u, NULL, 1001, 0, on_pull, &res, &id), -EINVAL);
        assert_false(res.done);
        assert_int_equal(id, 7);                /* written only on success */
        assert_int_equal(stats(f).requests, 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_refuses_plain_http, setup_bare, teardown),
                cmocka_unit_test_setup_teardown(test_arguments, setup, teardown),
                cmocka_unit_test_setup_teardown(test_status, setup, teardown),
                cmocka_unit_test_setup_teardown(test_pull_paging, setup, teardown),
                cmocka_unit_test_setup_teardown(test_push_outcomes, setup, teardown),
                cmocka_unit_test_setup_teardown(test_push_replay_same_key, setup, teardown),
                cmocka_unit_test_setup_teardown(test_wait, setup, teardown),
                cmocka_unit_test_setup_teardown(test_devices, setup, teardown),
                cmocka_unit_test_setup_teardown(test_replay_after_drop, setup, teardown),
                cmocka_unit_test_setup_teardown(test_survives_5xx, setup, teardown),
                cmocka_unit_test_setup_teardown(test_survives_garbage, setup, teardown),
                cmocka_unit_test_setup_teardown(test_survives_truncation, setup, teardown),
                cmocka_unit_test_setup_teardown(test_survives_stall, setup, teardown),
                cmocka_unit_test_setup_teardown(test_rate_limited_retry_after, setup, teardown),
                cmocka_unit_test_setup_teardown(test_in_progress_same_key, setup, teardown),
                cmocka_unit_test_setup_teardown(test_no_retry_reports_first_failure, setup, teardown),
                cmocka_unit_test_setup_teardown(test_unauthorized_stops, setup, teardown),
                cmocka_unit_test_setup_teardown(test_schema_mismatch_stops, setup_bare, teardown),
                cmocka_unit_test_setup_teardown(test_bad_request_not_retried, setup, teardown),
                cmocka_unit_test_setup_teardown(test_split_on_413_fault, setup, teardown),
                cmocka_unit_test_setup_teardown(test_split_over_server_limit, setup, teardown),
                cmocka_unit_test_setup_teardown(test_tls_unknown_ca, setup_other_ca, teardown),
                cmocka_unit_test_setup_teardown(test_tls_wrong_host, setup_wrong_host, teardown),
                cmocka_unit_test_setup_teardown(test_tls_pin_mismatch, setup_bare, teardown),
                cmocka_unit_test_setup_teardown(test_tls_system_store_refuses_test_ca, setup_bare, teardown),
                cmocka_unit_test_setup_teardown(test_keep_alive, setup, teardown),
                cmocka_unit_test_setup_teardown(test_server_gone_then_back, setup, teardown),
                cmocka_unit_test_setup_teardown(test_cancel, setup, teardown),
                cmocka_unit_test_setup_teardown(test_cancel_from_callback, setup, teardown),
                cmocka_unit_test_setup_teardown(test_free_cancels_pending, setup, teardown),
                cmocka_unit_test_setup_teardown(test_free_from_callback, setup, teardown),
        };
        int failed;

        if (!syncd_certs()) {
                printf("cannot make test certificates (openssl?)\n");
                return 77;
        }
        failed = cmocka_run_group_tests_name("uplink", tests, NULL, NULL);
        syncd_certs_cleanup();
        return failed;
}
