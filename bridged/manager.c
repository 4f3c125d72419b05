/* The bridge at work (see manager.h). One sync loop against the server —
 * pull (all pages), then push what the engine queued, then wait on the long
 * poll (or the pull interval) — and one handler per Buds that reads what
 * changed and writes what the engine decides, a write at a time per item.
 * Never blocks: every wait is an sd-event source or an async call. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "engine.h"
#include "gatt/bluez.h"
#include "codec/recjson.h"
#include "common/errmsg.h"
#include "common/event-timer.h"
#include "latency.h"
#include "log.h"
#include "manager.h"
#include "store.h"
#include "uplink/uplink.h"

#define USEC_PER_MSEC UINT64_C(1000)
#define REGISTRY_DELAY_USEC (2 * UINT64_C(1000000))
#define WAIT_TIMEOUT_SEC 60
#define COOLDOWN_MIN_USEC (5 * UINT64_C(1000000))
#define COOLDOWN_MAX_USEC (300 * UINT64_C(1000000))

struct mbuds;

/* One item of one Buds: at most one GATT operation in flight. */
struct mitem {
        struct mbuds *owner;
        enum key key;
        uint64_t read_id, write_id;
        bool again;                     /* re-decide when the operation in flight ends */
        uint32_t notified;              /* the newest revision a notification announced */
        struct record writing;
        uint64_t changed_usec;          /* a change on the Buds was noticed (latency) */
        uint32_t written;               /* the revision our last write produced (its notify is ours) */
        unsigned stale_streak;          /* stale answers in a row: a CAS that makes no progress */
        uint64_t from_server_usec;      /* a server change is on its way to these Buds */
};

struct mbuds {
        struct manager *m;
        struct bluez_buds *b;
        char address[18];
        bool ready;
        uint64_t data_id;
        struct mitem item[KEY_MAX + 1];
        struct mbuds *next;
};

struct sync_call {
        manager_sync_fn done;
        void *userdata;
        unsigned pulled, pushed, written, writes_pending;
        int error;
        char *message;
};

struct counters {
        uint64_t syncs_ok, syncs_failed, pushed, pulled, gatt_reads, gatt_writes, gatt_stale, buds_connects;
};

struct manager {
        sd_event *event;
        sd_bus *bus;
        struct manager_options opts;
        struct manager_ops ops;
        void *userdata;

        struct conf *conf;              /* the settings in use (a copy) */
        struct store *store;
        struct engine *engine;
        struct bluez *bluez;
        struct uplink *uplink;
        struct mbuds *buds;

        /* the sync loop */
        int64_t pull_id, push_id, wait_id;
        bool pull_wanted, push_wanted, pulled_since_online, online;
        sd_event_source *debounce, *interval, *registry, *cooldown;
        uint64_t cooldown_usec;         /* after a final error: wait before trying again */
        bool registry_dirty;
        char *halted;                   /* why syncing stopped (401, schema) until a reload */
        char *last_error;
        struct sync_call *sync;
        unsigned push_unusable;         /* answers to the push in flight that could not be taken */
        unsigned registry_busy;         /* device registry requests in flight */
        bool stopping;                  /* manager_free runs: cancelled calls start nothing new */

        uint64_t started_usec;
        struct counters c;
        struct latency buds_to_server, server_to_buds;
        char status_line[160];
};

static uint64_t now_usec(struct manager *m) {
        uint64_t t = 0;

        (void) sd_event_now(m->event, CLOCK_MONOTONIC, &t);
        return t;
}

static uint64_t wall_ms(void *userdata) {
        struct timespec ts;

        (void) userdata;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}

static char *xstrdup(const char *s) { return s ? strdup(s) : NULL; }

static void set_string(char **p, const char *s) {
        free(*p);
        *p = xstrdup(s);
}

static void notify_properties(struct manager *m) {
        if (m->ops.properties)
                m->ops.properties(m->userdata);
}

/* ---- the state a person sees ------------------------------------------- */

enum manager_state manager_state(const struct manager *m) {
        if (m->halted)
                return MANAGER_ERROR;
        if (!m->online)
                return MANAGER_OFFLINE;
        if (m->pull_id || m->push_id)
                return MANAGER_SYNCING;
        return MANAGER_IDLE;
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
                        m->halted ? " (see the log)" : "", ready, manager_pending(m), manager_conflicts(m));
        return m->status_line;
}

/* ---- carrying out what the engine decided ------------------------------- */

static void kick(struct manager *m);
static void schedule_push(struct manager *m);
static void item_check(struct mitem *it, uint32_t revision);
static void item_write(struct mitem *it, const struct record *rec);

static struct mbuds *find_buds(struct manager *m, const char *address) {
        for (struct mbuds *b = m->buds; b; b = b->next)
                if (strcasecmp(b->address, address) == 0)
                        return b;
        return NULL;
}

static void carry_out(struct manager *m, const struct engine_outcome *o) {
        for (unsigned i = 0; i < o->n_writes; i++) {
                struct mbuds *b = find_buds(m, o->writes[i].address);
                if (b && b->ready)
                        item_write(&b->item[o->writes[i].rec.value.key], &o->writes[i].rec);
        }
        if (o->node_renewed)
                log_warning("A stamp with this bridge's own node id %016" PRIx64 " came back newer than any it "
                            "issued: the state directory was copied to another host. Took a new node id %016"
                            PRIx64 ".", o->old_node, engine_node_id(m->engine));
        if (o->restamped_future)
                log_warning("%u value(s) carried a stamp more than %u s ahead of this host's clock; taken as the "
                            "newest and stamped again here.", o->restamped_future, m->conf->max_clock_skew_sec);
        if (o->conflicts_logged)
                log_notice("Arbitration discarded %u change(s) made here or on the Buds that never reached the "
                           "server; they are in the conflict log (bridgectl conflicts).", o->conflicts_logged);
        for (int k = KEY_MIN; k <= KEY_MAX; k++) {
                struct record intent;
                if (o->changed[k] && engine_intent(m->engine, (enum key) k, &intent) == 0 && m->ops.changed)
                        m->ops.changed((enum key) k, &intent, m->userdata);
        }
        if (o->push)
                schedule_push(m);
        notify_properties(m);
}

