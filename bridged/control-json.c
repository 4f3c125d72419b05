/* SPDX-License-Identifier: MIT */
/* The control API's answers as the API's JSON (see manager.h): status,
 * stats, get, set, conflicts, restore. Next to control.c, which turns them
 * into D-Bus replies; errors are a negative errno with a message a person
 * can act on. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "codec/json-strict.h"
#include "codec/merge-patch.h"
#include "codec/recjson.h"
#include "common/cleanup.h"
#include "common/errmsg.h"
#include "log.h"
#include "manager-private.h"
#include "options.h"
#include "policy/eqconv.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(cJSON *, cJSON_Delete)

static char *print_json(cJSON *j) {
        char *s = j ? cJSON_PrintUnformatted(j) : NULL;

        cJSON_Delete(j);
        return s;
}

static void origin_hex(uint64_t v, char buf[static 17]) { recjson_origin_format(v, buf); }

/* Connected Buds: "items" (key → synced|pending|failing) and, for the
 * failing ones, "errors" (key → what the last attempt said). */
static void items_json(cJSON *o, const struct mbuds *mb) {
        cJSON *items = cJSON_AddObjectToObject(o, "items"), *errors = NULL;

        for (int k = KEY_MIN; k <= KEY_MAX && items; k++) {
                const struct mitem *it = &mb->item[k];

                cJSON_AddStringToObject(items, key_name((enum key) k), manager_item_state(it));
                if (it->failing && (errors || (errors = cJSON_AddObjectToObject(o, "errors"))))
                        cJSON_AddStringToObject(errors, key_name((enum key) k), it->failing);
        }
}

int manager_buds_views(struct manager *m, struct manager_buds_view **ret, size_t *ret_n) {
        _cleanup_free_ struct store_buds *all = NULL;
        struct manager_buds_view *v;
        size_t n = 0;
        int r;

        *ret = NULL;
        *ret_n = 0;
        r = store_buds_list(m->store, &all, &n);
        if (r < 0 || n == 0)
                return r;
        v = calloc(n, sizeof(*v));
        if (!v)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                const struct store_buds *b = &all[i];
                struct mbuds *mb = manager_find_buds(m, b->address);

                memcpy(v[i].address, b->address, sizeof(v[i].address));
                memcpy(v[i].name, b->name, sizeof(v[i].name));
                memcpy(v[i].firmware, b->firmware, sizeof(v[i].firmware));
                v[i].family = b->family;
                v[i].buds_id = b->buds_id;
                v[i].battery = b->battery;
                v[i].connected = mb && mb->ready;
                for (int k = KEY_MIN; k <= KEY_MAX && v[i].connected; k++)
                        v[i].item[k] = manager_item_state(&mb->item[k]);
        }
        *ret = v;
        *ret_n = n;
        return 0;
}

static cJSON *buds_json(struct manager *m) {
        cJSON *arr = cJSON_CreateArray();
        _cleanup_free_ struct manager_buds_view *v = NULL;
        size_t n = 0;

        if (!arr || manager_buds_views(m, &v, &n) < 0)
                return arr;
        for (size_t i = 0; i < n; i++) {
                struct mbuds *mb = manager_find_buds(m, v[i].address);
                cJSON *o = cJSON_CreateObject();
                char id[17];

                origin_hex(v[i].buds_id, id);
                if (!o)
                        break;
                cJSON_AddStringToObject(o, "address", v[i].address);
                cJSON_AddStringToObject(o, "name", v[i].name);
                if (v[i].family == FAMILY_ANY)
                        cJSON_AddNullToObject(o, "family");
                else
                        cJSON_AddStringToObject(o, "family", family_name(v[i].family));
                cJSON_AddStringToObject(o, "buds_id", id);
                if (v[i].firmware[0])
                        cJSON_AddStringToObject(o, "firmware", v[i].firmware);
                else
                        cJSON_AddNullToObject(o, "firmware");
                if (v[i].battery >= 0)
                        cJSON_AddNumberToObject(o, "battery", v[i].battery);
                else
                        cJSON_AddNullToObject(o, "battery");
                cJSON_AddBoolToObject(o, "connected", v[i].connected);
                if (v[i].connected && mb)
                        items_json(o, mb);
                cJSON_AddItemToArray(arr, o);
        }
        return arr;
}

