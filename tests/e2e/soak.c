/* SPDX-License-Identifier: MIT */
/* soak: the simulation's invariants on real processes, under chaos.
 *
 * Three hosts, each a bridged on its own private bus with its own budsim,
 * one syncd over TLS (a CA made at start) they all sync with, and three Buds
 * (two pro, one standard) that move between the hosts' budsims with their
 * state. For SOAK_SECONDS (default 60) it does, at random (SOAK_SEED, default
 * the time): edits through the control API and through bridgectl, changes
 * on the Buds, phone pushes straight to the server, Buds moving, kill -9 of
 * a bridged or of syncd (both started again on their state), server faults
 * (503, 429, a dropped answer after the push applied, garbage) and GATT
 * faults (delays, ATT errors, malformed values, disconnects mid-write,
 * writes acknowledged and dropped). Then the faults stop, every process is
 * up, and it waits (with a deadline) for quiescence and checks:
 *
 * - convergence: every bridge's intent, every Buds' record and the server's
 *   newest copy agree on every item (the Buds in their family: the intent or
 *   its conversion), nothing DIRTY, nothing pending;
 * - newer never loses: the final intent of each item is at least as new as
 *   every edit whose stamp the soak knows (the control API's answer, the
 *   phone's own stamp);
 * - no false conflict: no conflict entry whose lost side a later edit of
 *   the same origin replaced with its kept side; logs within their limit;
 * - liveness: all of it within SOAK_QUIET_SECONDS (default 60) of the end;
 * - every process it did not kill is alive, and exits cleanly at the end.
 *
 * It prints what it did (counts of each action) and the result; a failure
 * prints the seed and the last actions (SOAK_TRACE=1: every action as it
 * happens). docs/simulation.md says how it relates to the simulation. */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "e2e.h"
#include "codec/recjson.h"
#include "common/random.h"
#include "policy/eqconv.h"
#include "tests/lib/values.h"

#define HOSTS 3
#define BUDS 3
#define EDITS_MAX 4096
#define CONFLICT_LIMIT 100              /* ConflictLogLimit's default */

static const struct {
        const char *address, *name;
        enum family family;
        uint64_t id;
} buds_def[BUDS] = {
        { "AA:BB:CC:DD:EE:01", "Soak Pro A", FAMILY_PRO, 0x1111111111111111 },
        { "AA:BB:CC:DD:EE:02", "Soak Std", FAMILY_STANDARD, 0x2222222222222222 },
        { "AA:BB:CC:DD:EE:03", "Soak Pro B", FAMILY_PRO, 0x3333333333333333 },
};

enum origin_kind { O_HOST, O_BUDS, O_PHONE };

struct edit {
        enum origin_kind kind;
        int who;
        struct value v;
        bool stamped;                   /* stamp known (control API, phone) */
        struct stamp stamp;
        bool accepted;                  /* the phone's: applied, not stale */
        int where;                      /* a Buds change: the host whose budsim held the Buds */
        /* a Buds change: the Buds left another host holding another value
         * of its item, before the edit of this index was made (0: never) */
        size_t overwritten;
};

static struct {
        uint64_t seed, rng;
        struct e2e host[HOSTS];
        int where[BUDS];                /* the host whose budsim holds the Buds */
        struct edit edits[EDITS_MAX];
        size_t n_edits;
        unsigned counts[16];
        char last[8][200];
        unsigned n_last;
        char why[4096];
        bool failed;
        unsigned excepted[2];           /* conflict entries the two Buds exceptions allowed */
        uint64_t phone_hlc;
} S;

enum action {
        A_SET, A_BRIDGECTL, A_TOUCH, A_PHONE, A_MOVE, A_KILL_BRIDGED, A_KILL_SYNCD, A_SERVER_FAULT,
        A_GATT_FAULT, A_WAIT, _A_MAX,
};

static const char *const action_names[] = {
        "edits (control API)", "edits (bridgectl)", "changes on the Buds", "phone pushes", "Buds moved",
        "bridged killed -9", "syncd killed -9", "server faults", "GATT faults", "pauses",
};