/* ---- the Buds ----------------------------------------------------------- */

static void on_item_read(struct bluez_buds *bb, int error, const struct record *rec, const char *message,
                         void *userdata) {
        struct mitem *it = userdata;
        struct mbuds *b = it->owner;
        struct manager *m = b->m;
        struct engine_outcome o;
        int r;

        (void) bb;
        it->read_id = 0;
        if (error < 0) {
                /* a malformed value changes nothing here; a newer notification reads again */
                log_struct_errno(LOG_WARNING, error, LOG_FIELDS("BUDS_ADDRESS", b->address, "ITEM", key_name(it->key)),
                                 "Reading %s from Buds %s failed: %s", key_name(it->key), b->address, message);
        } else {
                m->c.gatt_reads++;
                engine_outcome_reset(&o);
                r = engine_buds_record(m->engine, b->address, it->key, rec, rec->revision, &o);
                if (r < 0)
                        log_error_errno(r, "Taking %s from Buds %s failed: %m", key_name(it->key), b->address);
                else {
                        /* a change made on the Buds that no notification told of (made
                         * before they were ready, or while notifications were not yet
                         * armed): noticed now, so its latency is measured too */
                        if ((rec->flags & RECORD_DIRTY) && o.changed[it->key] && !it->changed_usec)
                                it->changed_usec = now_usec(m);
                        carry_out(m, &o);
                }
        }
        if (it->again && b->ready) {
                it->again = false;
                item_check(it, it->notified);
        }
}

static void item_read(struct mitem *it) {
        struct mbuds *b = it->owner;
        int r;

        if (it->read_id || it->write_id) {
                it->again = true;
                return;
        }
        r = bluez_read_item(b->b, it->key, on_item_read, it, &it->read_id);
        if (r < 0)
                log_debug_errno(r, "Cannot read %s from Buds %s now: %m", key_name(it->key), b->address);
}

/* The Buds say the item is at revision: decide from the snapshot, or read. */
static void item_check(struct mitem *it, uint32_t revision) {
        struct mbuds *b = it->owner;
        struct engine_outcome o;
        int r;

        if (it->read_id || it->write_id) {
                it->again = true;
                return;
        }
        engine_outcome_reset(&o);
        r = engine_buds_record(b->m->engine, b->address, it->key, NULL, revision, &o);
        if (r == -ESTALE) {
                item_read(it);
                return;
        }
        if (r < 0) {
                log_error_errno(r, "Deciding %s for Buds %s failed: %m", key_name(it->key), b->address);
                return;
        }
        carry_out(b->m, &o);
}

static void sync_write_done(struct manager *m, bool ok);

static void on_item_written(struct bluez_buds *bb, int error, const char *message, void *userdata) {
        struct mitem *it = userdata;
        struct mbuds *b = it->owner;
        struct manager *m = b->m;
        uint32_t next = it->writing.revision + 1;
        int r;

        (void) bb;
        it->write_id = 0;
        m->c.gatt_writes++;
        if (error == 0) {
                it->stale_streak = 0;
                it->written = next;
                r = engine_buds_written(m->engine, b->address, &it->writing, next);
                if (r < 0)
                        log_error_errno(r, "Recording the write of %s to Buds %s failed: %m", key_name(it->key),
                                        b->address);
                if (it->from_server_usec) {
                        latency_add(&m->server_to_buds, (uint32_t) ((now_usec(m) - it->from_server_usec) / 1000));
                        it->from_server_usec = 0;
                }
                log_struct(LOG_DEBUG, LOG_FIELDS("BUDS_ADDRESS", b->address, "ITEM", key_name(it->key)),
                           "Wrote %s to Buds %s (revision %" PRIu32 ").", key_name(it->key), b->address, next);
        } else if (error == -ESTALE) {
                m->c.gatt_stale++;
                it->again = false;
                /* changed meanwhile: read again, decide again — unless the Buds keep
                 * answering stale (a peripheral that maps every failure to 0x80):
                 * then wait for their next notification */
                if (++it->stale_streak <= 3)
                        item_read(it);
                else
                        log_struct(LOG_WARNING, LOG_FIELDS("BUDS_ADDRESS", b->address, "ITEM", key_name(it->key)),
                                   "Buds %s keep refusing %s as stale; waiting for their next change.", b->address,
                                   key_name(it->key));
        } else {
                log_struct_errno(error == -EINVAL ? LOG_ERR : LOG_WARNING, error,
                                 LOG_FIELDS("BUDS_ADDRESS", b->address, "ITEM", key_name(it->key)),
                                 "Writing %s to Buds %s failed: %s%s", key_name(it->key), b->address, message,
                                 error == -EINVAL ? "" : "; it is read again when the Buds are back");
                /* the write may or may not have landed, or a change came meanwhile: read */
                if (b->ready && (error == -ETIMEDOUT || it->again)) {
                        it->again = false;
                        item_read(it);
                }
        }
        sync_write_done(m, error == 0);
        if (error == 0 && it->again) {
                it->again = false;
                item_check(it, it->notified > next ? it->notified : next);
        }
}

static void item_write(struct mitem *it, const struct record *rec) {
        struct mbuds *b = it->owner;
        int r;

        if (it->read_id || it->write_id) {
                it->again = true;       /* decided again when it ends */
                return;
        }
        it->writing = *rec;
        r = bluez_write_item(b->b, rec, on_item_written, it, &it->write_id);
        if (r < 0) {
                log_struct_errno(LOG_WARNING, r, LOG_FIELDS("BUDS_ADDRESS", b->address, "ITEM", key_name(it->key)),
                                 "Cannot write %s to Buds %s now: %m", key_name(it->key), b->address);
                return;
        }
        if (b->m->sync)
                b->m->sync->writes_pending++;
}

static void registry_touch(struct manager *m);