bool manager_bluetoothd(struct manager *m) {
        return bluez_owner(m->bluez) != NULL;
}

/* Why there may be no Buds: what bridgectl status explains to a person. */
static cJSON *bluetooth_json(struct manager *m) {
        struct bluez_summary sum;
        cJSON *o = cJSON_CreateObject();

        bluez_summary(m->bluez, &sum);
        cJSON_AddBoolToObject(o, "bluetoothd", sum.running);
        cJSON_AddNumberToObject(o, "adapters", sum.adapters);
        cJSON_AddNumberToObject(o, "powered", sum.powered);
        cJSON_AddNumberToObject(o, "paired", sum.paired);
        cJSON_AddNumberToObject(o, "buds", sum.buds);
        return o;
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
        if (m->halted || m->cache_error || m->last_error)
                cJSON_AddStringToObject(o, "last_error",
                                        m->halted ? m->halted : m->cache_error ? m->cache_error : m->last_error);
        else
                cJSON_AddNullToObject(o, "last_error");
        cJSON_AddItemToObject(o, "buds", buds_json(m));
        cJSON_AddStringToObject(o, "version", BRIDGED_VERSION);
        cJSON_AddItemToObject(o, "bluetooth", bluetooth_json(m));
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

/* Each step of a Buds change's path, from the step before it (manager-private.h). */
static cJSON *path_json(struct manager *m) {
        cJSON *o = cJSON_CreateObject();

        for (int s = 0; o && s < _PATH_STEP_MAX; s++)
                cJSON_AddItemToObject(o, manager_path_step_name((enum path_step) s), latency_json(&m->path[s]));
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
        cJSON_AddNumberToObject(o, "uptime_s", (double) ((manager_now_usec(m) - m->started_usec) / 1000000));
        cJSON_AddNumberToObject(o, "syncs_ok", (double) m->c.syncs_ok);
        cJSON_AddNumberToObject(o, "syncs_failed", (double) m->c.syncs_failed);
        cJSON_AddNumberToObject(o, "pushed", (double) m->c.pushed);
        cJSON_AddNumberToObject(o, "pulled", (double) m->c.pulled);
        cJSON_AddNumberToObject(o, "retries", (double) us.retries);
        cJSON_AddNumberToObject(o, "conflicts_logged", (double) ec->conflicts_logged);
        cJSON_AddNumberToObject(o, "restamped_future", (double) ec->restamped_future);
        cJSON_AddNumberToObject(o, "clock_restarts", (double) ec->clock_restarts);
        cJSON_AddNumberToObject(o, "gatt_reads", (double) m->c.gatt_reads);
        cJSON_AddNumberToObject(o, "gatt_writes", (double) m->c.gatt_writes);
        cJSON_AddNumberToObject(o, "gatt_stale", (double) m->c.gatt_stale);
        cJSON_AddNumberToObject(o, "buds_connects", (double) m->c.buds_connects);
        cJSON_AddItemToObject(lat, "buds_to_server", latency_json(&m->buds_to_server));
        cJSON_AddItemToObject(lat, "server_to_buds", latency_json(&m->server_to_buds));
        cJSON_AddItemToObject(o, "latency_ms", lat);
        cJSON_AddItemToObject(o, "path_usec", path_json(m));
        *ret = print_json(o);
        return *ret ? 0 : -ENOMEM;
}

int manager_get_json(struct manager *m, const char *key, char **ret, char **ret_error) {
        char quoted[JSON_STRICT_QUOTE_MAX + 4];
        struct record intent;
        enum key k;
        int r;

        if (key_from_name(key, &k) < 0)
                return errmsg_setf(ret_error, -EINVAL, "unknown key \"%s\": use profile, eq.custom or eq.active",
                                   json_strict_quote(key, quoted));
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
        char quoted[JSON_STRICT_QUOTE_MAX + 4];
        enum family f;

        if (k == KEY_PROFILE) {
                if (family[0] && strcmp(family, "any") != 0)
                        return errmsg_setf(ret_error, -EINVAL, "profile has no family; give \"\" or \"any\", not \"%s\"",
                                      json_strict_quote(family, quoted));
                *ret = FAMILY_ANY;
                return 0;
        }
        if (family[0]) {
                if (family_from_name(family, &f) < 0 || f == FAMILY_ANY)
                        return errmsg_setf(ret_error, -EINVAL, "unknown family \"%s\" for %s: use standard or pro",
                                      json_strict_quote(family, quoted), key_name(k));
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

/* What an edit here did (Set, Restore): logged, carried out, answered. */
static int edited(struct manager *m, const struct record *rec, const struct engine_outcome *o, const char *how,
                  char **ret) {
        log_struct(LOG_INFO, LOG_FIELDS("ITEM", key_name(rec->value.key)), "%s of %s (%s) on this host.", how,
                   key_name(rec->value.key), family_name(rec->value.family));
        manager_carry_out(m, o);
        *ret = recjson_record_print(rec);
        return *ret ? 0 : -ENOMEM;
}

static int set_value(struct manager *m, const struct value *v, char **ret, char **ret_error) {
        struct engine_outcome o;
        struct record rec;
        int r;

        engine_outcome_reset(&o);
        r = engine_set(m->engine, v, &rec, &o);
        if (r < 0 && r != -EINVAL)
                manager_cache_failed(m, r, "storing an edit");
        if (r < 0)
                return errmsg_setf(ret_error, r == -EINVAL ? r : -EIO, "storing the edit failed: %s", strerror(-r));
        return edited(m, &rec, &o, "New edit", ret);
}

int manager_set_json(struct manager *m, const char *key, const char *family, const char *value, char **ret,
                     char **ret_error) {
        char quoted[JSON_STRICT_QUOTE_MAX + 4];
        struct value_err e = { { 0 } };
        enum family f = FAMILY_ANY;
        struct value v;
        enum key k;
        int r;

        if (key_from_name(key, &k) < 0)
                return errmsg_setf(ret_error, -EINVAL, "unknown key \"%s\": use profile, eq.custom or eq.active",
                                   json_strict_quote(key, quoted));
        r = resolve_family(m, k, family, &f, ret_error);
        if (r < 0)
                return r;
        r = recjson_value_parse(value, strlen(value), k, f, &v, &e);
        if (r < 0)
                return errmsg_setf(ret_error, -EINVAL, "invalid %s value for the %s family: %s", key, family_name(f),
                              e.msg[0] ? e.msg : "not valid");
        return set_value(m, &v, ret, ret_error);
}

/* The base a patch applies to: the item's intent, converted to family f when
 * it is of the other one (as a write to such Buds would convert it). NULL
 * with 0 when the item has no value yet. */
static int patch_base(struct manager *m, enum key k, enum family f, cJSON **ret) {
        struct record intent;
        struct value v;
        int r = engine_intent(m->engine, k, &intent);

        *ret = NULL;
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return r;
        v = intent.value;
        if (k != KEY_PROFILE && v.family != f && eqconv_value(&intent.value, f, &v) < 0)
                return -EINVAL;
        *ret = recjson_value_to(&v);
        return *ret ? 0 : -ENOMEM;
}

/* An Active EQ carries "eq" when and only when its preset is custom. A patch
 * that only names another preset means that preset, so the parameters go;
 * one that names custom without parameters means the Custom EQ's. */
static int patch_active(struct manager *m, enum family f, const cJSON *patch, cJSON *merged) {
        const cJSON *preset = cJSON_GetObjectItemCaseSensitive(merged, "preset");
        bool custom = cJSON_IsString(preset) && strcmp(preset->valuestring, "custom") == 0;
        cJSON *eq;
        int r;

        if (cJSON_GetObjectItemCaseSensitive(patch, "eq"))
                return 0;
        if (!custom) {
                cJSON_DeleteItemFromObjectCaseSensitive(merged, "eq");
                return 0;
        }
        if (cJSON_GetObjectItemCaseSensitive(merged, "eq"))
                return 0;
        r = patch_base(m, KEY_EQ_CUSTOM, f, &eq);
        if (r < 0 || !eq)
                return r;
        return cJSON_AddItemToObject(merged, "eq", eq) ? 0 : (cJSON_Delete(eq), -ENOMEM);
}

int manager_patch_json(struct manager *m, const char *key, const char *family, const char *patch, char **ret,
                       char **ret_error) {
        char quoted[JSON_STRICT_QUOTE_MAX + 4];
        _cleanup_(cJSON_Deletep) cJSON *p = NULL, *merged = NULL;
        _cleanup_free_ char *text = NULL;
        struct value_err e = { { 0 } };
        enum family f = FAMILY_ANY;
        enum key k;
        int r;

        if (key_from_name(key, &k) < 0)
                return errmsg_setf(ret_error, -EINVAL, "unknown key \"%s\": use profile, eq.custom or eq.active",
                                   json_strict_quote(key, quoted));
        r = resolve_family(m, k, family, &f, ret_error);
        if (r < 0)
                return r;
        r = json_strict_parse(patch, strlen(patch), &p, &e);
        if (r < 0)
                return errmsg_setf(ret_error, -EINVAL, "the patch is not JSON: %s", e.msg[0] ? e.msg : "not valid");
        r = patch_base(m, k, f, &merged);
        if (r < 0)
                return errmsg_setf(ret_error, r == -EINVAL ? -EIO : r, "reading %s to patch it failed: %s", key,
                                   strerror(-r));
        merged = merge_patch_apply(TAKE_PTR(merged), p);
        if (merged && k == KEY_EQ_ACTIVE && cJSON_IsObject(merged))
                r = patch_active(m, f, p, merged);
        if (!merged || r < 0 || !(text = cJSON_PrintUnformatted(merged)))
                return errmsg_setf(ret_error, r < 0 && r != -ENOMEM ? -EIO : -ENOMEM, "patching %s failed: %s", key,
                                   strerror(r < 0 ? -r : ENOMEM));
        return manager_set_json(m, key, family_name(f), text, ret, ret_error);
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
        if (c->restored_ms)
                cJSON_AddNumberToObject(o, "restored_ms", (double) c->restored_ms);
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
        struct engine_outcome o;
        struct record rec;
        int r;

        engine_outcome_reset(&o);
        r = engine_restore(m->engine, id, &rec, &o);
        if (r == -ENOENT)
                return errmsg_setf(ret_error, r, "no conflict %" PRIu64 " in the log (see bridgectl conflicts)", id);
        if (r < 0)
                return errmsg_setf(ret_error, r == -EINVAL ? r : -EIO, "restoring conflict %" PRIu64 " failed: %s",
                                   id, strerror(-r));
        return edited(m, &rec, &o, "Restored edit", ret);
}

int manager_dismiss_conflicts(struct manager *m, const uint64_t *ids, size_t n, unsigned *ret, char **ret_error) {
        int r = engine_dismiss_conflicts(m->engine, ids, n, ret);

        if (r < 0)
                return errmsg_setf(ret_error, -EIO, "dismissing conflicts failed: %s", strerror(-r));
        log_info("Dismissed %u conflict log entr%s.", *ret, *ret == 1 ? "y" : "ies");
        manager_notify_properties(m);
        return 0;
}
