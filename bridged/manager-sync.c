/* SPDX-License-Identifier: MIT */
/* The manager's sync loop against the server: pull (all pages), then push
 * what the engine queued, then wait on the long poll (or the pull interval);
 * debounce before a push and cool down after an error the uplink does not
 * retry. manager_kick() is the one place that decides what comes next. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>

#include "common/event-timer.h"
#include "log.h"
#include "manager-private.h"
#include "sync-loop.h"

#define WAIT_TIMEOUT_SEC 60
#define COOLDOWN_MIN_USEC (5 * UINT64_C(1000000))
#define COOLDOWN_MAX_USEC (300 * UINT64_C(1000000))
/* A pull gets the newest record of each of five items, at most 1,000 a
 * page: a server that says "more" this many pages in a row is looping. */
#define PULL_PAGES_MAX 64
/* Long polls answered sooner than WAIT_QUICK_USEC, WAIT_QUICK_FREE times in
 * a row, space the next ones: 0.5 s doubling to the long poll's timeout. */
#define WAIT_QUICK_USEC (1 * UINT64_C(1000000))
#define WAIT_QUICK_FREE 3
#define WAIT_PACE_MIN_USEC (UINT64_C(500000))

static void halt(struct manager *m, const char *why) {
        if (!m->halted)
                log_error("Syncing stopped: %s", why);
        manager_set_string(&m->halted, why);
        manager_notify_properties(m);
}

static bool cooling(struct manager *m) {
        return event_source_is_armed(m->cooldown);
}

static int on_cooldown(sd_event_source *s, uint64_t usec, void *userdata) {
        (void) usec;
        (void) sd_event_source_set_enabled(s, SD_EVENT_OFF);
        manager_kick(userdata);
        return 0;
}

/* The Sync() call in flight, if any, ends with its first failure. */
static void sync_failed(struct manager *m, int r, const char *message) {
        if (m->sync && !m->sync->error) {
                m->sync->error = r;
                m->sync->message = xstrdup(message);
        }
}

/* An error the uplink does not retry (an answer the API does not define, a
 * refused cursor, records that cannot be stored, a stamp the server finds in
 * the future...): the loop waits, 5 s doubling to 5 min, rather than spin,
 * and a Sync() in flight ends with that error — a Sync never goes round
 * faster than the background loop. */
static void cool_down(struct manager *m, int r, const char *message) {
        sync_failed(m, r, message);
        m->cooldown_usec = m->cooldown_usec ? m->cooldown_usec * 2 : COOLDOWN_MIN_USEC;
        if (m->cooldown_usec > COOLDOWN_MAX_USEC)
                m->cooldown_usec = COOLDOWN_MAX_USEC;
        (void) event_reset_time_relative(m->event, &m->cooldown, CLOCK_MONOTONIC, m->cooldown_usec, 0, on_cooldown,
                                         m);
}

/* A final error of a server call (the uplink retried what can be retried).
 * A Sync() in flight ends with it if the call was the Sync's own (a pull or
 * a push); a long poll begun before the Sync does not answer for it, the
 * Sync's own pull does (a refused cursor on the long poll, then a pull that
 * succeeds, is a Sync that succeeded). */
static void server_error(struct manager *m, int r, const char *what, const char *message, bool ends_sync) {
        if (!m->sync)
                cool_down(m, r, message);
        m->c.syncs_failed++;
        manager_set_string(&m->last_error, message);
        if (ends_sync)
                sync_failed(m, r, message);
        switch (r) {
        case -EACCES:
                halt(m, "the server refused the token (401); install a new token and reload bridged (SIGHUP)");
                break;
        case -EPROTONOSUPPORT:
                halt(m, "the server requires a newer schema than this bridged speaks; upgrade bridged");
                break;
        default:
                log_warning("%s failed: %s", what, message);
                break;
        }
        manager_notify_properties(m);
}

/* Long polls answered at once are explained (news pulled, a push of ours
 * applied): no doubling. Past WAIT_QUICK_FREE in a row they are still no
 * closer than WAIT_PACE_MIN_USEC: a server that sends the same item stamped
 * a step newer every time brings news every time (and a busy account's news
 * waits half a second at most). */
