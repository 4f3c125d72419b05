/* SPDX-License-Identifier: MIT */
/* make bench: bridged's own figures on the real parts (PushDebounceMs=0):
 * a change on the Buds to its copy on the server, a change on the server to
 * its copy on the Buds (median, 99th percentile); the honest floor of the
 * first, measured in the same run (one raw D-Bus ReadValue + one raw
 * WriteValue + one raw push that syncd applies and commits + one local
 * synchronous=FULL SQLite commit of the same rows), each part and the ratio;
 * bridged's own profile of the path; start to READY=1; the footprint as a
 * distribution judges it (PSS and private dirty after start and after 1,000
 * syncs, wake-ups when idle, which TLS library is mapped). Printed, never
 * asserted. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <sqlite3.h>

#include <cjson/cJSON.h>

#include "codec/recjson.h"
#include "codec/wire.h"
#include "tests/e2e/e2e.h"
#include "tests/lib/procinfo.h"
#include "tests/lib/testbus.h"

#define ADDR "AA:BB:CC:DD:EE:01"
#define ROUNDS 200
#define SYNCS 1000
#define PSS_TARGET_KIB 4096
#define PRIVATE_DIRTY_TARGET_KIB 2048

static struct e2e E;

static int cmp_u64(const void *a, const void *b) {
        uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
        return (x > y) - (x < y);
}

static uint64_t quantile(uint64_t *v, size_t n, unsigned q) {
        size_t i = (q * n + 99) / 100;

        qsort(v, n, sizeof(*v), cmp_u64);
        return v[i ? i - 1 : 0];
}

static struct value profile(unsigned i) {
        struct value v;

        value_init(&v, KEY_PROFILE, FAMILY_ANY);
        v.profile.name_len = (uint8_t) snprintf(v.profile.name, sizeof(v.profile.name), "bench %u", i);
        v.profile.ambient_level = (uint8_t) (i % 11);
        return v;
}

struct expect {
        struct value v;
        bool on_server;         /* else on the Buds */
};

static size_t collect(char *p, size_t s, size_t n, void *u) {
        char **buf = u;
        size_t old = *buf ? strlen(*buf) : 0;
        char *nb = realloc(*buf, old + s * n + 1);

        if (!nb)
                return 0;
        memcpy(nb + old, p, s * n);
        nb[old + s * n] = '\0';
        *buf = nb;
        return s * n;
}

/* A handle that pulls bridged's account from the start (its few records fit
 * one page); *ret_h: its headers, to free after the handle. */
static CURL *pull_handle(struct curl_slist **ret_h) {
        CURL *c = curl_easy_init();
        char url[128];

        *ret_h = curl_slist_append(curl_slist_append(NULL, "Authorization: Bearer " HARNESS_TOKEN_A),
                                   "Content-Type: application/json");
        (void) snprintf(url, sizeof(url), "%s/v1/sync/pull", E.server.base);
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_CAINFO, E.server.ca);
        curl_easy_setopt(c, CURLOPT_CAPATH, NULL);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, *ret_h);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, "{\"cursor\":null,\"limit\":1000}");
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
        return c;
}

/* The server's profile through one kept-alive connection, so that checking
 * costs a request, not a handshake. */
static bool server_has(const struct value *v) {
        static CURL *c;
        static struct curl_slist *h;
        char *body = NULL, *want = recjson_value_print(v);
        bool ok;

        if (!c)
                c = pull_handle(&h);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
        ok = curl_easy_perform(c) == CURLE_OK && body && want && strstr(body, want + 1);
        free(body);
        free(want);
        return ok;
}

static bool cond_arrived(struct e2e *e, void *userdata) {
        const struct expect *x = userdata;
        struct record r;

        if (x->on_server)
                return server_has(&x->v);
        return e2e_sim_record(e, ADDR, KEY_PROFILE, &r) == 0 && value_equal(&r.value, &x->v) &&
               !(r.flags & RECORD_DIRTY);
}

