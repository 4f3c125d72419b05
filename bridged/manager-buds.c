/* SPDX-License-Identifier: MIT */
/* The manager's Buds: one handler per Buds that reads what changed and
 * writes what the engine decides, one GATT operation at a time per item, and
 * carries out the engine's outcomes. Never talks to the server. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/backoff.h"
#include "common/buds-address.h"
#include "common/event-timer.h"
#include "common/random.h"
#include "log.h"
#include "manager-private.h"

/* A failed read or write of an item is retried while the Buds are connected:
 * 0.5 s doubling to a minute, jittered. */
#define ITEM_RETRY_MIN_USEC (500 * UINT64_C(1000))
#define ITEM_RETRY_MAX_USEC (60 * UINT64_C(1000000))
/* An applied write is followed by the Buds' Manifest notification of its
 * revision; acknowledged writes whose notification does not come within
 * this were not applied (or were undone): read, and apply again. */
#define WRITE_CONFIRM_USEC (3 * UINT64_C(1000000))
/* A write held until the one before it is announced (item_write) waits this
 * long at most for it: the Buds announce a write they apply right after
 * answering it, and a lost announcement must not cost the next write the
 * whole of WRITE_CONFIRM_USEC. */
#define HOLD_MAX_USEC (500 * UINT64_C(1000))

const char *manager_item_state(const struct mitem *it) {
        if (it->failures)
                return "failing";
        return it->read_id || it->write_id || it->again ? "pending" : "synced";
}

static int on_item_retry(sd_event_source *s, uint64_t usec, void *userdata) {
        struct mitem *it = userdata;

        (void) s;
        (void) usec;
        if (it->owner->ready)
                manager_item_check(it, it->notified);
        return 0;
}

/* A read or write of the item failed: decide again (reading first when the
 * Buds may hold something newer) after the backoff. A failure that lasts is
 * one warning when it starts and one notice when it ends (item_recovered);
 * the attempts between are at debug level. Never loses the reason it
 * retries for: a change on the Buds that one bad read hid is read again. */
static void item_failed(struct mitem *it, int error, const char *what, const char *message) {
        struct mbuds *b = it->owner;
        struct manager *m = b->m;
        uint64_t delay = backoff_delay(ITEM_RETRY_MIN_USEC, ITEM_RETRY_MAX_USEC, it->failures, random_jitter(&m->rng));
        bool first = it->failures++ == 0;
        int r;

        manager_set_string(&it->failing, message);
        r = b->ready ? event_reset_time_relative(m->event, &it->retry, CLOCK_MONOTONIC, delay, delay / 16 + 1,
                                                 on_item_retry, it)
                     : -ENOTCONN;
        if (r < 0)
                log_struct_errno(first ? LOG_WARNING : LOG_DEBUG, error,
                                 LOG_FIELDS("BUDS_ADDRESS", b->address, "ITEM", key_name(it->key), "ITEM_STATE",
                                            "failing"),
                                 "%s Buds %s failed: %s; it is read again when the Buds are back.", what,
                                 b->address, message);
        else
                log_struct_errno(first ? LOG_WARNING : LOG_DEBUG, error,
                                 LOG_FIELDS("BUDS_ADDRESS", b->address, "ITEM", key_name(it->key), "ITEM_STATE",
                                            "failing"),
                                 "%s Buds %s failed: %s; %s in %.1f s.", what, b->address, message,
                                 first ? "retrying" : "retrying again", (double) delay / 1e6);
        if (first)
                manager_notify_properties(m);
}

static void item_recovered(struct mitem *it) {
        struct mbuds *b = it->owner;

        if (!it->failures)
                return;
        log_struct(LOG_NOTICE, LOG_FIELDS("BUDS_ADDRESS", b->address, "ITEM", key_name(it->key), "ITEM_STATE", "ok"),
                   "%s of Buds %s works again, after %u failed attempt(s).", key_name(it->key), b->address,
                   it->failures);
        it->failures = 0;
        it->failing = mfree(it->failing);
        (void) sd_event_source_set_enabled(it->retry, SD_EVENT_OFF);
        manager_notify_properties(b->m);
}