static void wait_unpace(struct manager *m) {
        uint64_t soonest = manager_now_usec(m) + WAIT_PACE_MIN_USEC;

        if (m->quick_waits > WAIT_QUICK_FREE)
                m->quick_waits = WAIT_QUICK_FREE;
        if (m->wait_not_before_usec > soonest)
                m->wait_not_before_usec = soonest;
}

/* The server said "more" PULL_PAGES_MAX times in a row: what it took is
 * kept (each page was valid), the rest comes after a cool-down. */
static void pull_runaway(struct manager *m) {
        char why[160];

        (void) snprintf(why, sizeof(why), "the server said \"more\" on %u pull pages in a row; pulling the rest "
                        "after a pause", PULL_PAGES_MAX);
        log_warning("Pulling from the server: %s.", why);
        m->pull_pages = 0;
        m->c.syncs_failed++;
        manager_set_string(&m->last_error, why);
        cool_down(m, -EPROTO, why);
        manager_notify_properties(m);
}

static void on_pulled(struct uplink *u, int r, const char *error, const struct uplink_pull_reply *p, void *userdata) {
        struct manager *m = userdata;
        struct engine_outcome o;

        (void) u;
        m->pull_id = 0;
        if (r == -EBADMSG) {
                char *cursor = NULL;

                (void) store_cursor_get(m->store, &cursor);
                if (cursor && !m->cursor_forgotten) {
                        /* the server does not know our cursor (reset, moved, restored from a
                         * backup): start over, and offer again what it no longer has. Once
                         * a round: a second refusal before the round ends (a server that
                         * refuses the cursors it gives) is an error and its cool-down,
                         * after which the next refusal starts over again */
                        log_warning("The server refused the sync cursor (%s); pulling everything again, then "
                                    "pushing what the server no longer holds.", error);
                        engine_outcome_reset(&o);
                        r = engine_server_forget(m->engine, &o);
                        if (r < 0) {
                                manager_cache_failed(m, r, "forgetting the server's copies");
                                m->c.syncs_failed++;
                                cool_down(m, r, "forgetting the server's copies failed (see the log)");
                        } else {
                                manager_carry_out(m, &o);
                                m->cursor_forgotten = true;
                                m->pull_pages = 0;
                        }
                        m->pull_wanted = true;
                } else {
                        server_error(m, r, "Pulling from the server", error, true);
                        m->pull_wanted = !m->halted;
                        m->cursor_forgotten = false;
                }
                free(cursor);
        } else if (r < 0) {
                server_error(m, r, "Pulling from the server", error, true);
                m->pull_wanted = !m->halted;
        } else {
                engine_outcome_reset(&o);
                r = engine_server_records(m->engine, p->records, p->n, p->cursor, &o);
                if (r < 0) {
                        char why[128];

                        manager_cache_failed(m, r, "storing records from the server");
                        (void) snprintf(why, sizeof(why), "storing %zu records from the server failed: %s", p->n,
                                        strerror(-r));
                        m->c.syncs_failed++;
                        m->pull_wanted = true;
                        cool_down(m, r, why);
                } else {
                        uint64_t t = manager_now_usec(m);
                        for (unsigned i = 0; i < o.n_writes; i++) {
                                struct mbuds *b = manager_find_buds(m, o.writes[i].address);
                                if (b)
                                        b->item[o.writes[i].rec.value.key].from_server_usec = t;
                        }
                        m->c.pulled += p->n;
                        m->c.syncs_ok++;
                        if (!p->more) {
                                /* a round ended: a runaway's cool-down (pull_runaway) grows
                                 * across rounds that never do */
                                m->cooldown_usec = 0;
                                m->cursor_forgotten = false;
                        }
                        manager_set_string(&m->last_error, NULL);       /* the server answers again */
                        if (m->sync)
                                m->sync->pulled += (unsigned) p->n;
                        manager_carry_out(m, &o);
                        m->pull_wanted = p->more;
                        if (!p->more)
                                m->pulled_since_online = true;
                        if (o.server_news > 0 || o.restamped_future > 0)
                                wait_unpace(m);         /* the long polls answered at once had news */
                        m->pull_pages = p->more ? m->pull_pages + 1 : 0;
                        if (m->pull_pages >= PULL_PAGES_MAX)
                                pull_runaway(m);
                }
        }
        manager_kick(m);
}