/* The object path of the Buds' characteristic uuid (BlueZ numbers them at random). */
static int find_chrc(const char *uuid, char *ret, size_t size) {
        sd_bus_message *reply = NULL;
        const char *path, *iface, *prop;
        int r = sd_bus_call_method(E.bus, "org.bluez", "/", "org.freedesktop.DBus.ObjectManager", "GetManagedObjects",
                                   NULL, &reply, NULL);

        if (r < 0)
                return r;
        r = -ENOENT;
        (void) sd_bus_message_enter_container(reply, 'a', "{oa{sa{sv}}}");
        while (sd_bus_message_enter_container(reply, 'e', "oa{sa{sv}}") > 0) {
                (void) sd_bus_message_read(reply, "o", &path);
                (void) sd_bus_message_enter_container(reply, 'a', "{sa{sv}}");
                while (sd_bus_message_enter_container(reply, 'e', "sa{sv}") > 0) {
                        (void) sd_bus_message_read(reply, "s", &iface);
                        (void) sd_bus_message_enter_container(reply, 'a', "{sv}");
                        while (sd_bus_message_enter_container(reply, 'e', "sv") > 0) {
                                const char *u = NULL;
                                (void) sd_bus_message_read(reply, "s", &prop);
                                if (strcmp(iface, "org.bluez.GattCharacteristic1") == 0 && strcmp(prop, "UUID") == 0 &&
                                    sd_bus_message_read(reply, "v", "s", &u) >= 0 && strcmp(u, uuid) == 0 &&
                                    strstr(path, "dev_AA_BB_CC_DD_EE_01")) {
                                        (void) snprintf(ret, size, "%s", path);
                                        r = 0;
                                } else if (!u) {
                                        (void) sd_bus_message_skip(reply, "v");
                                }
                                (void) sd_bus_message_exit_container(reply);
                        }
                        (void) sd_bus_message_exit_container(reply);
                        (void) sd_bus_message_exit_container(reply);
                }
                (void) sd_bus_message_exit_container(reply);
                (void) sd_bus_message_exit_container(reply);
        }
        sd_bus_message_unref(reply);
        return r;
}

/* One raw ReadValue and one raw WriteValue of the Buds' profile, through D-Bus. */
static void raw_gatt(uint64_t *ret_read, uint64_t *ret_write) {
        uint64_t reads[ROUNDS], writes[ROUNDS];
        char path[256];
        size_t n = 0;

        if (find_chrc(BUDS_PROFILE_UUID, path, sizeof(path)) < 0) {
                *ret_read = *ret_write = 0;
                return;
        }
        for (unsigned i = 0; i < ROUNDS; i++) {
                sd_bus_message *m = NULL, *reply = NULL;
                const void *p;
                struct record rec;
                uint8_t buf[WIRE_RECORD_MAX];
                uint64_t t0 = e2e_now_usec();
                int len;

                if (sd_bus_call_method(E.bus, "org.bluez", path, "org.bluez.GattCharacteristic1", "ReadValue", NULL,
                                       &reply, "a{sv}", 0) < 0 ||
                    sd_bus_message_read_array(reply, 'y', &p, &n) < 0 || wire_record_decode(p, n, &rec, NULL) < 0)
                        break;
                reads[i] = e2e_now_usec() - t0;
                sd_bus_message_unref(reply);
                rec.flags &= RECORD_DERIVED;
                len = wire_record_encode(&rec, buf, sizeof(buf));
                t0 = e2e_now_usec();
                (void) sd_bus_message_new_method_call(E.bus, &m, "org.bluez", path, "org.bluez.GattCharacteristic1",
                                                      "WriteValue");
                (void) sd_bus_message_append_array(m, 'y', buf, (size_t) len);
                (void) sd_bus_message_append(m, "a{sv}", 1, "type", "s", "request");
                if (sd_bus_call(E.bus, m, 5000000, NULL, NULL) < 0)
                        break;
                writes[i] = e2e_now_usec() - t0;
                sd_bus_message_unref(m);
        }
        *ret_read = quantile(reads, ROUNDS, 50);
        *ret_write = quantile(writes, ROUNDS, 50);
}

static size_t discard(char *p, size_t s, size_t n, void *u) {
        (void) p;
        (void) u;
        return s * n;
}

/* One raw HTTPS request on a kept-alive connection (as bridged's uplink keeps it). */
static uint64_t raw_https(void) {
        uint64_t t[ROUNDS];
        char url[128];
        struct curl_slist *h = curl_slist_append(NULL, "Authorization: Bearer " HARNESS_TOKEN_A);
        CURL *c = curl_easy_init();

        (void) snprintf(url, sizeof(url), "%s/v1/sync/status", E.server.base);
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_CAINFO, E.server.ca);
        curl_easy_setopt(c, CURLOPT_CAPATH, NULL);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
        (void) curl_easy_perform(c);    /* the handshake, once */
        for (unsigned i = 0; i < ROUNDS; i++) {
                uint64_t t0 = e2e_now_usec();
                (void) curl_easy_perform(c);
                t[i] = e2e_now_usec() - t0;
        }
        curl_easy_cleanup(c);
        curl_slist_free_all(h);
        return quantile(t, ROUNDS, 50);
}

static size_t keep_body(char *p, size_t s, size_t n, void *u) {
        char *buf = u;
        size_t have = strlen(buf), take = s * n < 511 - have ? s * n : 511 - have;

        memcpy(buf + have, p, take);
        buf[have + take] = '\0';
        return s * n;
}

/* One raw push that syncd applies and commits: a profile newer each time, a
 * new Idempotency-Key, on a kept-alive connection. The other account's, so
 * that bridged (account A) is not woken by it. */