static void on_device_data(struct bluez_buds *bb, int error, const struct bluez_device_data *d,
                           const char *message, void *userdata) {
        struct mbuds *b = userdata;
        struct store_buds sb;

        (void) bb;
        b->data_id = 0;
        if (error < 0) {
                log_warning("Reading Device Information from Buds %s failed: %s", b->address, message);
                return;
        }
        if (store_buds_get(b->m->store, b->address, &sb) < 0)
                return;
        (void) snprintf(sb.manufacturer, sizeof(sb.manufacturer), "%s", d->manufacturer);
        (void) snprintf(sb.model, sizeof(sb.model), "%s", d->model);
        (void) snprintf(sb.serial, sizeof(sb.serial), "%s", d->serial);
        (void) snprintf(sb.firmware, sizeof(sb.firmware), "%s", d->firmware);
        if (d->battery >= 0)
                sb.battery = d->battery;
        if (store_buds_put(b->m->store, &sb) == 0)
                registry_touch(b->m);
        notify_properties(b->m);
}

static struct mbuds *buds_attach(struct manager *m, struct bluez_buds *bb) {
        struct mbuds *b = find_buds(m, bluez_buds_address(bb));

        if (b)
                return b;
        b = calloc(1, sizeof(*b));
        if (!b)
                return NULL;
        b->m = m;
        b->b = bluez_buds_ref(bb);
        (void) snprintf(b->address, sizeof(b->address), "%s", bluez_buds_address(bb));
        for (int k = KEY_MIN; k <= KEY_MAX; k++)
                b->item[k] = (struct mitem) { .owner = b, .key = (enum key) k };
        b->next = m->buds;
        m->buds = b;
        return b;
}

static void buds_cancel_ops(struct mbuds *b) {
        struct bluez *bz = b->m->bluez;

        for (int k = KEY_MIN; k <= KEY_MAX; k++) {
                struct mitem *it = &b->item[k];
                if (it->read_id)
                        (void) bluez_cancel(bz, it->read_id);
                if (it->write_id) {
                        (void) bluez_cancel(bz, it->write_id);
                        sync_write_done(b->m, false);
                }
                it->read_id = it->write_id = 0;
                it->again = false;
        }
        if (b->data_id)
                (void) bluez_cancel(bz, b->data_id);
        b->data_id = 0;
}

static void buds_detach(struct manager *m, struct mbuds *b) {
        if (m->engine)
                engine_buds_gone(m->engine, b->address);
        for (struct mbuds **p = &m->buds; *p; p = &(*p)->next)
                if (*p == b) {
                        *p = b->next;
                        break;
                }
        buds_cancel_ops(b);
        bluez_buds_unref(b->b);
        free(b);
}

static void on_buds_ready(struct bluez_buds *bb, const struct buds_info *info, const struct manifest *mf,
                          void *userdata) {
        struct manager *m = userdata;
        struct mbuds *b = buds_attach(m, bb);
        struct store_buds sb = { .battery = -1 };
        int r;

        if (!b) {
                log_oom();
                return;
        }
        if (store_buds_get(m->store, b->address, &sb) < 0) {
                sb = (struct store_buds) { .battery = -1 };
                (void) snprintf(sb.address, sizeof(sb.address), "%s", b->address);
        }
        sb.buds_id = info->buds_id;
        sb.family = (enum family) info->family;
        (void) snprintf(sb.name, sizeof(sb.name), "%s", bluez_buds_name(bb));
        sb.last_seen_ms = wall_ms(NULL);
        r = engine_buds_connected(m->engine, &sb);
        if (r < 0) {
                log_error_errno(r, "Cannot take Buds %s: %m", b->address);
                return;
        }
        b->ready = true;
        m->c.buds_connects++;
        log_struct(LOG_INFO, LOG_FIELDS("BUDS_ADDRESS", b->address),
                   "Buds %s (\"%s\", %s, id %016" PRIx64 ") connected.", b->address, sb.name,
                   family_name(sb.family), sb.buds_id);
        r = bluez_read_device_data(bb, on_device_data, b, &b->data_id);
        if (r < 0)
                log_debug_errno(r, "Cannot read Device Information from %s: %m", b->address);
        for (unsigned i = 0; i < mf->count; i++) {
                struct mitem *it = &b->item[mf->entry[i].key];
                it->notified = mf->entry[i].revision;
                item_check(it, mf->entry[i].revision);
        }
        registry_touch(m);
        notify_properties(m);
}

static void on_buds_gone(struct bluez_buds *bb, enum bluez_gone_reason reason, void *userdata) {
        struct manager *m = userdata;
        struct mbuds *b = find_buds(m, bluez_buds_address(bb));

        if (!b)
                return;
        if (b->ready)
                log_struct(LOG_INFO, LOG_FIELDS("BUDS_ADDRESS", b->address), "Buds %s %s.", b->address,
                           reason == BLUEZ_GONE_REMOVED ? "removed" :
                           reason == BLUEZ_GONE_BLUEZ_LOST ? "lost with bluetoothd" : "disconnected");
        b->ready = false;
        engine_buds_gone(m->engine, b->address);
        buds_cancel_ops(b);
        if (reason == BLUEZ_GONE_REMOVED)
                buds_detach(m, b);
        notify_properties(m);
}

static void on_manifest_changed(struct bluez_buds *bb, const struct manifest_notify *n, void *userdata) {
        struct manager *m = userdata;
        struct mbuds *b = find_buds(m, bluez_buds_address(bb));
        struct mitem *it;

        if (!b || !b->ready || !key_is_valid(n->key))
                return;
        it = &b->item[n->key];
        it->notified = n->revision;
        if (n->revision != it->written) {
                it->stale_streak = 0;   /* a new change on the Buds: CAS may progress again */
                if (!it->changed_usec && !it->write_id)
                        it->changed_usec = now_usec(m);
        }
        item_check(it, n->revision);
}

static void on_battery_changed(struct bluez_buds *bb, uint8_t level, void *userdata) {
        struct manager *m = userdata;
        struct store_buds sb;

        if (store_buds_get(m->store, bluez_buds_address(bb), &sb) < 0 || sb.battery == level)
                return;
        sb.battery = level;
        if (store_buds_put(m->store, &sb) == 0)
                registry_touch(m);
        notify_properties(m);
}