static void start_pull(struct manager *m) {
        char *cursor = NULL;
        int r;

        m->pull_wanted = false;
        (void) store_cursor_get(m->store, &cursor);
        r = uplink_pull(m->uplink, cursor, UPLINK_PULL_LIMIT_MAX, m->sync ? UPLINK_NO_RETRY : 0, on_pulled, m,
                        &m->pull_id);
        free(cursor);
        if (r < 0) {
                log_error_errno(r, "Cannot start a pull: %m");
                return;
        }
        manager_notify_properties(m);
}

static enum engine_push_status push_status(const struct uplink_push_result *r) {
        switch (r->status) {
        case UPLINK_PUSH_APPLIED:
                return ENGINE_PUSH_APPLIED;
        case UPLINK_PUSH_STALE:
                return ENGINE_PUSH_STALE;
        case UPLINK_PUSH_REJECTED:
                break;
        }
        return r->reason == UPLINK_REJECT_FUTURE_STAMP ? ENGINE_PUSH_REJECTED_FUTURE : ENGINE_PUSH_REJECTED_INVALID;
}

static void push_latency(struct manager *m, enum key key) {
        for (struct mbuds *b = m->buds; b; b = b->next)
                if (b->item[key].changed_usec) {
                        manager_path_done(m, &b->item[key]);
                        latency_add(&m->buds_to_server, (uint32_t) ((manager_now_usec(m) - b->item[key].changed_usec) / 1000));
                        b->item[key].changed_usec = 0;
                }
}

static void take_push_reply(struct manager *m, const struct uplink_push_reply *p) {
        struct engine_push_result res[16];
        struct engine_outcome o;
        unsigned applied = 0;
        int r;

        if (p->n > sizeof(res) / sizeof(res[0])) {
                log_error("The server answered %zu results to a push of at most 16 records.", p->n);
                return;
        }
        for (size_t i = 0; i < p->n; i++) {
                res[i] = (struct engine_push_result) { .key = p->results[i].key, .family = p->results[i].family,
                                                       .status = push_status(&p->results[i]),
                                                       .current = p->results[i].current };
                if (res[i].status == ENGINE_PUSH_APPLIED) {
                        applied++;
                        push_latency(m, res[i].key);
                } else if (res[i].status == ENGINE_PUSH_REJECTED_INVALID) {
                        log_struct(LOG_ERR, LOG_FIELDS("ITEM", key_name(res[i].key)),
                                   "The server rejected %s (%s) as invalid; it stays here but is not offered again.",
                                   key_name(res[i].key), family_name(res[i].family));
                } else if (res[i].status == ENGINE_PUSH_REJECTED_FUTURE) {
                        log_warning("The server finds the stamp of %s in the future: this host's clock is ahead of "
                                    "the server's. It is offered again later.", key_name(res[i].key));
                }
        }
        engine_outcome_reset(&o);
        r = engine_push_done(m->engine, res, p->n, &o);
        if (r < 0) {
                manager_cache_failed(m, r, "taking the push's answer");
                /* the same key would bring the same answer: after a few, send anew */
                if (++m->push_unusable >= 3) {
                        log_warning("Giving up the push in flight after %u unusable answers; its records go "
                                    "again under a new key.", m->push_unusable);
                        (void) engine_push_forget(m->engine);
                        m->push_unusable = 0;
                }
                m->push_wanted = true;
                m->c.syncs_failed++;
                cool_down(m, r, "the server's answer to the push could not be taken (see the log)");
                return;
        }
        m->push_unusable = 0;
        if (applied > 0)
                wait_unpace(m);         /* our own change ends the long poll at once */
        for (size_t i = 0; i < p->n && !o.clock_restarted; i++)
                if (res[i].status == ENGINE_PUSH_REJECTED_FUTURE) {
                        /* offered again later, not at once (unless the engine found our
                         * clock back from a step ahead and stamped them anew) */
                        cool_down(m, -ERANGE, "the server finds a stamp of this host in the future: this host's "
                                              "clock is ahead of the server's; the edit is offered again later");
                        break;
                }
        m->c.pushed += applied;
        m->c.syncs_ok++;
        m->cooldown_usec = 0;
        manager_set_string(&m->last_error, NULL);       /* the server answers again */
        if (m->sync)
                m->sync->pushed += applied;
        manager_carry_out(m, &o);
}