static uint64_t raw_push(void) {
        uint64_t t[ROUNDS];
        char url[128], idem[80], answer[512];
        struct curl_slist *h = NULL;
        CURL *c = curl_easy_init();
        unsigned applied = 0, n = 0;

        (void) snprintf(url, sizeof(url), "%s/v1/sync/push", E.server.base);
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_CAINFO, E.server.ca);
        curl_easy_setopt(c, CURLOPT_CAPATH, NULL);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, keep_body);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, answer);
        for (unsigned i = 0; i <= ROUNDS; i++) {
                struct record r = { .value = profile(i + 5000), .stamp = { stamp_pack(harness_wall_ms(), (uint16_t) i), 0xfd } };
                char *body = recjson_push_body_print(1, &r, 1);
                uint64_t t0;

                (void) snprintf(idem, sizeof(idem), "Idempotency-Key: 00000000-0000-4000-8000-%012llx",
                                (unsigned long long) (harness_wall_ms() * 1000 + i) & 0xffffffffffffULL);
                h = curl_slist_append(curl_slist_append(curl_slist_append(curl_slist_append(NULL,
                        "Authorization: Bearer " HARNESS_TOKEN_B), "Content-Type: application/json"),
                        "Device-Id: 00000000000000fd"), idem);
                curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
                curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
                answer[0] = '\0';
                t0 = e2e_now_usec();
                if (curl_easy_perform(c) == CURLE_OK && strstr(answer, "\"applied\"") && i > 0) {
                        t[n++] = e2e_now_usec() - t0;   /* the first one carries the handshake */
                        applied++;
                }
                curl_slist_free_all(h);
                free(body);
        }
        curl_easy_cleanup(c);
        if (applied < ROUNDS)
                printf("raw push: %u of %u applied\n", applied, ROUNDS);
        return n ? quantile(t, n, 50) : 0;
}

static bool cond_never(struct e2e *e, void *userdata) {
        (void) e;
        (void) userdata;
        return false;
}

/* One commit of the floor's three rows; its time from BEGIN to COMMIT's
 * return, 0 when it failed. */
static uint64_t floor_commit_once(sqlite3 *db, sqlite3_stmt *st[3], const char *json, unsigned i) {
        uint64_t t0 = e2e_now_usec();
        bool ok = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK;

        for (unsigned j = 0; ok && j < 2; j++) {
                ok = sqlite3_bind_text(st[j], 1, json, -1, SQLITE_STATIC) == SQLITE_OK &&
                     sqlite3_step(st[j]) == SQLITE_DONE && sqlite3_reset(st[j]) == SQLITE_OK;
        }
        ok = ok && sqlite3_bind_int64(st[2], 1, (sqlite3_int64) i) == SQLITE_OK &&
             sqlite3_bind_int64(st[2], 2, (sqlite3_int64) i) == SQLITE_OK &&
             sqlite3_step(st[2]) == SQLITE_DONE && sqlite3_reset(st[2]) == SQLITE_OK &&
             sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK;
        return ok ? e2e_now_usec() - t0 ?: 1 : 0;
}

/* One local synchronous=FULL commit (WAL, as bridged's store) of what the
 * engine step writes for one change, in bridged's state directory's file
 * system: the Buds' snapshot and the cache copy (each the record's JSON)
 * and the clock, three tables, one transaction. Like bridged's: into a WAL
 * that is in use (bridged's is overwritten from its start after each
 * checkpoint, never grown), and after the pause the engine step's commit
 * follows (the bench's 20 ms before each change, and the read): on this
 * kind of machine a commit after a pause costs two to four times one
 * right after another (the disk's flush carries what was written
 * meanwhile). Back to back, as the floor was until issue 16's commit
 * work, in *ret_back_to_back. */