static void on_buds_error(struct bluez_buds *bb, int error, const char *message, void *userdata) {
        (void) userdata;
        log_struct_errno(LOG_WARNING, error, LOG_FIELDS("BUDS_ADDRESS", bluez_buds_address(bb)), "%s", message);
}

static const struct bluez_ops bluez_ops = {
        .buds_ready = on_buds_ready,
        .buds_gone = on_buds_gone,
        .manifest_changed = on_manifest_changed,
        .battery_changed = on_battery_changed,
        .buds_error = on_buds_error,
};

/* ---- the server ----------------------------------------------------------- */

static void sync_finish(struct manager *m);

static void halt(struct manager *m, const char *why) {
        if (!m->halted)
                log_error("Syncing stopped: %s", why);
        set_string(&m->halted, why);
        notify_properties(m);
}

static bool cooling(struct manager *m) {
        return event_source_is_armed(m->cooldown);
}

static int on_cooldown(sd_event_source *s, uint64_t usec, void *userdata) {
        (void) usec;
        (void) sd_event_source_set_enabled(s, SD_EVENT_OFF);
        kick(userdata);
        return 0;
}

/* An error the uplink does not retry (an answer the API does not define, a
 * refused cursor...): the loop waits, 5 s doubling to 5 min, rather than spin. */
static void cool_down(struct manager *m) {
        m->cooldown_usec = m->cooldown_usec ? m->cooldown_usec * 2 : COOLDOWN_MIN_USEC;
        if (m->cooldown_usec > COOLDOWN_MAX_USEC)
                m->cooldown_usec = COOLDOWN_MAX_USEC;
        (void) event_reset_time_relative(m->event, &m->cooldown, CLOCK_MONOTONIC, m->cooldown_usec, 0, on_cooldown,
                                         m);
}

/* A final error of a server call (the uplink retried what can be retried). */
static void server_error(struct manager *m, int r, const char *what, const char *message) {
        if (r == -ECANCELED)
                return;
        if (!m->sync)
                cool_down(m);
        m->c.syncs_failed++;
        set_string(&m->last_error, message);
        if (m->sync && !m->sync->error) {
                m->sync->error = r;
                m->sync->message = xstrdup(message);
        }
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
        notify_properties(m);
}

static void on_pulled(struct uplink *u, int r, const char *error, const struct uplink_pull_reply *p, void *userdata) {
        struct manager *m = userdata;
        struct engine_outcome o;

        (void) u;
        m->pull_id = 0;
        if (r == -EBADMSG) {
                char *cursor = NULL;

                (void) store_cursor_get(m->store, &cursor);
                if (cursor) {
                        /* the server does not know our cursor (reset or moved): start over, once */
                        log_warning("The server refused the sync cursor (%s); pulling everything again.", error);
                        (void) store_cursor_put(m->store, NULL);
                        m->pull_wanted = true;
                } else {
                        server_error(m, r, "Pulling from the server", error);
                        m->pull_wanted = !m->halted;
                }
                free(cursor);
        } else if (r < 0) {
                server_error(m, r, "Pulling from the server", error);
                m->pull_wanted = !m->halted;
        } else {
                engine_outcome_reset(&o);
                r = engine_server_records(m->engine, p->records, p->n, p->cursor, &o);
                if (r < 0) {
                        log_error_errno(r, "Storing %zu records from the server failed: %m", p->n);
                        m->pull_wanted = true;
                        cool_down(m);
                } else {
                        uint64_t t = now_usec(m);
                        for (unsigned i = 0; i < o.n_writes; i++) {
                                struct mbuds *b = find_buds(m, o.writes[i].address);
                                if (b)
                                        b->item[o.writes[i].rec.value.key].from_server_usec = t;
                        }
                        m->c.pulled += p->n;
                        m->c.syncs_ok++;
                        m->cooldown_usec = 0;
                        if (m->sync)
                                m->sync->pulled += (unsigned) p->n;
                        carry_out(m, &o);
                        m->pull_wanted = p->more;
                        if (!p->more)
                                m->pulled_since_online = true;
                }
        }
        kick(m);
}

static void start_pull(struct manager *m) {
        char *cursor = NULL;
        int64_t id;

        m->pull_wanted = false;
        (void) store_cursor_get(m->store, &cursor);
        id = uplink_pull(m->uplink, cursor, UPLINK_PULL_LIMIT_MAX, m->sync ? UPLINK_NO_RETRY : 0, on_pulled, m);
        free(cursor);
        if (id < 0) {
                log_error_errno((int) id, "Cannot start a pull: %m");
                return;
        }
        m->pull_id = id;
        notify_properties(m);
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
                        latency_add(&m->buds_to_server, (uint32_t) ((now_usec(m) - b->item[key].changed_usec) / 1000));
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
                log_error_errno(r, "Taking the push's answer failed: %m");
                /* the same key would bring the same answer: after a few, send anew */
                if (++m->push_unusable >= 3) {
                        log_warning("Giving up the push in flight after %u unusable answers; its records go "
                                    "again under a new key.", m->push_unusable);
                        (void) engine_push_forget(m->engine);
                        m->push_unusable = 0;
                }
                m->push_wanted = true;
                cool_down(m);
                return;
        }
        m->push_unusable = 0;
        for (size_t i = 0; i < p->n; i++)
                if (res[i].status == ENGINE_PUSH_REJECTED_FUTURE) {
                        cool_down(m);   /* offered again later, not at once */
                        break;
                }
        m->c.pushed += applied;
        m->c.syncs_ok++;
        m->cooldown_usec = 0;
        if (m->sync)
                m->sync->pushed += applied;
        carry_out(m, &o);
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
                server_error(m, r, "Pushing to the server", error);
                halt(m, "the server refused a push as malformed (400); this is a bug, see the log");
        } else if (r < 0) {
                server_error(m, r, "Pushing to the server", error);
                m->push_wanted = !m->halted && r != -ECANCELED;
        } else {
                take_push_reply(m, p);
        }
        kick(m);
}