static unsigned pick(unsigned n) { return (unsigned) (random_jitter(&S.rng) % n); }

static void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void note(const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(S.last[S.n_last++ % 8], sizeof(S.last[0]), fmt, ap);
        va_end(ap);
        /* SOAK_TRACE: every action as it happens, with the edit count, to
         * read beside bridged's own (E2E_DEBUG) */
        if (getenv("SOAK_TRACE"))
                fprintf(stderr, "soak %.3f [%zu edits]: %s\n", (double) e2e_now_usec() / 1e6, S.n_edits,
                        S.last[(S.n_last - 1) % 8]);
}

static void failf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void failf(const char *fmt, ...) {
        va_list ap;

        if (S.failed)
                return;
        S.failed = true;
        va_start(ap, fmt);
        vsnprintf(S.why, sizeof(S.why), fmt, ap);
        va_end(ap);
}


static struct edit *edit_by_value(const struct value *v) {
        for (size_t i = 0; i < S.n_edits; i++)
                if (value_equal(&S.edits[i].v, v))
                        return &S.edits[i];
        return NULL;
}

/* Runs every host's bus for a while: signals, and the notify sockets drained. */
static bool never(struct e2e *e, void *userdata) {
        (void) e, (void) userdata;
        return false;
}

static void pump(uint64_t usec) {
        for (int i = 0; i < HOSTS; i++)
                (void) e2e_wait(&S.host[i], never, NULL, usec / HOSTS + 1);
}

static enum family family_for(int h, enum key key) {
        if (key == KEY_PROFILE)
                return FAMILY_ANY;
        for (int b = 0; b < BUDS; b++)
                if (S.where[b] == h)
                        return buds_def[b].family;
        return pick(2) ? FAMILY_PRO : FAMILY_STANDARD;
}

/* ---- actions ---- */

static void host_set(int h, bool via_bridgectl) {
        struct e2e *e = &S.host[h];
        enum key key = (enum key) (KEY_MIN + pick(KEY_MAX));
        struct edit *ed = &S.edits[S.n_edits];
        char *json, *ans = NULL;
        sd_bus_error err = SD_BUS_ERROR_NULL;
        struct record r;

        if (e->bridged <= 0 || S.n_edits == EDITS_MAX)
                return;
        *ed = (struct edit) { .kind = O_HOST, .who = h,
                              .v = test_unique_value(key, family_for(h, key), "soak", (unsigned) S.n_edits) };
        json = recjson_value_print(&ed->v);
        if (!json)
                return;
        if (via_bridgectl) {
                char bin[200], cmd[1200];
                FILE *p;

                (void) snprintf(bin, sizeof(bin), "%s/bridged/bridgectl",
                                getenv("BRIDGED_BUILD") ? getenv("BRIDGED_BUILD") : "build");
                /* bridgectl reaches the host's private bus through the
                 * environment; its answer is the stored record */
                (void) snprintf(cmd, sizeof(cmd), "DBUS_SYSTEM_BUS_ADDRESS='%s' %s --json set %s%s%s '%s' 2>&1",
                                e2e_bus_address(e), bin, key_name(key), key == KEY_PROFILE ? "" : " --family ",
                                key == KEY_PROFILE ? "" : family_name(ed->v.family), json);
                p = popen(cmd, "r");
                if (p) {
                        char out[2048];
                        size_t n = fread(out, 1, sizeof(out) - 1, p);
                        int st = pclose(p);

                        out[n] = '\0';
                        if (st == 0) {
                                ed->stamped = recjson_record_parse(out, n, &r, NULL) == 0;
                                ed->stamp = r.stamp;
                                S.n_edits++;
                                S.counts[A_BRIDGECTL]++;
                                note("host %d: bridgectl set %s %s", h, key_name(key), json);
                        } else
                                note("host %d: bridgectl set failed (%d): %s", h, st, out);
                }
                free(json);
                return;
        }
        if (e2e_call(e, "Set", &ans, &err, "sss", key_name(key), key == KEY_PROFILE ? "" : family_name(ed->v.family),
                     json) == 0 &&
            recjson_record_parse(ans, strlen(ans), &r, NULL) == 0) {
                ed->stamped = true;
                ed->stamp = r.stamp;
                S.n_edits++;
                S.counts[A_SET]++;
                note("host %d: Set %s %s", h, key_name(key), json);
        } else
                note("host %d: Set failed: %s", h, err.message ? err.message : "?");
        sd_bus_error_free(&err);
        free(ans);
        free(json);
}