static uint64_t raw_commit(uint64_t *ret_back_to_back) {
        uint64_t t[ROUNDS], b2b[ROUNDS];
        char path[192], *json;
        struct record rec = { .value = profile(7000), .stamp = { stamp_pack(harness_wall_ms(), 0), 0xfd } };
        sqlite3 *db = NULL;
        sqlite3_stmt *st[3] = {};
        unsigned n = 0, nb = 0, i = 0;

        *ret_back_to_back = 0;
        (void) snprintf(path, sizeof(path), "%s/floor.db", E.dir);
        json = recjson_record_print(&rec);
        if (!json || sqlite3_open(path, &db) != SQLITE_OK ||
            sqlite3_exec(db, "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; "
                             "CREATE TABLE snap (k INTEGER PRIMARY KEY, v TEXT); "
                             "CREATE TABLE copy (k INTEGER PRIMARY KEY, v TEXT); "
                             "CREATE TABLE clock (k INTEGER PRIMARY KEY, node INTEGER, last INTEGER, issued INTEGER);",
                         NULL, NULL, NULL) != SQLITE_OK ||
            sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO snap VALUES (1, ?)", -1, &st[0], NULL) != SQLITE_OK ||
            sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO copy VALUES (1, ?)", -1, &st[1], NULL) != SQLITE_OK ||
            sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO clock VALUES (1, 253, ?, ?)", -1, &st[2], NULL) != SQLITE_OK)
                goto out;
        /* three pages a commit: past the 1,000 of the automatic checkpoint,
         * which starts the WAL over */
        for (; i < 2 * ROUNDS; i++)
                if (!floor_commit_once(db, st, json, i))
                        goto out;
        for (; nb < ROUNDS && (b2b[nb] = floor_commit_once(db, st, json, i++)); nb++)
                ;
        for (; n < ROUNDS; n++) {
                (void) e2e_wait(&E, cond_never, NULL, 20000);
                if (!(t[n] = floor_commit_once(db, st, json, i++)))
                        break;
        }
out:
        for (unsigned j = 0; j < 3; j++)
                sqlite3_finalize(st[j]);
        sqlite3_close(db);
        free(json);
        if (nb)
                *ret_back_to_back = quantile(b2b, nb, 50);
        return n ? quantile(t, n, 50) : 0;
}

/* ---- Buds change -> server copy, like with like ----
 * Both ends are stamped by a thread that does nothing else and waits in the
 * kernel, as bridged does: the start is the Buds' notification reaching the
 * bus's listeners (a connection of its own, matching the Manifest's
 * PropertiesChanged that wakes bridged), the end is syncd answering a long
 * poll of bridged's account parked before the touch (syncd wakes it once the
 * push is committed). Neither the bench's touch call nor a pull is inside. */

struct listener {
        sd_bus *bus;
        pthread_t thread;
        atomic_uint_fast64_t first_usec;        /* the first notification since reset; 0: none yet */
        atomic_bool stop;
};

static int on_manifest(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        struct listener *l = userdata;
        uint_fast64_t none = 0;

        (void) m;
        (void) error;
        (void) atomic_compare_exchange_strong(&l->first_usec, &none, e2e_now_usec());
        return 0;
}

static void *listener_run(void *userdata) {
        struct listener *l = userdata;

        while (!atomic_load(&l->stop)) {
                while (sd_bus_process(l->bus, NULL) > 0)
                        ;
                (void) sd_bus_wait(l->bus, 100000);
        }
        return NULL;
}

static int listener_start(struct listener *l, const char *manifest_path) {
        int r = sd_bus_new(&l->bus);

        if (r >= 0)
                r = sd_bus_set_address(l->bus, testbus_address(E.tb));
        if (r >= 0)
                r = sd_bus_set_bus_client(l->bus, 1);
        if (r >= 0)
                r = sd_bus_start(l->bus);
        if (r >= 0)
                r = sd_bus_match_signal(l->bus, NULL, NULL, manifest_path, "org.freedesktop.DBus.Properties",
                                        "PropertiesChanged", on_manifest, l);
        if (r >= 0)
                r = -pthread_create(&l->thread, NULL, listener_run, l);
        if (r < 0)
                l->bus = sd_bus_flush_close_unref(l->bus);
        return r;
}

static void listener_stop(struct listener *l) {
        atomic_store(&l->stop, true);
        (void) pthread_join(l->thread, NULL);
        l->bus = sd_bus_flush_close_unref(l->bus);
}

struct parked {
        pthread_t thread;
        char url[1024];
        uint64_t answered_usec;
        bool ok;
};

static void *park_run(void *userdata) {
        struct parked *p = userdata;
        struct curl_slist *h = curl_slist_append(NULL, "Authorization: Bearer " HARNESS_TOKEN_A);
        CURL *c = curl_easy_init();
        long status = 0;

        curl_easy_setopt(c, CURLOPT_URL, p->url);
        curl_easy_setopt(c, CURLOPT_CAINFO, E.server.ca);
        curl_easy_setopt(c, CURLOPT_CAPATH, NULL);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
        p->ok = curl_easy_perform(c) == CURLE_OK;
        p->answered_usec = e2e_now_usec();
        p->ok = p->ok && curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status) == CURLE_OK && status == 200;
        curl_easy_cleanup(c);
        curl_slist_free_all(h);
        return NULL;
}

/* The server's cursor for bridged's account now (a pull; its few records fit one page). */
static char *server_cursor(void) {
        struct curl_slist *h;
        CURL *c = pull_handle(&h);
        char *body = NULL, *cursor = NULL;
        cJSON *doc;

        curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
        if (curl_easy_perform(c) == CURLE_OK && body && (doc = cJSON_Parse(body))) {
                const char *s = cJSON_GetStringValue(cJSON_GetObjectItem(doc, "cursor"));
                char *esc = s ? curl_easy_escape(c, s, 0) : NULL;

                cursor = esc ? strdup(esc) : NULL;
                curl_free(esc);
                cJSON_Delete(doc);
        }
        free(body);
        curl_easy_cleanup(c);
        curl_slist_free_all(h);
        return cursor;
}

/* One change: ret_usec is notification -> parked long poll answered, ret_touch_usec the bench's own
 * view (its touch call -> its pull finds the value). false: no sample. */