static void start_push(struct manager *m) {
        struct record *recs = NULL;
        char *key = NULL;
        size_t n;
        int64_t id;
        int r;

        m->push_wanted = false;
        r = engine_push_next(m->engine, &key, &recs, &n);
        if (r == -ENOENT)
                return;
        if (r < 0) {
                log_error_errno(r, "Cannot prepare a push: %m");
                return;
        }
        id = uplink_push(m->uplink, key, engine_node_id(m->engine), recs, n, m->sync ? UPLINK_NO_RETRY : 0,
                         on_pushed, m);
        free(recs);
        free(key);
        if (id < 0) {
                log_error_errno((int) id, "Cannot start a push: %m");
                return;
        }
        m->push_id = id;
        notify_properties(m);
}

static void on_waited(struct uplink *u, int r, const char *error, const struct uplink_wait_reply *w, void *userdata) {
        struct manager *m = userdata;

        (void) u;
        m->wait_id = 0;
        if (r < 0)
                server_error(m, r, "Waiting for changes on the server", error);
        else if (w->changed)
                m->pull_wanted = true;
        kick(m);
}

static void start_wait(struct manager *m) {
        char *cursor = NULL;
        int64_t id;

        if (store_cursor_get(m->store, &cursor) < 0 || !cursor) {
                free(cursor);
                m->pull_wanted = true;
                return;
        }
        id = uplink_wait(m->uplink, cursor, m->opts.wait_timeout_sec ?: WAIT_TIMEOUT_SEC, 0, on_waited, m);
        free(cursor);
        if (id < 0)
                log_error_errno((int) id, "Cannot start the long poll: %m");
        else
                m->wait_id = id;
}

static bool debouncing(struct manager *m) {
        return event_source_is_armed(m->debounce);
}

/* The one place that decides what the sync loop does next. */
static void kick(struct manager *m) {
        if (m->stopping)
                return;
        if (m->halted || m->pull_id || m->push_id || (m->sync && m->sync->error) || (!m->sync && cooling(m))) {
                sync_finish(m);
                return;
        }
        if (m->pull_wanted) {
                start_pull(m);
                if (m->pull_id)
                        return;
        }
        if (m->push_wanted && (m->pulled_since_online || m->sync) && !debouncing(m)) {
                start_push(m);
                if (m->push_id)
                        return;
        }
        sync_finish(m);
        if (m->conf->long_poll && !m->wait_id && !m->sync && m->pulled_since_online)
                start_wait(m);
        notify_properties(m);
}

static int on_debounce(sd_event_source *s, uint64_t usec, void *userdata) {
        (void) s;
        (void) usec;
        (void) sd_event_source_set_enabled(s, SD_EVENT_OFF);
        kick(userdata);
        return 0;
}

static void schedule_push(struct manager *m) {
        m->push_wanted = true;
        if (m->conf->push_debounce_ms > 0 && !m->sync && !debouncing(m)) {
                uint64_t when = now_usec(m) + (uint64_t) m->conf->push_debounce_ms * USEC_PER_MSEC;
                (void) event_reset_time(m->event, &m->debounce, CLOCK_MONOTONIC, when, 0, on_debounce, m);
                return;
        }
        kick(m);
}

/* LongPoll=no: pull every PullIntervalSec. */
static int on_interval(sd_event_source *s, uint64_t usec, void *userdata) {
        struct manager *m = userdata;

        (void) sd_event_source_set_time(s, usec + (uint64_t) m->conf->pull_interval_sec * 1000000);
        m->pull_wanted = true;
        kick(m);
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
                set_string(&m->last_error, last_error);
        }
        m->online = online;
        notify_properties(m);
        /* back online through any call (a long poll's retry, the registry):
         * the pull that pushes wait for starts now, not at the next event */
        if (online)
                kick(m);
}

static const struct uplink_ops uplink_ops = { .state = on_uplink_state };

/* ---- the device registry (Server Data) ------------------------------------ */

static void on_registry_done(struct uplink *u, int r, const char *error, void *userdata) {
        struct manager *m = userdata;

        (void) u;
        if (m->registry_busy > 0)
                m->registry_busy--;
        if (r < 0 && r != -ECANCELED)
                log_debug("Updating the device registry failed: %s", error);
        if (m->registry_busy == 0 && m->registry_dirty && !m->stopping)
                registry_touch(m);
}

static int put_device(struct manager *m, const struct uplink_device *d) {
        int64_t id = uplink_put_device(m->uplink, d, 0, on_registry_done, m);

        if (id < 0)
                return (int) id;
        m->registry_busy++;
        return 0;
}

static int on_registry(sd_event_source *s, uint64_t usec, void *userdata) {
        struct manager *m = userdata;
        struct store_buds *all = NULL;
        char host[256] = "";
        size_t n = 0;

        (void) s;
        (void) usec;
        if (m->registry_busy > 0)
                return 0;       /* a round is still retrying: its end runs the next one */
        m->registry_dirty = false;
        (void) gethostname(host, sizeof(host) - 1);
        host[64] = '\0';        /* the registry takes at most 64 bytes */
        (void) put_device(m, &(struct uplink_device) { .id = engine_node_id(m->engine), .kind = UPLINK_DEVICE_HOST,
                                                       .name = host, .battery = -1, .last_seen_ms = wall_ms(NULL) });
        if (store_buds_list(m->store, &all, &n) < 0)
                return 0;
        for (size_t i = 0; i < n; i++) {
                struct store_buds *b = &all[i];
                if (!b->buds_id)
                        continue;
                b->name[64] = '\0';
                (void) put_device(m, &(struct uplink_device) {
                        .id = b->buds_id, .kind = UPLINK_DEVICE_BUDS, .has_family = b->family != FAMILY_ANY,
                        .family = b->family, .model = b->model[0] ? b->model : NULL,
                        .firmware = b->firmware[0] ? b->firmware : NULL, .serial = b->serial[0] ? b->serial : NULL,
                        .name = b->name[0] ? b->name : NULL, .battery = b->battery,
                        .last_seen_ms = find_buds(m, b->address) && find_buds(m, b->address)->ready ?
                                                wall_ms(NULL) : b->last_seen_ms });
        }
        free(all);
        return 0;
}