static void on_pushed(struct uplink *u, int r, const char *error, const struct uplink_push_reply *p, void *userdata) {
        struct manager *m = userdata;

        (void) u;
        m->push_id = 0;
        if (r == -EEXIST) {
                log_error("The server saw the push's Idempotency-Key with another body (%s); sending it again "
                          "under a new key.", error);
                (void) engine_push_forget(m->engine);
                m->push_wanted = true;
        } else if (r == -EBADMSG) {
                server_error(m, r, "Pushing to the server", error, true);
                halt(m, "the server refused a push as malformed (400); this is a bug, see the log");
        } else if (r < 0) {
                server_error(m, r, "Pushing to the server", error, true);
                m->push_wanted = !m->halted;
        } else {
                take_push_reply(m, p);
        }
        manager_kick(m);
}

/* The changes noticed on the Buds that this push carries left at now (taken
 * before uplink_push(), which sends the request at once). */
static void path_push_issued(struct manager *m, uint64_t now) {
        for (struct mbuds *b = m->buds; b; b = b->next)
                for (int k = KEY_MIN; k <= KEY_MAX; k++)
                        if (b->item[k].path.engine && !b->item[k].path.push)
                                b->item[k].path.push = now;
}

static void start_push(struct manager *m) {
        struct record *recs = NULL;
        char *key = NULL;
        uint64_t issued;
        size_t n;
        int r;

        m->push_wanted = false;
        r = engine_push_next(m->engine, &key, &recs, &n);
        if (r == -ENOENT)
                return;
        if (r < 0) {
                manager_cache_failed(m, r, "preparing a push");
                return;
        }
        issued = manager_clock_usec();
        r = uplink_push(m->uplink, key, engine_node_id(m->engine), recs, n, m->sync ? UPLINK_NO_RETRY : 0,
                        on_pushed, m, &m->push_id);
        free(recs);
        free(key);
        if (r < 0) {
                log_error_errno(r, "Cannot start a push: %m");
                return;
        }
        path_push_issued(m, issued);
        manager_notify_properties(m);
}

/* A server that answers every long poll at once (204, or 200 with nothing
 * new to pull) would have the loop go round as fast as it answers: the next
 * long polls are spaced, until one waits, a pull brings news or a push of
 * ours is applied (a busy account answers at once too, and its changes must
 * not wait). */
static void wait_pace(struct manager *m) {
        uint64_t now = manager_now_usec(m), delay;
        unsigned over;

        if (now - m->wait_started_usec >= WAIT_QUICK_USEC) {
                m->quick_waits = 0;
                m->wait_paced = false;
                return;
        }
        if (++m->quick_waits < WAIT_QUICK_FREE)
                return;
        over = m->quick_waits - WAIT_QUICK_FREE;
        delay = WAIT_PACE_MIN_USEC << (over < 10 ? over : 10);
        if (delay > (uint64_t) (m->opts.wait_timeout_sec ?: WAIT_TIMEOUT_SEC) * 1000000)
                delay = (uint64_t) (m->opts.wait_timeout_sec ?: WAIT_TIMEOUT_SEC) * 1000000;
        if (!m->wait_paced)
                log_info("The server answered %u long polls in a row at once; spacing them (%" PRIu64 " ms, "
                         "doubling) until one waits.", m->quick_waits, delay / 1000);
        m->wait_paced = true;
        m->wait_not_before_usec = now + delay;
}

static int on_wait_pace(sd_event_source *s, uint64_t usec, void *userdata) {
        (void) usec;
        (void) sd_event_source_set_enabled(s, SD_EVENT_OFF);
        manager_kick(userdata);
        return 0;
}

static void on_waited(struct uplink *u, int r, const char *error, const struct uplink_wait_reply *w, void *userdata) {
        struct manager *m = userdata;

        (void) u;
        m->wait_id = 0;
        wait_pace(m);
        if (r < 0) {
                server_error(m, r, "Waiting for changes on the server", error, false);
                /* a cursor the server refuses: the pull (after the cool-down) starts over */
                if (r == -EBADMSG)
                        m->pull_wanted = true;
        } else if (w->changed) {
                m->pull_wanted = true;
        }
        manager_kick(m);
}