static bool one_change(struct listener *l, unsigned i, uint64_t *ret_usec, uint64_t *ret_touch_usec) {
        struct expect x = { profile(i), true };
        struct parked p = {};
        char *cursor = server_cursor();
        uint64_t t0, notified;
        bool arrived;

        if (!cursor)
                return false;
        (void) snprintf(p.url, sizeof(p.url), "%s/v1/sync/wait?cursor=%s&timeout=20", E.server.base, cursor);
        free(cursor);
        if (pthread_create(&p.thread, NULL, park_run, &p) != 0)
                return false;
        /* parked by then on any machine this runs on; if not, the wait is
         * answered on arrival, later than the change: the figure errs high */
        (void) e2e_wait(&E, cond_never, NULL, 20000);
        atomic_store(&l->first_usec, 0);
        t0 = e2e_now_usec();
        if (e2e_sim_touch(&E, ADDR, &x.v) < 0) {
                (void) pthread_join(p.thread, NULL);
                return false;
        }
        (void) pthread_join(p.thread, NULL);
        arrived = e2e_wait(&E, cond_arrived, &x, E2E_DEADLINE_USEC);
        *ret_touch_usec = e2e_now_usec() - t0;
        notified = atomic_load(&l->first_usec);
        /* answered by something else than this change (or not at all): no sample */
        if (!arrived || !p.ok || !notified || p.answered_usec < notified || !server_has(&x.v))
                return false;
        *ret_usec = p.answered_usec - notified;
        return true;
}

static void print_quantiles(const char *what, uint64_t *t, unsigned n, uint64_t floor_usec) {
        double med = (double) quantile(t, n, 50), p99 = (double) quantile(t, n, 99);

        printf("%s: median %.2f ms, p99 %.2f ms over %u changes (p99 / median %.2f, target < 2)", what, med / 1000.0,
               p99 / 1000.0, n, p99 / med);
        if (floor_usec)
                printf("; median / honest floor = %.2f (target < 1.2)", med / (double) floor_usec);
        printf("\n");
}

static void latency_buds_to_server(uint64_t floor_usec) {
        uint64_t t[ROUNDS], touch[ROUNDS];
        struct listener l = {};
        char manifest[256];
        unsigned ok = 0, tries = 0;

        if (find_chrc(BUDS_MANIFEST_UUID, manifest, sizeof(manifest)) < 0 || listener_start(&l, manifest) < 0) {
                printf("Buds change -> server copy: no listener\n");
                return;
        }
        for (unsigned i = 0; ok < ROUNDS && tries < 2 * ROUNDS; i++, tries++)
                if (one_change(&l, i, &t[ok], &touch[ok]))
                        ok++;
        listener_stop(&l);
        if (ok == 0) {
                printf("Buds change -> server copy: no sample\n");
                return;
        }
        print_quantiles("Buds change -> server copy (the Buds' notification on the bus -> syncd answers a long poll "
                        "parked before it)", t, ok, floor_usec);
        print_quantiles("  the bench's own view (its touch call to budsim -> its pull finds the value; carries both)",
                        touch, ok, 0);
        if (ok < tries)
                printf("  (%u of %u changes left out: the long poll was answered by something else)\n", tries - ok,
                       tries);
}

static void latency(const char *what, bool buds_to_server, uint64_t floor_usec) {
        uint64_t t[ROUNDS];
        unsigned ok = 0;

        for (unsigned i = 0; i < ROUNDS; i++) {
                struct expect x = { profile(i + (buds_to_server ? 0 : 1000)), buds_to_server };
                char status[32];
                uint64_t t0 = e2e_now_usec();

                if (buds_to_server) {
                        if (e2e_sim_touch(&E, ADDR, &x.v) < 0)
                                break;
                } else {
                        /* the change is on the server once its push is answered */
                        struct record r = { .value = x.v, .stamp = { stamp_pack(harness_wall_ms(), (uint16_t) i), E2E_PHONE } };
                        if (e2e_phone_push(&E, &r, status, sizeof(status)) < 0)
                                break;
                        t0 = e2e_now_usec();
                }
                if (!e2e_wait(&E, cond_arrived, &x, E2E_DEADLINE_USEC))
                        break;
                t[ok++] = e2e_now_usec() - t0;
        }
        if (ok == 0) {
                printf("%s: no sample\n", what);
                return;
        }
        {
                double med = (double) quantile(t, ok, 50), p99 = (double) quantile(t, ok, 99);

                printf("%s: median %.2f ms, p99 %.2f ms over %u changes (p99 / median %.2f, target < 2)", what,
                       med / 1000.0, p99 / 1000.0, ok, p99 / med);
                if (floor_usec)
                        printf("; median / honest floor = %.2f (target < 1.2)", med / (double) floor_usec);
                printf("\n");
        }
}

static long ctxt_switches(pid_t pid) {
        return procinfo_status(pid, "voluntary_ctxt_switches") + procinfo_status(pid, "nonvoluntary_ctxt_switches");
}