static void registry_touch(struct manager *m) {
        m->registry_dirty = true;
        if (event_source_is_armed(m->registry))
                return;
        (void) event_reset_time(m->event, &m->registry, CLOCK_MONOTONIC, now_usec(m) + REGISTRY_DELAY_USEC, 0,
                                on_registry, m);
}

/* ---- Sync() ------------------------------------------------------------------ */

static void sync_write_done(struct manager *m, bool ok) {
        if (!m->sync || m->sync->writes_pending == 0)
                return;
        m->sync->writes_pending--;
        m->sync->written += ok;
        sync_finish(m);
}

static void sync_free(struct sync_call *s) {
        if (s) {
                free(s->message);
                free(s);
        }
}

/* Ends the Sync() call once the server part is done and the Buds writes it
 * caused have landed. */
static void sync_finish(struct manager *m) {
        struct sync_call *s = m->sync;
        char json[128];

        if (!s || m->pull_id || m->push_id)
                return;
        if (!s->error && (m->pull_wanted || (m->push_wanted && !m->halted)) && !m->halted)
                return;
        if (s->writes_pending > 0 && !s->error)
                return;
        m->sync = NULL;
        if (m->halted && !s->error)
                s->error = -EACCES;
        (void) snprintf(json, sizeof(json), "{\"pushed\":%u,\"pulled\":%u,\"written_to_buds\":%u}", s->pushed,
                        s->pulled, s->written);
        if (s->error)
                s->done(s->error, NULL, s->message ? s->message : m->halted ? m->halted : "failed", s->userdata);
        else
                s->done(0, json, NULL, s->userdata);
        sync_free(s);
        kick(m);                        /* back to the background loop */
}

static bool offline_error(int r) {
        return r == -ECONNREFUSED || r == -EHOSTUNREACH || r == -ECONNRESET || r == -ETIMEDOUT ||
               r == -EKEYREJECTED || r == -EIO || r == -EAGAIN || r == -EBUSY || r == -EPROTO || r == -ENETDOWN;
}

static void on_sync_done_map(int r, const char *json, const char *error, void *userdata) {
        struct sync_call *outer = userdata;

        outer->done(r < 0 && offline_error(r) ? -ENETDOWN : r, json, error, outer->userdata);
        free(outer);
}

int manager_sync(struct manager *m, manager_sync_fn done, void *userdata) {
        struct sync_call *s, *outer;

        if (m->sync)
                return -EBUSY;
        if (m->halted)
                return -EPERM;
        s = calloc(1, sizeof(*s));
        outer = calloc(1, sizeof(*outer));
        if (!s || !outer) {
                free(s);
                free(outer);
                return -ENOMEM;
        }
        outer->done = done;
        outer->userdata = userdata;
        s->done = on_sync_done_map;
        s->userdata = outer;
        /* the background calls may be retrying for minutes: a one-shot replaces
         * them. m->sync is set first, so the cancelled callbacks' kick() starts
         * one-shot calls, not retrying ones. */
        m->sync = s;
        m->pull_wanted = true;
        m->push_wanted = true;
        if (m->debounce)
                (void) sd_event_source_set_enabled(m->debounce, SD_EVENT_OFF);
        if (m->cooldown)
                (void) sd_event_source_set_enabled(m->cooldown, SD_EVENT_OFF);
        if (m->pull_id)
                (void) uplink_cancel(m->uplink, m->pull_id);
        if (m->push_id)
                (void) uplink_cancel(m->uplink, m->push_id);
        if (m->sync == s)
                kick(m);
        return 0;
}

/* ---- the control API's answers ---------------------------------------------- */

static char *print_json(cJSON *j) {
        char *s = j ? cJSON_PrintUnformatted(j) : NULL;

        cJSON_Delete(j);
        return s;
}

static void origin_hex(uint64_t v, char buf[static 17]) { recjson_origin_format(v, buf); }

static cJSON *buds_json(struct manager *m) {
        cJSON *arr = cJSON_CreateArray();
        struct store_buds *all = NULL;
        size_t n = 0;

        if (!arr || store_buds_list(m->store, &all, &n) < 0)
                return arr;
        for (size_t i = 0; i < n; i++) {
                const struct store_buds *b = &all[i];
                struct mbuds *mb = find_buds(m, b->address);
                cJSON *o = cJSON_CreateObject();
                char id[17];

                origin_hex(b->buds_id, id);
                if (!o)
                        break;
                cJSON_AddStringToObject(o, "address", b->address);
                cJSON_AddStringToObject(o, "name", b->name);
                if (b->family == FAMILY_ANY)
                        cJSON_AddNullToObject(o, "family");
                else
                        cJSON_AddStringToObject(o, "family", family_name(b->family));
                cJSON_AddStringToObject(o, "buds_id", id);
                if (b->firmware[0])
                        cJSON_AddStringToObject(o, "firmware", b->firmware);
                else
                        cJSON_AddNullToObject(o, "firmware");
                if (b->battery >= 0)
                        cJSON_AddNumberToObject(o, "battery", b->battery);
                else
                        cJSON_AddNullToObject(o, "battery");
                cJSON_AddBoolToObject(o, "connected", mb && mb->ready);
                cJSON_AddItemToArray(arr, o);
        }
        free(all);
        return arr;
}

int manager_status_json(struct manager *m, char **ret) {
        cJSON *o = cJSON_CreateObject();
        uint64_t last = 0;
        char node[17];

        if (!o)
                return -ENOMEM;
        origin_hex(engine_node_id(m->engine), node);
        (void) store_last_sync_get(m->store, &last);
        cJSON_AddStringToObject(o, "state", manager_state_name(manager_state(m)));
        cJSON_AddBoolToObject(o, "online", m->online);
        cJSON_AddStringToObject(o, "node_id", node);
        cJSON_AddStringToObject(o, "server", m->conf->url);
        cJSON_AddNumberToObject(o, "pending", manager_pending(m));
        cJSON_AddNumberToObject(o, "conflicts", manager_conflicts(m));
        if (last)
                cJSON_AddNumberToObject(o, "last_sync_ms", (double) last);
        else
                cJSON_AddNullToObject(o, "last_sync_ms");
        if (m->halted || m->last_error)
                cJSON_AddStringToObject(o, "last_error", m->halted ? m->halted : m->last_error);
        else
                cJSON_AddNullToObject(o, "last_error");
        cJSON_AddItemToObject(o, "buds", buds_json(m));
        *ret = print_json(o);
        return *ret ? 0 : -ENOMEM;
}