static void buds_touch(int b) {
        struct edit *ed = &S.edits[S.n_edits];
        enum key key = (enum key) (KEY_MIN + pick(KEY_MAX));

        if (S.n_edits == EDITS_MAX)
                return;
        *ed = (struct edit) { .kind = O_BUDS, .who = b, .where = S.where[b],
                              .v = test_unique_value(key, buds_def[b].family, "soak", (unsigned) S.n_edits) };
        if (e2e_sim_touch(&S.host[S.where[b]], buds_def[b].address, &ed->v) == 0) {
                S.n_edits++;
                S.counts[A_TOUCH]++;
                note("buds %d: touched %s", b, key_name(key));
        }
}

static void phone_push(void) {
        struct edit *ed = &S.edits[S.n_edits];
        enum key key = (enum key) (KEY_MIN + pick(KEY_MAX));
        enum family f = key == KEY_PROFILE ? FAMILY_ANY : pick(2) ? FAMILY_PRO : FAMILY_STANDARD;
        struct record r = { 0 };
        char status[256];
        uint64_t ms = (uint64_t) time(NULL) * 1000;
        struct timespec ts;

        if (S.n_edits == EDITS_MAX)
                return;
        clock_gettime(CLOCK_REALTIME, &ts);
        ms = (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
        /* the phone's own hybrid clock: never behind what it issued */
        S.phone_hlc = stamp_pack(ms, 0) > S.phone_hlc ? stamp_pack(ms, 0) : S.phone_hlc + 1;
        *ed = (struct edit) { .kind = O_PHONE, .v = test_unique_value(key, f, "soak", (unsigned) S.n_edits),
                              .stamped = true,
                              .stamp = { S.phone_hlc, E2E_PHONE } };
        r.value = ed->v;
        r.stamp = ed->stamp;
        if (S.host[0].server.pid > 0 && e2e_phone_push(&S.host[0], &r, status, sizeof(status)) == 0) {
                ed->accepted = strcmp(status, "applied") == 0;
                S.n_edits++;
                S.counts[A_PHONE]++;
                note("phone: push %s: %s", key_name(key), status);
        }
}

/* The Buds leave S.where[b] holding recs: a change made on them with
 * another host whose value they no longer hold was overwritten there (that
 * host's newer intent written to them), so a change made on them later is
 * made on that, not on it. */
static void note_overwritten(int b, const struct record recs[static KEY_MAX + 1]) {
        for (int k = KEY_MIN; k <= KEY_MAX; k++)
                for (size_t i = S.n_edits; i-- > 0;) {
                        struct edit *ed = &S.edits[i];

                        if (ed->kind != O_BUDS || ed->who != b || ed->v.key != (enum key) k)
                                continue;
                        if (ed->where != S.where[b] && !ed->overwritten && !value_equal(&ed->v, &recs[k].value)) {
                                ed->overwritten = S.n_edits;
                                note("buds %d: edit %zu overwritten with host %d", b, i, S.where[b]);
                        }
                        break;  /* the last change of the item on these Buds */
                }
}

static int move_buds(int b, int to) {
        struct e2e *from = &S.host[S.where[b]], *dst = &S.host[to];
        struct record recs[KEY_MAX + 1];
        int r = 0;

        for (int k = KEY_MIN; r == 0 && k <= KEY_MAX; k++)
                r = e2e_sim_record(from, buds_def[b].address, (enum key) k, &recs[k]);
        if (r == 0)
                r = e2e_sim(from, "RemoveBuds", NULL, "s", buds_def[b].address);
        if (r == 0)
                r = e2e_sim_add_buds(dst, buds_def[b].address, buds_def[b].name, buds_def[b].family, buds_def[b].id);
        for (int k = KEY_MIN; r == 0 && k <= KEY_MAX; k++)
                r = e2e_sim_set_record(dst, buds_def[b].address, &recs[k]);
        if (r < 0) {
                failf("moving buds %d from host %d to host %d: %s", b, S.where[b], to, strerror(-r));
                return r;
        }
        note_overwritten(b, recs);
        for (int k = KEY_MIN; k <= KEY_MAX && getenv("SOAK_TRACE"); k++) {
                const struct edit *ed = edit_by_value(&recs[k].value);

                fprintf(stderr, "soak: buds %d leave host %d with %s: edit %td, rev %u%s, stamp %" PRIx64 "/%016" PRIx64
                        "\n", b, S.where[b], key_name((enum key) k), ed ? ed - S.edits : (ptrdiff_t) -1,
                        recs[k].revision, recs[k].flags & RECORD_DIRTY ? " DIRTY" : "", recs[k].stamp.hlc,
                        recs[k].stamp.origin);
        }
        S.where[b] = to;
        return 0;
}

static void kill_bridged(int h) {
        struct e2e *e = &S.host[h];
        int r;

        if (e->bridged <= 0)
                return;
        (void) e2e_bridged_stop(e, SIGKILL);
        r = e2e_bridged_start(e, false);
        if (r < 0)
                failf("host %d: bridged did not come back after kill -9: %s", h, strerror(-r));
        S.counts[A_KILL_BRIDGED]++;
        note("host %d: bridged killed -9 and started again", h);
}

static void kill_syncd(void) {
        struct harness_syncd *s = &S.host[0].server;
        int r;

        if (s->pid <= 0)
                return;
        (void) kill(s->pid, SIGKILL);
        (void) e2e_server_stop(&S.host[0]);
        r = e2e_server_start(&S.host[0]);
        if (r < 0)
                failf("syncd did not come back after kill -9: %s", strerror(-r));
        for (int i = 1; i < HOSTS; i++)
                S.host[i].server.pid = s->pid;
        S.counts[A_KILL_SYNCD]++;
        note("syncd killed -9 and started again");
}

static void server_fault(void) {
        static const char *const rules[] = {
                "[{\"path\":\"/v1/sync/push\",\"count\":2,\"action\":\"status\",\"status\":503}]",
                "[{\"path\":\"/v1/sync/push\",\"count\":1,\"action\":\"status\",\"status\":429,\"retry_after\":1}]",
                "[{\"path\":\"/v1/sync/push\",\"count\":1,\"action\":\"apply_then_drop\"}]",
                "[{\"path\":\"/v1/sync/pull\",\"count\":1,\"action\":\"garbage\"}]",
                "[{\"path\":\"/v1/sync/pull\",\"count\":2,\"action\":\"status\",\"status\":500}]",
        };
        struct harness_resp resp = { 0 };
        unsigned i = pick(sizeof(rules) / sizeof(rules[0]));

        if (S.host[0].server.pid <= 0)
                return;
        if (harness_request(&S.host[0].server, "POST", "/test/faults", NULL, rules[i], NULL, &resp) == 0 &&
            resp.status == 200) {
                S.counts[A_SERVER_FAULT]++;
                note("server fault: %s", rules[i]);
        }
        harness_resp_clear(&resp);
}

static void gatt_fault(int b) {
        static const char *const targets[] = { "profile", "eq.custom", "eq.active" };
        static const char *const kinds[] = { "delay", "att-error", "malformed", "disconnect-in-write",
                                             "ignore-write", "drop-notify" };
        const char *t = targets[pick(3)], *k = kinds[pick(sizeof(kinds) / sizeof(kinds[0]))];
        int r;

        /* the Buds announce every item on the Manifest: a fault there is
         * the one that drops an announcement (on an item it never fired) */
        if (strcmp(k, "drop-notify") == 0)
                t = "manifest";

        if (strcmp(k, "delay") == 0)
                r = e2e_sim(&S.host[S.where[b]], "InjectFault", NULL, "sssa{sv}", buds_def[b].address, t, k, 1, "ms",
                            "u", (uint32_t) (100 + pick(1500)));
        else
                r = e2e_sim(&S.host[S.where[b]], "InjectFault", NULL, "sssa{sv}", buds_def[b].address, t, k, 0);
        if (r == 0) {
                S.counts[A_GATT_FAULT]++;
                note("buds %d: GATT fault %s on %s", b, k, t);
        }
}

static void step(void) {
        unsigned a = pick(100);
        int h = (int) pick(HOSTS), b = (int) pick(BUDS);

        if (a < 18)
                host_set(h, false);
        else if (a < 24)
                host_set(h, true);
        else if (a < 40)
                buds_touch(b);
        else if (a < 48)
                phone_push();
        else if (a < 54) {
                int to = (S.where[b] + 1 + (int) pick(HOSTS - 1)) % HOSTS;

                if (move_buds(b, to) == 0) {
                        S.counts[A_MOVE]++;
                        note("buds %d moved to host %d", b, to);
                }
        } else if (a < 57)
                kill_bridged(h);
        else if (a < 58)
                kill_syncd();
        else if (a < 60)
                server_fault();
        else if (a < 67)
                gatt_fault(b);
        else {
                S.counts[A_WAIT]++;
                pump(20000 + pick(400000));
        }
        pump(5000);
}

/* ---- quiescence and the checks ---- */

static int server_intent(enum key key, struct record *ret) {
        bool have = false;

        for (int f = key == KEY_PROFILE ? FAMILY_ANY : FAMILY_STANDARD; f <= (key == KEY_PROFILE ? FAMILY_ANY : FAMILY_PRO);
             f++) {
                struct record r;
                int x = e2e_server_record(&S.host[0], key, (enum family) f, &r);

                if (x == -ENOENT)
                        continue;
                if (x < 0)
                        return x;
                if (!have || stamp_cmp(r.stamp, ret->stamp) > 0 ||
                    (stamp_eq(r.stamp, ret->stamp) && (ret->flags & RECORD_DERIVED) && !(r.flags & RECORD_DERIVED)))
                        *ret = r, have = true;
        }
        return have ? 0 : -ENOENT;
}

static bool matches(const struct record *want, const struct record *got) {
        struct value conv;

        if (!stamp_eq(want->stamp, got->stamp) || (got->flags & RECORD_DIRTY))
                return false;
        if (want->value.family == got->value.family)
                return value_equal(&want->value, &got->value);
        return eqconv_value(&want->value, got->value.family, &conv) >= 0 && value_equal(&conv, &got->value);
}

static char quiet_why[512];

static bool converged(struct e2e *unused, void *userdata) {
        (void) unused, (void) userdata;
        for (int k = KEY_MIN; k <= KEY_MAX; k++) {
                struct record want, got;
                int r = server_intent((enum key) k, &want);

                if (r == -ENOENT)
                        continue;
                if (r < 0) {
                        snprintf(quiet_why, sizeof(quiet_why), "the server does not answer a pull");
                        return false;
                }
                for (int h = 0; h < HOSTS; h++) {
                        char *status = NULL;
                        cJSON *j;
                        double pending;

                        if (e2e_intent(&S.host[h], (enum key) k, &got) < 0 || !matches(&want, &got)) {
                                snprintf(quiet_why, sizeof(quiet_why), "host %d's %s differs from the server's", h,
                                         key_name((enum key) k));
                                return false;
                        }
                        if (e2e_call(&S.host[h], "Status", &status, NULL, NULL) < 0)
                                return false;
                        j = cJSON_Parse(status);
                        pending = cJSON_GetNumberValue(cJSON_GetObjectItem(j, "pending"));
                        cJSON_Delete(j);
                        free(status);
                        if (pending != 0) {
                                snprintf(quiet_why, sizeof(quiet_why), "host %d has %g pending", h, pending);
                                return false;
                        }
                }
                for (int b = 0; b < BUDS; b++) {
                        int x = e2e_sim_record(&S.host[S.where[b]], buds_def[b].address, (enum key) k, &got);

                        if (x < 0 || !matches(&want, &got)) {
                                char *a = x < 0 ? NULL : recjson_record_print(&got), *w = recjson_record_print(&want);

                                snprintf(quiet_why, sizeof(quiet_why), "buds %d's %s: %s%s, the server's %s", b,
                                         key_name((enum key) k), a ? a : strerror(-x),
                                         x == 0 && (got.flags & RECORD_DIRTY) ? " DIRTY" : "", w ? w : "?");
                                free(a);
                                free(w);
                                return false;
                        }
                }
        }
        return true;
}

static uint64_t quiet_after_usec;

static bool wait_quiet(uint64_t usec) {
        uint64_t start = e2e_now_usec(), deadline = start + usec;

        char said[sizeof(quiet_why)] = "";

        while (e2e_now_usec() < deadline) {
                if (converged(NULL, NULL)) {
                        quiet_after_usec = e2e_now_usec() - start;
                        return true;
                }
                /* what a slow quiescence waits on, each time it changes */
                if (getenv("SOAK_TRACE") && strcmp(said, quiet_why) != 0) {
                        (void) snprintf(said, sizeof(said), "%s", quiet_why);
                        note("not quiet yet: %s", said);
                }
                pump(300000);
        }
        return converged(NULL, NULL);
}

static void print_record(const char *who, const struct record *r) {
        char *json = recjson_record_print(r);

        printf("  %-10s %s%s rev %u\n", who, json ? json : "?", r->flags & RECORD_DIRTY ? " DIRTY" : "", r->revision);
        free(json);
}

/* What everyone holds, for a failure. */
static void dump(void) {
        for (int k = KEY_MIN; k <= KEY_MAX; k++) {
                struct record r;

                printf("%s:\n", key_name((enum key) k));
                for (int f = FAMILY_ANY; f <= FAMILY_PRO; f++)
                        if (e2e_server_record(&S.host[0], (enum key) k, (enum family) f, &r) == 0)
                                print_record(f == FAMILY_ANY ? "server" : f == FAMILY_PRO ? "server pro" : "server std", &r);
                for (int h = 0; h < HOSTS; h++) {
                        char who[32];

                        snprintf(who, sizeof(who), "host %d", h);
                        if (e2e_intent(&S.host[h], (enum key) k, &r) == 0)
                                print_record(who, &r);
                }
                for (int b = 0; b < BUDS; b++) {
                        char who[32];

                        snprintf(who, sizeof(who), "buds %d@%d", b, S.where[b]);
                        if (e2e_sim_record(&S.host[S.where[b]], buds_def[b].address, (enum key) k, &r) == 0)
                                print_record(who, &r);
                }
        }
        for (int h = 0; h < HOSTS; h++) {
                char *status = NULL;

                if (e2e_call(&S.host[h], "Status", &status, NULL, NULL) == 0)
                        printf("host %d status: %s\n", h, status);
                free(status);
        }
}

static void check_conflicts(void) {
        for (int h = 0; h < HOSTS && !S.failed; h++) {
                char *json = NULL;
                cJSON *arr, *c;
                unsigned per_key[KEY_MAX + 1] = { 0 };

                if (e2e_call(&S.host[h], "ListConflicts", &json, NULL, NULL) < 0) {
                        failf("host %d: ListConflicts failed", h);
                        return;
                }
                arr = cJSON_Parse(json);
                cJSON_ArrayForEach(c, arr) {
                        struct record kept, lost;
                        const struct edit *ek, *el;
                        enum key key;

                        if (key_from_name(cJSON_GetStringValue(cJSON_GetObjectItem(c, "key")), &key) == 0 &&
                            ++per_key[key] > CONFLICT_LIMIT)
                                failf("host %d: more than %d %s conflicts", h, CONFLICT_LIMIT, key_name(key));
                        if (recjson_record_from(cJSON_GetObjectItem(c, "kept"), &kept, NULL) < 0 ||
                            recjson_record_from(cJSON_GetObjectItem(c, "lost"), &lost, NULL) < 0)
                                continue;
                        ek = edit_by_value(&kept.value);
                        el = edit_by_value(&lost.value);
                        /* the simulation's exception (docs/simulation.md): a change on
                         * the Buds this host took in, still to send, and a later one
                         * on the same Buds made while they were with another host;
                         * no record says which Buds made a change, so this host cannot
                         * tell it from anyone's (seed 1796214363 met it) */
                        if (ek && el && el->kind == O_BUDS && ek->kind == O_BUDS && ek->where != h) {
                                S.excepted[0]++;
                                continue;
                        }
                        /* the same when the later change was made with this host
                         * but taken in by another (the Buds moved before this
                         * host read it): stamped there, it reached this host
                         * from the server, with nothing that says what it was
                         * made on (seed 766828895 met it) */
                        if (ek && el && el->kind == O_BUDS && ek->kind == O_BUDS && ek->who == el->who &&
                            kept.stamp.origin != lost.stamp.origin &&
                            strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(c, "lost_from")) ?: "", "bridge") == 0 &&
                            strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(c, "kept_from")) ?: "", "server") == 0) {
                                S.excepted[0]++;
                                continue;
                        }
                        /* the same, the other way round: the Buds, with another
                         * host, took that host's newer intent over the first
                         * change, and the second was made on it; the first lost
                         * to that intent (seed 1796223930 met it) */
                        if (ek && el && el->kind == O_BUDS && ek->kind == O_BUDS && el->overwritten &&
                            (size_t) (ek - S.edits) >= el->overwritten) {
                                S.excepted[1]++;
                                continue;
                        }
                        if (ek && el && ek != el && ek->kind == el->kind && ek->who == el->who && ek > el &&
                            ek->kind != O_PHONE) {
                                char *entry = cJSON_PrintUnformatted(c);

                                failf("host %d: a false conflict: lost %s to a later edit of the same %s %d "
                                      "(edits %td and %td, the Buds with hosts %d and %d): %s", h,
                                      lost.value.key == KEY_PROFILE ? lost.value.profile.name : "an EQ",
                                      el->kind == O_HOST ? "host" : "buds", el->who, el - S.edits, ek - S.edits,
                                      el->where, ek->where, entry ? entry : "?");
                                free(entry);
                        }
                }
                cJSON_Delete(arr);
                free(json);
        }
}