static void idle_figures(unsigned seconds) {
        long c0, c1;

        /* settle past the tail of the last change (the device registry's
         * update a second later, libcurl's timers of that connection some
         * seconds later), then count what bridged does on its own */
        (void) e2e_wait(&E, cond_never, NULL, 15 * UINT64_C(1000000));
        c0 = ctxt_switches(E.bridged);
        (void) e2e_wait(&E, cond_never, NULL, (uint64_t) seconds * 1000000);
        c1 = ctxt_switches(E.bridged);
        printf("idle: %.1f wake-ups per minute (context switches over %u s, 15 s after the last change; target 0 "
               "beyond the long poll, which is renewed every 60 s; under systemd the watchdog adds 4 a minute at "
               "WatchdogSec=30s)\n", (double) (c1 - c0) * 60.0 / seconds, seconds);
}

static bool cond_idle(struct e2e *e, void *userdata) {
        char *state = NULL;
        bool idle;

        (void) userdata;
        idle = sd_bus_get_property_string(e->bus, "org.bridged", "/org/bridged", "org.bridged.Manager1", "State", NULL,
                                          &state) >= 0 && strcmp(state, "idle") == 0;
        free(state);
        return idle;
}

/* One figure of the mappings whose permissions and name match, summed. */
struct mapping_sum {
        const char *perms;              /* NULL: any */
        const char *name;               /* a part of the name */
        long rss_kib, private_dirty_kib;
        bool found;
};

static void mapping_sum_add(const char *perms, const char *name, const struct procinfo_memory *m, void *userdata) {
        struct mapping_sum *sum = userdata;

        if ((sum->perms && strcmp(perms, sum->perms) != 0) || !strstr(name, sum->name))
                return;
        sum->rss_kib += m->rss_kib;
        sum->private_dirty_kib += m->private_dirty_kib;
        sum->found = true;
}

/* The private dirty KiB of bridged's heap ([heap] in /proc/PID/smaps), -1 if unreadable. */
static long heap_dirty_kib(void) {
        struct mapping_sum sum = { .name = "[heap]" };

        return procinfo_mappings(E.bridged, mapping_sum_add, &sum) < 0 || !sum.found ? -1 : sum.private_dirty_kib;
}

/* Read once bridged is idle (no push or pull in flight): what it holds
 * between changes, which is most of its life. */
static bool memory_of(const char *when, struct procinfo_memory *ret) {
        if (!e2e_wait(&E, cond_idle, NULL, E2E_DEADLINE_USEC))
                printf("memory %s: bridged never idle\n", when);
        if (procinfo_memory(E.bridged, ret) < 0) {
                printf("memory %s: not readable\n", when);
                return false;
        }
        printf("memory %s: PSS %ld KiB (target < %d), private dirty %ld KiB (target < %d; the heap %ld KiB), "
               "RSS %ld KiB, private %ld KiB\n", when, ret->pss_kib, PSS_TARGET_KIB, ret->private_dirty_kib,
               PRIVATE_DIRTY_TARGET_KIB, heap_dirty_kib(), ret->rss_kib, ret->private_kib);
        return true;
}

/* Where bridged's PSS goes, by what brings each mapping in: a distribution
 * shares the libraries with other processes, the bench's machine with few. */
static const struct pss_group {
        const char *name;
        const char *libs;       /* ' '-separated prefixes of the mapped file's name */
} pss_groups[] = {
        { "bridged's own (binary, heap, stack, anonymous)", "bridged [" },
        { "libc and ld.so", "libc. libm. ld-linux ld.so.cache libresolv." },
        { "GnuTLS and what it loads", "libgnutls libnettle libhogweed libgmp libp11-kit libtasn1 libunistring "
                                       "libidn2 libffi" },
        { "libcurl-gnutls and what only it loads", "libcurl libssh2 libcrypto libkrb5 libgssapi libk5crypto "
                                                     "libldap liblber libsasl2 librtmp libnghttp2 libpsl "
                                                     "libbrotli libkeyutils libcom_err libz." },
        { "libsystemd and what it loads", "libsystemd libgcrypt libgpg-error liblz4 liblzma libzstd libcap." },
        { "SQLite", "libsqlite3" },
        { "the rest (cJSON, inih, NSS modules)", "" },
};

static size_t pss_group_of(const char *file) {
        const char *base = strrchr(file, '/');
        size_t n = sizeof(pss_groups) / sizeof(pss_groups[0]);

        base = base ? base + 1 : file;
        for (size_t g = 0; g < n - 1; g++)
                for (const char *w = pss_groups[g].libs; *w; ) {
                        size_t len = strcspn(w, " ");

                        if (strncmp(base, w, len) == 0)
                                return g;
                        w += len + strspn(w + len, " ");
                }
        return n - 1;
}

struct pss_sums {
        long pss[sizeof(pss_groups) / sizeof(pss_groups[0])];
        long dirty[sizeof(pss_groups) / sizeof(pss_groups[0])];
};

