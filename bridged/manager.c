/* SPDX-License-Identifier: MIT */
/* The bridge at work (see manager.h): its life (new, reload, free) and the
 * state a person sees. The parts live beside it, sharing manager-private.h:
 * the Buds (manager-buds.c), the sync loop (manager-sync.c), the device
 * registry (manager-registry.c), the one-shot Sync() (manager-sync-call.c)
 * and the control API's answers (control-json.c). Never blocks: every wait is
 * an sd-event source or an async call. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/buds-address.h"
#include "common/errmsg.h"
#include "common/random.h"
#include "log.h"
#include "manager-private.h"

uint64_t manager_now_usec(struct manager *m) {
        uint64_t t = 0;

        (void) sd_event_now(m->event, CLOCK_MONOTONIC, &t);
        return t;
}

/* The clock itself, not the loop's time of this iteration: the steps of
 * the path profile follow one another within one iteration. */
uint64_t manager_clock_usec(void) {
        struct timespec ts;

        (void) clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000 + (uint64_t) ts.tv_nsec / 1000;
}

const char *manager_path_step_name(enum path_step s) {
        switch (s) {
        case PATH_READ:
                return "read";
        case PATH_ENGINE:
                return "engine";
        case PATH_COMMIT:
                return "commit";
        case PATH_WRITE_ISSUED:
                return "write_issued";
        case PATH_PUSH_ISSUED:
                return "push_issued";
        case PATH_PUSH_ANSWERED:
                return "push_answered";
        case PATH_WRITE_ANSWERED:
                return "write_answered";
        case _PATH_STEP_MAX:
                break;
        }
        return NULL;
}

static void path_add(struct manager *m, enum path_step s, uint64_t from, uint64_t to) {
        if (from && to >= from)
                latency_add(&m->path[s], (uint32_t) (to - from));
}

void manager_path_done(struct manager *m, struct mitem *it) {
        const struct path_times *p = &it->path;

        /* a change seen only by a read (no notification), or one whose
         * read came before it was noticed, has no whole path */
        if (p->read && p->engine && p->push && p->read >= it->changed_usec) {
                path_add(m, PATH_READ, it->changed_usec, p->read);
                path_add(m, PATH_ENGINE, p->read + p->commit_usec, p->engine);
                latency_add(&m->path[PATH_COMMIT], (uint32_t) p->commit_usec);
                path_add(m, PATH_WRITE_ISSUED, p->engine, p->write);
                path_add(m, PATH_PUSH_ISSUED, p->engine, p->push);
                path_add(m, PATH_PUSH_ANSWERED, p->push, manager_clock_usec());
        }
        it->path = (struct path_times) { 0 };
}

uint64_t manager_wall_ms(void *userdata) {
        struct timespec ts;

        (void) userdata;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}

void manager_set_string(char **p, const char *s) {
        free(*p);
        *p = xstrdup(s);
}

void manager_notify_properties(struct manager *m) {
        if (m->ops.properties)
                m->ops.properties(m->userdata);
}

void manager_cache_failed(struct manager *m, int r, const char *what) {
        _cleanup_free_ char *damage = NULL;
        char why[512];

        if (m->cache_damaged)
                return;
        /* damaged (a table gone, a bad page): no later step mends it */
        m->cache_damaged = store_check(m->store, &damage) < 0;
        if (m->cache_damaged)
                (void) snprintf(why, sizeof(why), "%s; stop bridged, move the cache away and start it again",
                                damage ? damage : "the cache is damaged");
        else
                (void) snprintf(why, sizeof(why), "the cache %s failed: %s (%s)", store_path(m->store), what,
                                strerror(r < 0 ? -r : r));
        if (!m->cache_error || strcmp(m->cache_error, why) != 0)
                log_error("State error: %s.", why);
        manager_set_string(&m->cache_error, why);
        manager_notify_properties(m);
}

enum manager_state manager_state(const struct manager *m) {
        if (m->halted || m->cache_error)
                return MANAGER_ERROR;
        if (!m->online)
                return MANAGER_OFFLINE;
        if (m->pull_id || m->push_id)
                return MANAGER_SYNCING;
        return MANAGER_IDLE;
}

void manager_tidy(struct manager *m) {
        (void) store_checkpoint(m->store);     /* off the engine steps' commits; see store.h */
        store_release_memory(m->store);
}

const char *manager_state_name(enum manager_state s) {
        switch (s) {
        case MANAGER_IDLE:
                return "idle";
        case MANAGER_SYNCING:
                return "syncing";
        case MANAGER_OFFLINE:
                return "offline";
        case MANAGER_ERROR:
                return "error";
        }
        return "error";
}