/* A write held until the one before it is announced (item_write) waits
 * no longer: the announcement came, or the doubt. */
static void hold_ended(struct mitem *it, const char *how) {
        struct mbuds *b = it->owner;

        if (!it->held_usec)
                return;
        log_struct(LOG_DEBUG, LOG_FIELDS("BUDS_ADDRESS", b->address, "ITEM", key_name(it->key)),
                   "A write of %s to Buds %s waited %.0f ms for the last one's announcement; %s.",
                   key_name(it->key), b->address, (double) (manager_clock_usec() - it->held_usec) / 1e3, how);
        it->held_usec = 0;
}

static void write_confirmed(struct mitem *it) {
        (void) sd_event_source_set_enabled(it->confirm, SD_EVENT_OFF);
        it->hold_cut = false;
        hold_ended(it, "announced, or found applied");
        it->unapplied = 0;
        item_recovered(it);
}

/* The Buds are gone: their items start afresh when they are back (every
 * item is checked again then). */
static void item_reset(struct mitem *it) {
        it->failures = 0;
        it->failing = mfree(it->failing);
        it->retry = sd_event_source_disable_unref(it->retry);
        it->confirm = sd_event_source_disable_unref(it->confirm);
        it->held_usec = 0;
        it->hold_cut = false;
        it->unapplied = 0;
}

static bool outcome_writes(const struct engine_outcome *o, const char *address, enum key key) {
        for (unsigned i = 0; i < o->n_writes; i++)
                if (o->writes[i].rec.value.key == key && buds_address_equal(o->writes[i].address, address))
                        return true;
        return false;
}

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
                char what[64];

                /* a malformed value changes nothing here; it is read again */
                (void) snprintf(what, sizeof(what), "Reading %s from", key_name(it->key));
                item_failed(it, error, what, message);
        } else {
                m->c.gatt_reads++;
                if (!it->unapplied)
                        item_recovered(it);     /* else when a write is announced, or none is due */
                if (it->changed_usec && !it->path.read)
                        it->path.read = manager_clock_usec();
                engine_outcome_reset(&o);
                r = engine_buds_record(m->engine, b->address, it->key, rec, rec->revision, &o);
                if (r < 0)
                        manager_cache_failed(m, r, "taking a record from the Buds");
                else {
                        if (it->path.read && !it->path.engine) {
                                it->path.engine = manager_clock_usec();
                                it->path.commit_usec = store_last_commit_usec(m->store);
                        }
                        /* the Buds hold what they should (the write landed and only
                         * its notification was lost, or a newer change came) */
                        if (it->unapplied && !outcome_writes(&o, b->address, it->key))
                                write_confirmed(it);
                        /* a change made on the Buds that no notification told of (made
                         * before they were ready, or while notifications were not yet
                         * armed): noticed now, so its latency is measured too */
                        if ((rec->flags & RECORD_DIRTY) && o.changed[it->key] && !it->changed_usec)
                                it->changed_usec = manager_now_usec(m);
                        manager_carry_out(m, &o);
                }
        }
        if (it->again && b->ready) {
                it->again = false;
                manager_item_check(it, it->notified);
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
        if (r < 0 && b->ready) {
                char what[64];

                (void) snprintf(what, sizeof(what), "Reading %s from", key_name(it->key));
                item_failed(it, r, what, strerror(-r));
        }
}

/* An acknowledged write whose notification did not come: the Buds did not
 * apply it, or undid it. What they hold is read again and the intent
 * applied again (no conflict: nothing was decided against it), paced as a
 * failure, with one warning when they keep dropping it. */