static void pss_add(const char *perms, const char *name, const struct procinfo_memory *m, void *userdata) {
        struct pss_sums *sums = userdata;
        size_t g = pss_group_of(name[0] ? name : "[anon]");     /* an unnamed map is bridged's own memory */

        (void) perms;
        sums->pss[g] += m->pss_kib;
        sums->dirty[g] += m->private_dirty_kib;
}

static void pss_breakdown(void) {
        struct pss_sums sums = {};

        if (procinfo_mappings(E.bridged, pss_add, &sums) < 0)
                return;
        printf("where the PSS goes (KiB: PSS, of it private dirty):\n");
        for (size_t g = 0; g < sizeof(pss_groups) / sizeof(pss_groups[0]); g++)
                printf("  %-48s %6ld %6ld\n", pss_groups[g].name, sums.pss[g], sums.dirty[g]);
}

/* SYNCS changes on the Buds, each awaited on the server, then the growth. */
static void memory_after_syncs(const struct procinfo_memory *before) {
        struct procinfo_memory after;
        unsigned ok = 0, syncs = getenv("BENCH_SYNCS") ? (unsigned) atoi(getenv("BENCH_SYNCS")) : SYNCS;
        char when[64];

        for (unsigned i = 0; i < syncs; i++) {
                struct expect x = { profile(i + 2000), true };

                if (e2e_sim_touch(&E, ADDR, &x.v) < 0 || !e2e_wait(&E, cond_arrived, &x, E2E_DEADLINE_USEC))
                        break;
                ok++;
        }
        if (ok < syncs)
                printf("memory: only %u of %u syncs went through\n", ok, syncs);
        (void) snprintf(when, sizeof(when), "after %u more syncs", ok);
        if (memory_of(when, &after))
                printf("memory growth over %u syncs: PSS %+ld KiB, private dirty %+ld KiB (target 0)\n", ok,
                       after.pss_kib - before->pss_kib, after.private_dirty_kib - before->private_dirty_kib);
        pss_breakdown();
}

/* The resident KiB of a library's code in bridged (its r-xp mapping in
 * /proc/PID/smaps), -1 if not mapped: libcrypto's shows whether anything
 * initialized OpenSSL there (about 190 KiB loaded only, 1.4 MiB run). */
static long code_resident_kib(const char *lib) {
        struct mapping_sum sum = { .perms = "r-xp", .name = lib };

        return procinfo_mappings(E.bridged, mapping_sum_add, &sum) < 0 || !sum.found ? -1 : sum.rss_kib;
}

/* Which TLS library runs in bridged and syncd (tests/e2e/test-libraries holds them to it). */
static void libraries(void) {
        const struct { const char *who; pid_t pid; } p[] = { { "bridged", E.bridged }, { "syncd", E.server.pid } };

        for (size_t i = 0; i < sizeof(p) / sizeof(p[0]); i++)
                printf("%s maps: GnuTLS %s, OpenSSL libssl %s, OpenSSL libcrypto %s%s\n", p[i].who,
                       procinfo_mapped(p[i].pid, "libgnutls.so", NULL, 0) > 0 ? "yes" : "no",
                       procinfo_mapped(p[i].pid, "libssl.so", NULL, 0) > 0 ? "yes" : "no",
                       procinfo_mapped(p[i].pid, "libcrypto.so", NULL, 0) > 0 ? "yes" : "no",
                       procinfo_mapped(p[i].pid, "libssh2.so", NULL, 0) > 0 ?
                               " (libssh2's, which Debian's libcurl3-gnutls links; never used for TLS)" : "");
        printf("bridged's libcrypto code resident: %ld KiB (about 190 KiB when only loaded, as the uplink leaves "
               "it; 1.4 MiB once anything initializes OpenSSL)\n", code_resident_kib("/libcrypto.so"));
}

static void start_to_ready(void) {
        uint64_t t[9];

        for (unsigned i = 0; i < 9; i++) {
                (void) e2e_bridged_stop(&E, SIGTERM);
                if (e2e_bridged_start(&E, false) < 0)
                        return;
                t[i] = E.ready_usec;
        }
        printf("start to READY=1: median %.1f ms over 9 starts (target < 50)\n", quantile(t, 9, 50) / 1000.0);
}

/* bridged's own profile of the Buds -> server path (Stats() path_usec): each
 * step's median and p99 from the step before it; the push and the write-back
 * each from the engine step, both leave after its commit. */