bool manager_online(const struct manager *m) { return m->online; }

unsigned manager_pending(struct manager *m) { return store_pending_count(m->store); }

unsigned manager_conflicts(struct manager *m) { return store_conflict_count(m->store); }

const char *manager_status_line(struct manager *m) {
        unsigned ready = 0;

        for (struct mbuds *b = m->buds; b; b = b->next)
                ready += b->ready;
        (void) snprintf(m->status_line, sizeof(m->status_line), "%s%s; %u Buds connected; %u pending; %u conflicts",
                        manager_state_name(manager_state(m)),
                        m->halted || m->cache_error ? " (see the log)" : "", ready, manager_pending(m),
                        manager_conflicts(m));
        return m->status_line;
}

struct mbuds *manager_find_buds(struct manager *m, const char *address) {
        for (struct mbuds *b = m->buds; b; b = b->next)
                if (buds_address_equal(b->address, address))
                        return b;
        return NULL;
}

static int make_uplink(struct manager *m, const char *token, struct uplink **ret, char **ret_error) {
        struct uplink_config cfg = {
                .url = m->conf->url, .token = token, .ca_file = m->conf->ca_file,
                .pinned_public_key = m->conf->pinned_public_key,
                .backoff_min_usec = m->opts.uplink_backoff_min_usec,
                .backoff_max_usec = m->opts.uplink_backoff_max_usec,
        };

        return uplink_new(m->event, &cfg, &manager_uplink_ops, m, ret, ret_error);
}

static int make_bluez(struct manager *m, struct bluez **ret) {
        struct bluez_config cfg = {
                .address = m->conf->buds_address, .adapter = m->conf->adapter,
                .backoff_min_usec = m->opts.bluez_backoff_min_usec,
                .backoff_max_usec = m->opts.bluez_backoff_max_usec,
        };
        struct store_buds *all = NULL;
        size_t n = 0;
        int r = bluez_new(m->bus, m->event, &cfg, &manager_bluez_ops, m, ret);

        /* Buds Info we know already need not be read again on every connect */
        if (r == 0 && store_buds_list(m->store, &all, &n) == 0)
                for (size_t i = 0; i < n; i++)
                        if (all[i].buds_id && all[i].family != FAMILY_ANY)
                                (void) bluez_remember_buds(*ret, all[i].address,
                                                           &(struct buds_info) { .protocol = 1,
                                                                                 .family = (uint8_t) all[i].family,
                                                                                 .buds_id = all[i].buds_id });
        free(all);
        return r;
}

int manager_new(sd_event *event, sd_bus *bus, const char *state_dir, const struct conf *conf, const char *token,
                const struct manager_options *opts, const struct manager_ops *ops, void *userdata,
                struct manager **ret, char **ret_error, bool *ret_config_error) {
        struct engine_config ecfg = { .max_clock_skew_sec = conf->max_clock_skew_sec,
                                      .conflict_log_limit = conf->conflict_log_limit, .now_ms = manager_wall_ms };
        struct manager *m = calloc(1, sizeof(*m));
        int r;

        *ret_error = NULL;
        if (!m)
                return -ENOMEM;
        m->event = sd_event_ref(event);
        m->bus = sd_bus_ref(bus);
        m->opts = opts ? *opts : (struct manager_options) { 0 };
        m->ops = *ops;
        m->userdata = userdata;
        m->started_usec = manager_now_usec(m);
        m->rng = random_seed((uintptr_t) m);
        /* the state directory and the server settings are the configuration's
         * (exit 78); anything after them is not */
        *ret_config_error = true;
        r = conf_dup(conf, &m->conf);
        if (r == 0) {
                r = store_open(state_dir, &m->store, ret_error);
                /* no space, I/O, a lock: exit 1, which the unit restarts */
                if (r < 0 && !store_error_is_lasting(r))
                        *ret_config_error = false;
        }
        if (r == 0)
                r = make_uplink(m, token, &m->uplink, ret_error);
        if (r == 0) {
                *ret_config_error = false;
                r = engine_new(m->store, &ecfg, &m->engine, ret_error);
        }
        if (r == 0) {
                r = make_bluez(m, &m->bluez);
                if (r < 0)
                        (void) errmsg_setf(ret_error, r, "cannot follow BlueZ: %s", strerror(-r));
        }
        if (r == 0)
                r = sd_event_add_time_relative(event, &m->interval, CLOCK_MONOTONIC,
                                               (uint64_t) m->conf->pull_interval_sec * 1000000, 0, manager_on_interval, m);
        /* idle is asleep: with the long poll, no timer of our own runs */
        if (r == 0)
                r = sd_event_source_set_enabled(m->interval, m->conf->long_poll ? SD_EVENT_OFF : SD_EVENT_ON);
        if (r < 0) {
                manager_free(m);
                return r;
        }
        /* a clock left ahead by a wall clock stepped back while bridged was
         * stopped: mended before anything is stamped or pushed */
        {
                struct engine_outcome o;

                engine_outcome_reset(&o);
                if (engine_check_clock(m->engine, &o) > 0)
                        manager_carry_out(m, &o);
        }
        /* start: pull first (the outbox waits for it), then the long poll */
        m->pull_wanted = true;
        m->push_wanted = store_pending_count(m->store) > 0;
        manager_registry_touch(m);
        manager_kick(m);
        *ret = m;
        return 0;
}