static void check_newest_wins(void) {
        for (int k = KEY_MIN; k <= KEY_MAX && !S.failed; k++) {
                struct record fin;

                if (server_intent((enum key) k, &fin) < 0)
                        continue;
                for (size_t i = 0; i < S.n_edits; i++) {
                        const struct edit *ed = &S.edits[i];

                        if (ed->v.key != (enum key) k || !ed->stamped || (ed->kind == O_PHONE && !ed->accepted))
                                continue;
                        if (stamp_cmp(ed->stamp, fin.stamp) > 0)
                                failf("newer lost: an edit of %s stamped %" PRIx64 "/%016" PRIx64 " is newer than the "
                                      "final intent (%" PRIx64 "/%016" PRIx64 ")", key_name((enum key) k),
                                      ed->stamp.hlc, ed->stamp.origin, fin.stamp.hlc, fin.stamp.origin);
                }
        }
}

int main(void) {
        const char *sec = getenv("SOAK_SECONDS"), *seed = getenv("SOAK_SEED"), *quiet = getenv("SOAK_QUIET_SECONDS");
        uint64_t seconds = sec ? strtoull(sec, NULL, 10) : 60, end;
        /* a final server error cools a bridge down 5 s, doubling while they
         * follow each other: the bound leaves room for a few in a row */
        uint64_t quiet_sec = quiet ? strtoull(quiet, NULL, 10) : 120;
        int r;

        S.seed = seed ? strtoull(seed, NULL, 0) : (uint64_t) time(NULL);
        S.rng = S.seed * UINT64_C(0x9e3779b97f4a7c15) + 1;
        printf("soak: seed %" PRIu64 ", %" PRIu64 " s, %d hosts, %d Buds\n", S.seed, seconds, HOSTS, BUDS);
        fflush(stdout);
        /* syncd's push limit at half its default, so that the run meets
         * whole windows in which every push of the account is refused (429);
         * SOAK_PUSH_LIMIT=N sets another (docs/simulation.md) */
        r = e2e_start_with_server_args(&S.host[0], false,
                                       (const char *const[]) { "--max-pushes-per-minute",
                                                               getenv("SOAK_PUSH_LIMIT") ?: "60", NULL });
        for (int i = 1; r == 0 && i < HOSTS; i++)
                r = e2e_start_host(&S.host[i], &S.host[0], false);
        for (int b = 0; r == 0 && b < BUDS; b++) {
                S.where[b] = b % HOSTS;
                r = e2e_sim_add_buds(&S.host[S.where[b]], buds_def[b].address, buds_def[b].name,
                                     buds_def[b].family, buds_def[b].id);
        }
        if (r == 77 || r == -ENOENT) {
                printf("SKIP soak: the rig could not start (%s)\n", strerror(-r));
                return 77;
        }
        if (r < 0) {
                fprintf(stderr, "soak: cannot start: %s\n", strerror(-r));
                return 1;
        }
        end = e2e_now_usec() + seconds * 1000000;
        while (e2e_now_usec() < end && !S.failed)
                step();
        /* the faults stop; everything is up */
        for (int b = 0; b < BUDS; b++)
                (void) e2e_sim(&S.host[S.where[b]], "ClearFaults", NULL, "s", buds_def[b].address);
        {
                struct harness_resp resp = { 0 };

                (void) harness_request(&S.host[0].server, "DELETE", "/test/faults", NULL, NULL, NULL, &resp);
                harness_resp_clear(&resp);
        }
        for (int h = 0; h < HOSTS; h++)
                if (S.host[h].bridged <= 0)
                        failf("host %d: bridged is not running at the end (it died)", h);
        if (!S.failed && !wait_quiet(quiet_sec * 1000000)) {
                failf("liveness: not converged %" PRIu64 " s after the faults stopped: %s", quiet_sec, quiet_why);
                dump();
        }
        if (!S.failed)
                check_newest_wins();
        if (!S.failed)
                check_conflicts();
        for (int h = HOSTS - 1; h >= 0; h--) {
                int st = S.host[h].bridged > 0 ? e2e_bridged_stop(&S.host[h], SIGTERM) : 0;

                if (st != 0 && !S.failed)
                        failf("host %d: bridged did not exit cleanly on SIGTERM (status %d)", h, st);
                e2e_stop(&S.host[h]);
        }
        printf("soak: %zu edits;", S.n_edits);
        for (int a = 0; a < _A_MAX; a++)
                printf(" %u %s%s", S.counts[a], action_names[a], a + 1 < _A_MAX ? "," : "\n");
        if (S.failed) {
                printf("FAIL soak (seed %" PRIu64 "): %s\nthe last actions:\n", S.seed, S.why);
                for (unsigned i = S.n_last > 8 ? S.n_last - 8 : 0; i < S.n_last; i++)
                        printf("  %s\n", S.last[i % 8]);
                printf("replay the same choices: SOAK_SEED=%" PRIu64 " make soak (timing differs)\n", S.seed);
                return 1;
        }
        printf("FIGURE soak converged %.1f s after the faults stopped (%zu edits, %u kills)\n",
               (double) quiet_after_usec / 1e6, S.n_edits, S.counts[A_KILL_BRIDGED] + S.counts[A_KILL_SYNCD]);
        if (S.excepted[0] || S.excepted[1])
                printf("soak: conflict entries between two changes of the same Buds allowed (docs/simulation.md): "
                       "%u the later taken in by another host, %u the earlier overwritten with another host\n",
                       S.excepted[0], S.excepted[1]);
        printf("PASS soak: converged, newest wins, no false conflicts, every process alive\n");
        return 0;
}