static cJSON *latency_json(const struct latency *l) {
        cJSON *o = cJSON_CreateObject();

        cJSON_AddNumberToObject(o, "p50", latency_quantile(l, 50));
        cJSON_AddNumberToObject(o, "p99", latency_quantile(l, 99));
        cJSON_AddNumberToObject(o, "n", (double) l->total);
        return o;
}

int manager_stats_json(struct manager *m, char **ret) {
        const struct engine_counters *ec = engine_counters(m->engine);
        struct uplink_stats us;
        cJSON *o = cJSON_CreateObject(), *lat = cJSON_CreateObject();

        if (!o || !lat) {
                cJSON_Delete(o);
                cJSON_Delete(lat);
                return -ENOMEM;
        }
        uplink_get_stats(m->uplink, &us);
        cJSON_AddNumberToObject(o, "uptime_s", (double) ((now_usec(m) - m->started_usec) / 1000000));
        cJSON_AddNumberToObject(o, "syncs_ok", (double) m->c.syncs_ok);
        cJSON_AddNumberToObject(o, "syncs_failed", (double) m->c.syncs_failed);
        cJSON_AddNumberToObject(o, "pushed", (double) m->c.pushed);
        cJSON_AddNumberToObject(o, "pulled", (double) m->c.pulled);
        cJSON_AddNumberToObject(o, "retries", (double) us.retries);
        cJSON_AddNumberToObject(o, "conflicts_logged", (double) ec->conflicts_logged);
        cJSON_AddNumberToObject(o, "restamped_future", (double) ec->restamped_future);
        cJSON_AddNumberToObject(o, "gatt_reads", (double) m->c.gatt_reads);
        cJSON_AddNumberToObject(o, "gatt_writes", (double) m->c.gatt_writes);
        cJSON_AddNumberToObject(o, "gatt_stale", (double) m->c.gatt_stale);
        cJSON_AddNumberToObject(o, "buds_connects", (double) m->c.buds_connects);
        cJSON_AddItemToObject(lat, "buds_to_server", latency_json(&m->buds_to_server));
        cJSON_AddItemToObject(lat, "server_to_buds", latency_json(&m->server_to_buds));
        cJSON_AddItemToObject(o, "latency_ms", lat);
        *ret = print_json(o);
        return *ret ? 0 : -ENOMEM;
}

int manager_get_json(struct manager *m, const char *key, char **ret, char **ret_error) {
        struct record intent;
        enum key k;
        int r;

        if (key_from_name(key, &k) < 0)
                return errmsg_setf(ret_error, -EINVAL, "unknown key \"%s\": use profile, eq.custom or eq.active", key);
        r = engine_intent(m->engine, k, &intent);
        if (r == -ENOENT)
                return errmsg_setf(ret_error, r, "%s has no value yet: no Buds, server or edit has given one", key);
        if (r < 0)
                return errmsg_setf(ret_error, r, "reading %s from the cache failed: %s", key, strerror(-r));
        *ret = recjson_record_print(&intent);
        return *ret ? 0 : -ENOMEM;
}

/* The family a Set means: "" is the connected Buds' family for EQ items. */
static int resolve_family(struct manager *m, enum key k, const char *family, enum family *ret, char **ret_error) {
        enum family f;

        if (k == KEY_PROFILE) {
                if (family[0] && strcmp(family, "any") != 0)
                        return errmsg_setf(ret_error, -EINVAL, "profile has no family; give \"\" or \"any\", not \"%s\"",
                                      family);
                *ret = FAMILY_ANY;
                return 0;
        }
        if (family[0]) {
                if (family_from_name(family, &f) < 0 || f == FAMILY_ANY)
                        return errmsg_setf(ret_error, -EINVAL, "unknown family \"%s\" for %s: use standard or pro",
                                      family, key_name(k));
                *ret = f;
                return 0;
        }
        f = FAMILY_ANY;
        for (struct mbuds *b = m->buds; b; b = b->next) {
                enum family bf = b->ready ? bluez_buds_family(b->b) : FAMILY_ANY;
                if (bf == FAMILY_ANY)
                        continue;
                if (f != FAMILY_ANY && f != bf)
                        return errmsg_setf(ret_error, -EINVAL, "Buds of both families are connected; give the family "
                                      "of %s (standard or pro)", key_name(k));
                f = bf;
        }
        if (f == FAMILY_ANY)
                return errmsg_setf(ret_error, -ENOTCONN, "no Buds are connected to take the family of %s from; give "
                              "the family (standard or pro)", key_name(k));
        *ret = f;
        return 0;
}

static int set_value(struct manager *m, const struct value *v, char **ret, char **ret_error) {
        struct engine_outcome o;
        struct record rec;
        int r;

        engine_outcome_reset(&o);
        r = engine_set(m->engine, v, &rec, &o);
        if (r < 0)
                return errmsg_setf(ret_error, r == -EINVAL ? r : -EIO, "storing the edit failed: %s", strerror(-r));
        log_struct(LOG_INFO, LOG_FIELDS("ITEM", key_name(v->key)), "New edit of %s (%s) on this host.",
                   key_name(v->key), family_name(v->family));
        carry_out(m, &o);
        *ret = recjson_record_print(&rec);
        return *ret ? 0 : -ENOMEM;
}