static int on_write_unconfirmed(sd_event_source *s, uint64_t usec, void *userdata) {
        struct mitem *it = userdata;
        struct mbuds *b = it->owner;
        char what[64];

        (void) s;
        (void) usec;
        if (!b->ready)
                return 0;
        if (it->hold_cut) {
                /* cut short for a held write: not yet a write the Buds
                 * dropped, nor a failure; the doubt and a read decide it */
                it->hold_cut = false;
                (void) engine_buds_doubt(b->m->engine, b->address, it->key);
                hold_ended(it, "not announced soon enough, reading the item");
                it->again = false;
                item_read(it);
                return 0;
        }
        /* the warning for a failure that lasts: item_failed() warns only
         * at its start */
        if (++it->unapplied == 3)
                log_struct(LOG_WARNING, LOG_FIELDS("BUDS_ADDRESS", b->address, "ITEM", key_name(it->key)),
                           "Buds %s keep acknowledging writes of %s without applying them; applying it again, "
                           "slower each time, up to a minute apart.", b->address, key_name(it->key));
        (void) engine_buds_doubt(b->m->engine, b->address, it->key);
        (void) snprintf(what, sizeof(what), "Writing %s to", key_name(it->key));
        item_failed(it, -EIO, what, it->unapplied >= 3 ? "the Buds keep acknowledging the write without applying it"
                                                       : "the Buds acknowledged the write but never announced it "
                                                         "(not applied, or undone)");
        /* a write held on this announcement is decided on a read now, not
         * after the backoff: the backoff paces Buds that keep dropping our
         * writes, and a decision made meanwhile (a new edit) is not one of
         * them; it waited WRITE_CONFIRM_USEC already */
        if (it->held_usec) {
                hold_ended(it, "never announced, reading the item");
                it->again = false;
                item_read(it);
        }
        return 0;
}

/* The Buds say the item is at revision: decide from the snapshot, or read. */
void manager_item_check(struct mitem *it, uint32_t revision) {
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
                manager_cache_failed(b->m, r, "deciding an item of the Buds");
                return;
        }
        manager_carry_out(b->m, &o);
}

static void on_item_written(struct bluez_buds *bb, int error, const char *message, void *userdata) {
        struct mitem *it = userdata;
        struct mbuds *b = it->owner;
        struct manager *m = b->m;
        uint32_t next = it->writing.revision + 1;
        char what[64];
        int r;

        (void) bb;
        it->write_id = 0;
        m->c.gatt_writes++;
        (void) snprintf(what, sizeof(what), "Writing %s to", key_name(it->key));
        if (error == 0) {
                if (it->write_issued_usec)
                        latency_add(&m->path[PATH_WRITE_ANSWERED],
                                    (uint32_t) (manager_clock_usec() - it->write_issued_usec));
                if (!it->unapplied)
                        item_recovered(it);     /* else when the Buds announce it */
                it->stale_streak = 0;
                it->written = next;
                if (it->notified == next)
                        write_confirmed(it);    /* the notification came before the answer */
                else
                        (void) event_reset_time_relative(m->event, &it->confirm, CLOCK_MONOTONIC, WRITE_CONFIRM_USEC,
                                                         WRITE_CONFIRM_USEC / 16, on_write_unconfirmed, it);
                r = engine_buds_written(m->engine, b->address, &it->writing, next);
                if (r < 0)
                        manager_cache_failed(m, r, "recording a write to the Buds");
                if (it->from_server_usec) {
                        latency_add(&m->server_to_buds, (uint32_t) ((manager_now_usec(m) - it->from_server_usec) / 1000));
                        it->from_server_usec = 0;
                }
                log_struct(LOG_DEBUG, LOG_FIELDS("BUDS_ADDRESS", b->address, "ITEM", key_name(it->key)),
                           "Wrote %s to Buds %s (revision %" PRIu32 ").", key_name(it->key), b->address, next);
        } else if (error == -ESTALE) {
                m->c.gatt_stale++;
                it->again = false;
                /* changed meanwhile: read again, decide again — unless the Buds keep
                 * answering stale (a peripheral that maps every failure to 0x80):
                 * then it is a failure, retried with backoff */
                if (++it->stale_streak <= 3)
                        item_read(it);
                else
                        item_failed(it, error, what, "the Buds keep refusing it as stale");
        } else {
                item_failed(it, error, what, message);
                /* a change came meanwhile: read it now */
                if (b->ready && it->again) {
                        it->again = false;
                        item_read(it);
                }
        }
        manager_sync_write_done(m, error == 0);
        if (error == 0 && it->again) {
                it->again = false;
                manager_item_check(it, it->notified > next ? it->notified : next);
        }
}