struct manager *manager_free(struct manager *m) {
        if (!m)
                return NULL;
        m->stopping = true;
        if (m->sync) {
                struct sync_call *s = m->sync;
                m->sync = NULL;
                s->done(-ECANCELED, NULL, "bridged is stopping", s->userdata);
                manager_sync_free(s);
        }
        while (m->buds)
                manager_buds_detach(m, m->buds);
        m->bluez = bluez_free(m->bluez);
        m->uplink = uplink_free(m->uplink);     /* runs no callback: the ids are cleared here */
        m->pull_id = m->push_id = m->wait_id = 0;
        m->registry_busy = 0;
        sd_event_source_disable_unref(m->debounce);
        sd_event_source_disable_unref(m->interval);
        sd_event_source_disable_unref(m->registry);
        sd_event_source_disable_unref(m->cooldown);
        sd_event_source_disable_unref(m->wait_pace);
        m->engine = engine_free(m->engine);
        m->store = store_close(m->store);
        m->conf = conf_free(m->conf);
        free(m->halted);
        free(m->cache_error);
        free(m->last_error);
        sd_bus_unref(m->bus);
        sd_event_unref(m->event);
        free(m);
        return NULL;
}

static bool same(const char *a, const char *b) { return (!a && !b) || (a && b && strcmp(a, b) == 0); }

int manager_reload(struct manager *m, const struct conf *conf, const char *token, char **ret_error) {
        bool server = !same(conf->url, m->conf->url) || !same(conf->ca_file, m->conf->ca_file) ||
                      !same(conf->pinned_public_key, m->conf->pinned_public_key);
        bool buds = !same(conf->buds_address, m->conf->buds_address) || !same(conf->adapter, m->conf->adapter);
        struct conf *old = m->conf, *new;
        struct uplink *u = NULL;
        struct bluez *bz = NULL;
        int r = conf_dup(conf, &new);

        *ret_error = NULL;
        if (r < 0)
                return r;
        m->conf = new;                  /* make_uplink and make_bluez read it */
        if (server)
                r = make_uplink(m, token, &u, ret_error);
        if (r == 0 && buds) {
                r = make_bluez(m, &bz);
                if (r < 0)
                        (void) errmsg_setf(ret_error, r, "cannot follow BlueZ with the new [Buds] settings: %s",
                                           strerror(-r));
        }
        if (r < 0) {
                uplink_free(u);
                m->conf = conf_free(new);
                m->conf = old;
                return r;
        }
        if (server) {
                /* drops every call without its callback: the ids and the
                 * registry round are reset here, the wishes below */
                uplink_free(m->uplink);
                m->pull_id = m->push_id = m->wait_id = 0;
                m->registry_busy = 0;
                m->uplink = u;
                m->online = false;
                m->pulled_since_online = false;
                /* what the old server's answers taught goes with it */
                m->pull_pages = 0;
                m->cursor_forgotten = false;
                m->quick_waits = 0;
                m->wait_paced = false;
                m->wait_not_before_usec = 0;
                (void) sd_event_source_set_enabled(m->wait_pace, SD_EVENT_OFF);
        } else {
                (void) uplink_set_token(m->uplink, token);
        }
        if (buds) {
                while (m->buds)
                        manager_buds_detach(m, m->buds);
                bluez_free(m->bluez);
                m->bluez = bz;
        }
        engine_set_limits(m->engine, m->conf->max_clock_skew_sec, m->conf->conflict_log_limit);
        conf_free(old);
        free(m->halted);
        m->halted = NULL;
        m->pull_wanted = true;
        m->push_wanted = true;
        (void) sd_event_source_set_time_relative(m->interval, (uint64_t) m->conf->pull_interval_sec * 1000000);
        (void) sd_event_source_set_enabled(m->interval, m->conf->long_poll ? SD_EVENT_OFF : SD_EVENT_ON);
        manager_kick(m);
        return 0;
}