int manager_set_json(struct manager *m, const char *key, const char *family, const char *value, char **ret,
                     char **ret_error) {
        struct value_err e = { { 0 } };
        enum family f = FAMILY_ANY;
        struct value v;
        enum key k;
        int r;

        if (key_from_name(key, &k) < 0)
                return errmsg_setf(ret_error, -EINVAL, "unknown key \"%s\": use profile, eq.custom or eq.active", key);
        r = resolve_family(m, k, family, &f, ret_error);
        if (r < 0)
                return r;
        r = recjson_value_parse(value, strlen(value), k, f, &v, &e);
        if (r < 0)
                return errmsg_setf(ret_error, -EINVAL, "invalid %s value for the %s family: %s", key, family_name(f),
                              e.msg[0] ? e.msg : "not valid");
        return set_value(m, &v, ret, ret_error);
}

static cJSON *conflict_json(const struct store_conflict *c) {
        struct record kept, lost;
        cJSON *o = cJSON_CreateObject();

        if (!o || engine_copy_to_record(c->key, c->kept_family, &c->kept, &kept) < 0 ||
            engine_copy_to_record(c->key, c->lost_family, &c->lost, &lost) < 0) {
                cJSON_Delete(o);
                return NULL;
        }
        cJSON_AddNumberToObject(o, "id", (double) c->id);
        cJSON_AddStringToObject(o, "key", key_name(c->key));
        cJSON_AddStringToObject(o, "family", family_name(c->lost_family));
        cJSON_AddItemToObject(o, "kept", recjson_record_to(&kept));
        cJSON_AddItemToObject(o, "lost", recjson_record_to(&lost));
        cJSON_AddStringToObject(o, "kept_from", c->kept_source);
        cJSON_AddStringToObject(o, "lost_from", c->lost_source);
        cJSON_AddNumberToObject(o, "at_ms", (double) c->at_ms);
        return o;
}

int manager_conflicts_json(struct manager *m, char **ret) {
        struct store_conflict *all = NULL;
        cJSON *arr = cJSON_CreateArray();
        size_t n = 0;
        int r = arr ? store_conflict_list(m->store, &all, &n) : -ENOMEM;

        for (size_t i = 0; r == 0 && i < n; i++) {
                cJSON *c = conflict_json(&all[i]);
                if (c)
                        cJSON_AddItemToArray(arr, c);
        }
        free(all);
        if (r < 0) {
                cJSON_Delete(arr);
                return r;
        }
        *ret = print_json(arr);
        return *ret ? 0 : -ENOMEM;
}

int manager_restore_json(struct manager *m, uint64_t id, char **ret, char **ret_error) {
        struct store_conflict c;
        struct record lost;
        int r = store_conflict_get(m->store, id, &c);

        if (r == -ENOENT)
                return errmsg_setf(ret_error, r, "no conflict %" PRIu64 " in the log (see bridgectl conflicts)", id);
        if (r == 0)
                r = engine_copy_to_record(c.key, c.lost_family, &c.lost, &lost);
        if (r < 0)
                return errmsg_setf(ret_error, r, "reading conflict %" PRIu64 " failed: %s", id, strerror(-r));
        return set_value(m, &lost.value, ret, ret_error);
}

/* ---- life ------------------------------------------------------------------- */

static int make_uplink(struct manager *m, const char *token, struct uplink **ret, char **ret_error) {
        struct uplink_config cfg = {
                .url = m->conf->url, .token = token, .ca_file = m->conf->ca_file,
                .pinned_public_key = m->conf->pinned_public_key,
                .backoff_min_usec = m->opts.uplink_backoff_min_usec,
                .backoff_max_usec = m->opts.uplink_backoff_max_usec,
        };

        return uplink_new(m->event, &cfg, &uplink_ops, m, ret, ret_error);
}

static int make_bluez(struct manager *m, struct bluez **ret) {
        struct bluez_config cfg = {
                .address = m->conf->buds_address, .adapter = m->conf->adapter,
                .backoff_min_usec = m->opts.bluez_backoff_min_usec,
                .backoff_max_usec = m->opts.bluez_backoff_max_usec,
        };
        struct store_buds *all = NULL;
        size_t n = 0;
        int r = bluez_new(m->bus, m->event, &cfg, &bluez_ops, m, ret);

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
                                      .conflict_log_limit = conf->conflict_log_limit, .now_ms = wall_ms };
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
        m->started_usec = now_usec(m);
        /* the state directory and the server settings are the configuration's
         * (exit 78); anything after them is not */
        *ret_config_error = true;
        r = conf_dup(conf, &m->conf);
        if (r == 0)
                r = store_open(state_dir, &m->store, ret_error);
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
                                               (uint64_t) m->conf->pull_interval_sec * 1000000, 0, on_interval, m);
        /* idle is asleep: with the long poll, no timer of our own runs */
        if (r == 0)
                r = sd_event_source_set_enabled(m->interval, m->conf->long_poll ? SD_EVENT_OFF : SD_EVENT_ON);
        if (r < 0) {
                manager_free(m);
                return r;
        }
        /* start: pull first (the outbox waits for it), then the long poll */
        m->pull_wanted = true;
        m->push_wanted = store_pending_count(m->store) > 0;
        registry_touch(m);
        kick(m);
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
                sync_free(s);
        }
        while (m->buds)
                buds_detach(m, m->buds);
        m->bluez = bluez_free(m->bluez);
        m->pull_id = m->push_id = m->wait_id = 0;
        m->uplink = uplink_free(m->uplink);
        sd_event_source_disable_unref(m->debounce);
        sd_event_source_disable_unref(m->interval);
        sd_event_source_disable_unref(m->registry);
        sd_event_source_disable_unref(m->cooldown);
        m->engine = engine_free(m->engine);
        m->store = store_close(m->store);
        m->conf = conf_free(m->conf);
        free(m->halted);
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
                /* its callbacks end with -ECANCELED: they must not start calls on it */
                m->stopping = true;
                uplink_free(m->uplink);
                m->stopping = false;
                m->pull_id = m->push_id = m->wait_id = 0;
                m->registry_busy = 0;
                m->uplink = u;
                m->online = false;
                m->pulled_since_online = false;
        } else {
                (void) uplink_set_token(m->uplink, token);
        }
        if (buds) {
                while (m->buds)
                        buds_detach(m, m->buds);
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
        kick(m);
        return 0;
}