/* A write begins to wait for the announcement of the one before: the wait
 * for it is cut to HOLD_MAX_USEC from now, if it was to last longer. */
static void item_hold(struct mitem *it) {
        struct manager *m = it->owner->m;
        uint64_t due = 0, now = manager_now_usec(m);

        it->held_usec = manager_clock_usec();
        if (sd_event_source_get_time(it->confirm, &due) < 0 || due <= now + HOLD_MAX_USEC)
                return;
        if (event_reset_time_relative(m->event, &it->confirm, CLOCK_MONOTONIC, HOLD_MAX_USEC, HOLD_MAX_USEC / 16,
                                      on_write_unconfirmed, it) >= 0)
                it->hold_cut = true;
}

static void item_write(struct mitem *it, const struct record *rec) {
        struct mbuds *b = it->owner;
        int r;

        if (it->read_id || it->write_id) {
                it->again = true;       /* decided again when it ends */
                return;
        }
        /* the revision the last write's answer gave is assumed until the
         * Buds announce it: Buds that acknowledge a write and drop it may
         * give that revision to a change made on them meanwhile, which a
         * compare-and-set at it would overwrite unread. Decided again at the
         * announcement (on_manifest_changed), or at the doubt with a read
         * (on_write_unconfirmed), which comes HOLD_MAX_USEC after the hold
         * began at the latest. */
        if (event_source_is_armed(it->confirm)) {
                if (!it->held_usec)
                        item_hold(it);
                it->again = true;
                return;
        }
        it->writing = *rec;
        r = bluez_write_item(b->b, rec, on_item_written, it, &it->write_id);
        if (r < 0) {
                char what[64];

                (void) snprintf(what, sizeof(what), "Writing %s to", key_name(it->key));
                item_failed(it, r, what, strerror(-r));
                return;
        }
        it->write_issued_usec = manager_clock_usec();
        if (it->path.engine && !it->path.write)
                it->path.write = it->write_issued_usec;
        if (b->m->sync)
                b->m->sync->writes_pending++;
}

/* The engine's step is committed: everything here may leave, in the order
 * that puts the server's copy first. The push is what a change waits on to
 * reach the server, and it needs nothing of the write-backs, nor they of it
 * (each carries only what the commit recorded), so it is started before
 * them and before the signals — except while a Sync() call runs: it ends
 * when its calls and its writes are done, so its writes are counted before
 * a push that could not start lets it end. */
void manager_carry_out(struct manager *m, const struct engine_outcome *o) {
        bool push_first = o->push && !m->sync;

        if (m->cache_error && !m->cache_damaged) {
                log_notice("The cache works again.");
                m->cache_error = mfree(m->cache_error);
        }
        if (push_first)
                manager_schedule_push(m);
        for (unsigned i = 0; i < o->n_writes; i++) {
                struct mbuds *b = manager_find_buds(m, o->writes[i].address);
                if (b && b->ready)
                        item_write(&b->item[o->writes[i].rec.value.key], &o->writes[i].rec);
        }
        if (o->node_renewed)
                log_warning("A stamp with this bridge's own node id %016" PRIx64 " came back newer than any it "
                            "issued: the state directory was copied to another host. Took a new node id %016"
                            PRIx64 ".", o->old_node, engine_node_id(m->engine));
        if (o->clock_restarted)
                log_warning("The bridge's clock was more than %u s ahead of this host's wall clock (the wall clock "
                            "was stepped forward, used, and set back since): took a new node id %016" PRIx64
                            " (was %016" PRIx64 ") with its clock from the wall clock, and stamped %u value(s) of "
                            "the cache again, so that none waits for the future to win.",
                            m->conf->max_clock_skew_sec, engine_node_id(m->engine), o->old_node,
                            o->restamped_ahead);
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
        if (o->push && !push_first)
                manager_schedule_push(m);
        manager_notify_properties(m);
}

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
                manager_registry_touch(b->m);
        manager_notify_properties(b->m);
}