static void start_wait(struct manager *m) {
        char *cursor = NULL;
        int r;

        if (manager_now_usec(m) < m->wait_not_before_usec) {
                /* armed again each time: wait_unpace may have brought the time nearer */
                (void) event_reset_time(m->event, &m->wait_pace, CLOCK_MONOTONIC, m->wait_not_before_usec, 0,
                                        on_wait_pace, m);
                return;
        }
        if (store_cursor_get(m->store, &cursor) < 0 || !cursor) {
                free(cursor);
                m->pull_wanted = true;
                return;
        }
        m->wait_started_usec = manager_now_usec(m);
        r = uplink_wait(m->uplink, cursor, m->opts.wait_timeout_sec ?: WAIT_TIMEOUT_SEC, 0, on_waited, m,
                        &m->wait_id);
        free(cursor);
        if (r < 0)
                log_error_errno(r, "Cannot start the long poll: %m");
}

static bool debouncing(struct manager *m) {
        return event_source_is_armed(m->debounce);
}

static void sync_loop_state_of(struct manager *m, struct sync_loop_state *ret) {
        *ret = (struct sync_loop_state) {
                .stopping = m->stopping,
                .halted = m->halted,
                .pulling = m->pull_id,
                .pushing = m->push_id,
                .sync_call = m->sync,
                .sync_call_failed = m->sync && m->sync->error,
                .cooling = cooling(m),
                .debouncing = debouncing(m),
                .pull_wanted = m->pull_wanted,
                .push_wanted = m->push_wanted,
                .pulled_since_online = m->pulled_since_online,
                .long_poll = m->conf->long_poll,
                .waiting = m->wait_id,
        };
}

/* Carries out what sync_loop_next() decides. A call that cannot start has
 * cleared its wish (start_pull, start_push), so the loop goes on to the next
 * step and ends. */
void manager_kick(struct manager *m) {
        struct sync_loop_state s;

        for (;;) {
                sync_loop_state_of(m, &s);
                switch (sync_loop_next(&s)) {
                case SYNC_LOOP_NOTHING:
                        return;
                case SYNC_LOOP_BUSY:
                        manager_sync_finish(m);
                        return;
                case SYNC_LOOP_PULL:
                        start_pull(m);
                        if (m->pull_id)
                                return;
                        continue;
                case SYNC_LOOP_PUSH:
                        start_push(m);
                        if (m->push_id)
                                return;
                        continue;
                case SYNC_LOOP_IDLE:
                        manager_sync_finish(m);
                        sync_loop_state_of(m, &s);      /* a Sync() call may have ended */
                        if (sync_loop_should_wait(&s))
                                start_wait(m);
                        manager_notify_properties(m);
                        return;
                }
        }
}

static int on_debounce(sd_event_source *s, uint64_t usec, void *userdata) {
        (void) s;
        (void) usec;
        (void) sd_event_source_set_enabled(s, SD_EVENT_OFF);
        manager_kick(userdata);
        return 0;
}

void manager_schedule_push(struct manager *m) {
        m->push_wanted = true;
        if (m->conf->push_debounce_ms > 0 && !m->sync && !debouncing(m)) {
                uint64_t when = manager_now_usec(m) + (uint64_t) m->conf->push_debounce_ms * MANAGER_USEC_PER_MSEC;
                (void) event_reset_time(m->event, &m->debounce, CLOCK_MONOTONIC, when, 0, on_debounce, m);
                return;
        }
        manager_kick(m);
}

/* LongPoll=no: pull every PullIntervalSec. */
int manager_on_interval(sd_event_source *s, uint64_t usec, void *userdata) {
        struct manager *m = userdata;

        (void) sd_event_source_set_time(s, usec + (uint64_t) m->conf->pull_interval_sec * 1000000);
        m->pull_wanted = true;
        manager_kick(m);
        return 0;
}

static void on_uplink_state(struct uplink *u, bool online, const char *last_error, void *userdata) {
        struct manager *m = userdata;

        (void) u;
        if (online != m->online)
                log_info(online ? "The server is reachable." : "The server is unreachable: %s; changes wait in the "
                         "outbox.", last_error ? last_error : "");
        if (!online) {
                m->pulled_since_online = false;
                m->pull_wanted = true;  /* on return: pull first, then push what still wins */
                manager_set_string(&m->last_error, last_error);
        }
        m->online = online;
        manager_notify_properties(m);
        /* back online through any call (a long poll's retry, the registry):
         * the pull that pushes wait for starts now, not at the next event */
        if (online)
                manager_kick(m);
}

const struct uplink_ops manager_uplink_ops = { .state = on_uplink_state };