static void path_profile(uint64_t floor_usec) {
        static const char *const steps[][2] = {
                { "read", "notification in -> read answered" },
                { "engine", "read answered -> engine step done (commit apart)" },
                { "commit", "the engine step's synchronous=FULL commit" },
                { "write_issued", "engine step done -> write-back issued" },
                { "push_issued", "engine step done -> push issued" },
                { "push_answered", "push issued -> push answered" },
                { "write_answered", "write-back issued -> write-back answered (beside the push)" },
        };
        char *stats = NULL;
        cJSON *doc, *path;
        double serial = 0;

        if (e2e_call(&E, "Stats", &stats, NULL, NULL) < 0 || !(doc = cJSON_Parse(stats))) {
                free(stats);
                printf("profile: no Stats()\n");
                return;
        }
        path = cJSON_GetObjectItem(doc, "path_usec");
        printf("profile of a Buds change in bridged (median, p99; each step from the one before, the write-back "
               "and the push from the engine step):\n");
        for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
                const cJSON *s = cJSON_GetObjectItem(path, steps[i][0]);
                double p50 = cJSON_GetNumberValue(cJSON_GetObjectItem(s, "p50"));

                printf("  %-14s %7.3f ms %7.3f ms  %s (n=%.0f)\n", steps[i][0], p50 / 1000.0,
                       cJSON_GetNumberValue(cJSON_GetObjectItem(s, "p99")) / 1000.0, steps[i][1],
                       cJSON_GetNumberValue(cJSON_GetObjectItem(s, "n")));
                if (i < 6 && i != 3)    /* the write-back is beside the push, not before it */
                        serial += p50;
        }
        printf("  notification in -> push answered: %.3f ms (sum of the medians of the serial steps); / honest floor "
               "= %.2f (the floor's WriteValue is beside the push here, its touch and pull are the bench's)\n",
               serial / 1000.0, floor_usec ? serial / (double) floor_usec : 0.0);
        cJSON_Delete(doc);
        free(stats);
}

static void internal_stats(void) {
        char *stats = NULL;

        if (e2e_call(&E, "Stats", &stats, NULL, NULL) == 0)
                printf("bridged's own Stats(): %s\n", stats);
        free(stats);
}

/* A bridged linked moments ago (make bench builds, then runs) is still in
 * the page cache, not yet written back, and its mapped pages read as dirty
 * in smaps: its code, some 240 KiB, would count as private dirty until the
 * kernel writes the file out, about 30 s later. Written out first. */
static void write_back_bridged(void) {
        const char *b = getenv("BRIDGED_BUILD");
        char path[512];
        int fd;

        (void) snprintf(path, sizeof(path), "%s/bridged/bridged", b && *b ? b : "build");
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return;
        (void) fsync(fd);
        (void) close(fd);
}

int main(void) {
        uint64_t raw_read, raw_write, raw_http, raw_pushed, raw_committed, raw_back_to_back, floor_usec;
        struct procinfo_memory mem_start;
        int r;

        setvbuf(stdout, NULL, _IOLBF, 0);
        write_back_bridged();
        /* without syncd's push rate limit: 1,400 pushes in a minute would
         * meet its 429s, and the figures would time the Retry-After */
        r = e2e_start_with_server_args(&E, false, (const char *const[]) { "--max-pushes-per-minute", "0", NULL });
        if (r < 0 || e2e_sim_add_buds(&E, ADDR, "Bench", FAMILY_PRO, 0x42) < 0) {
                fprintf(stderr, "bench-bridged: cannot start the parts: %s\n", strerror(-r));
                e2e_stop(&E);
                return EXIT_FAILURE;
        }
        start_to_ready();
        {
                struct expect x = { profile(999999), true };
                (void) e2e_sim_touch(&E, ADDR, &x.v);
                (void) e2e_wait(&E, cond_arrived, &x, E2E_DEADLINE_USEC);   /* connected and synced */
        }
        if (!memory_of("after start (READY=1, Buds connected, one sync)", &mem_start))
                mem_start = (struct procinfo_memory) { 0 };
        raw_gatt(&raw_read, &raw_write);
        raw_http = raw_https();
        raw_pushed = raw_push();
        raw_committed = raw_commit(&raw_back_to_back);
        floor_usec = raw_read + raw_write + raw_pushed + raw_committed;
        printf("honest floor, same run (medians of %u): D-Bus ReadValue %.3f ms + WriteValue %.3f ms + a push syncd "
               "applies and commits %.3f ms + a local synchronous=FULL commit of the same rows after a pause %.3f ms "
               "= %.3f ms (a kept-alive HTTPS request that commits nothing: %.3f ms; the commit back to back: "
               "%.3f ms)\n", ROUNDS, raw_read / 1000.0, raw_write / 1000.0, raw_pushed / 1000.0,
               raw_committed / 1000.0, floor_usec / 1000.0, raw_http / 1000.0, raw_back_to_back / 1000.0);
        latency_buds_to_server(floor_usec);
        path_profile(floor_usec);
        latency("server change -> Buds copy", false, 0);
        internal_stats();
        memory_after_syncs(&mem_start);
        idle_figures(getenv("BENCH_IDLE_SEC") ? (unsigned) atoi(getenv("BENCH_IDLE_SEC")) : 20);
        libraries();
        e2e_stop(&E);
        return EXIT_SUCCESS;
}