static struct mbuds *buds_attach(struct manager *m, struct bluez_buds *bb) {
        struct mbuds *b = manager_find_buds(m, bluez_buds_address(bb));

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
                        manager_sync_write_done(b->m, false);
                }
                it->read_id = it->write_id = 0;
                it->again = false;
                item_reset(it);
        }
        if (b->data_id)
                (void) bluez_cancel(bz, b->data_id);
        b->data_id = 0;
}

void manager_buds_detach(struct manager *m, struct mbuds *b) {
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
        sb.last_seen_ms = manager_wall_ms(NULL);
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
                (void) engine_buds_announced(m->engine, b->address, it->key, mf->entry[i].revision, mf->entry[i].flags);
                manager_item_check(it, mf->entry[i].revision);
        }
        manager_registry_touch(m);
        manager_notify_properties(m);
}

static void on_buds_gone(struct bluez_buds *bb, enum bluez_gone_reason reason, void *userdata) {
        struct manager *m = userdata;
        struct mbuds *b = manager_find_buds(m, bluez_buds_address(bb));

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
                manager_buds_detach(m, b);
        manager_notify_properties(m);
}

static void on_manifest_changed(struct bluez_buds *bb, const struct manifest_notify *n, void *userdata) {
        struct manager *m = userdata;
        struct mbuds *b = manager_find_buds(m, bluez_buds_address(bb));
        struct mitem *it;

        if (!b || !b->ready || !key_is_valid(n->key))
                return;
        it = &b->item[n->key];
        it->notified = n->revision;
        /* a change made on the Buds may take the revision a dropped write of
         * ours would have had: not that write's confirmation */
        (void) engine_buds_announced(m->engine, b->address, it->key, n->revision, n->flags);
        if (event_source_is_armed(it->confirm))
                write_confirmed(it);    /* ours, or a newer change: either way the Buds speak again */
        if (n->revision != it->written) {
                it->stale_streak = 0;   /* a new change on the Buds: CAS may progress again */
                if (!it->changed_usec && !it->write_id)
                        it->changed_usec = manager_now_usec(m);
        }
        manager_item_check(it, n->revision);
}

static void on_battery_changed(struct bluez_buds *bb, uint8_t level, void *userdata) {
        struct manager *m = userdata;
        struct store_buds sb;

        if (store_buds_get(m->store, bluez_buds_address(bb), &sb) < 0 || sb.battery == level)
                return;
        sb.battery = level;
        if (store_buds_put(m->store, &sb) == 0)
                manager_registry_touch(m);
        manager_notify_properties(m);
}

static void on_buds_error(struct bluez_buds *bb, int error, const char *message, void *userdata) {
        (void) userdata;
        log_struct_errno(LOG_WARNING, error, LOG_FIELDS("BUDS_ADDRESS", bluez_buds_address(bb)), "%s", message);
}

/* bluetoothd went or came: the state a person sees changes (status, the
 * Bluetoothd property, monitor). */
static void on_bluetoothd_changed(bool running, void *userdata) {
        struct manager *m = userdata;

        if (running)
                log_info("bluetoothd is running.");
        else
                log_notice("bluetoothd is gone; waiting for it to come back.");
        manager_notify_properties(m);
}

/* Earbuds live in their case: one notice per absence, not a warning per try. */
static void on_buds_unreachable(struct bluez_buds *bb, const char *message, void *userdata) {
        (void) userdata;
        log_struct(LOG_NOTICE, LOG_FIELDS("BUDS_ADDRESS", bluez_buds_address(bb)),
                   "%s. In their case, switched off or out of range? Trying again in the background; "
                   "said again only after they were connected.", message);
}

const struct bluez_ops manager_bluez_ops = {
        .buds_ready = on_buds_ready,
        .buds_gone = on_buds_gone,
        .manifest_changed = on_manifest_changed,
        .battery_changed = on_battery_changed,
        .buds_error = on_buds_error,
        .buds_unreachable = on_buds_unreachable,
        .bluetoothd_changed = on_bluetoothd_changed,
};
