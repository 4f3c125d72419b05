/* SPDX-License-Identifier: MIT */
/* org.bridged.Manager1 (see control.h). Arguments are checked here for form
 * (the manager checks content); answers are the API's JSON strings. Sync()
 * answers asynchronously, when the manager is done. */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <systemd/sd-login.h>

#include "access.h"
#include "control-private.h"
#include "codec/recjson.h"
#include "common/cleanup.h"
#include "log.h"

static const char *error_name(int r) {
        switch (-r) {
        case EINVAL:
                return "org.bridged.Error.InvalidArgument";
        case ENOTCONN:
                return "org.bridged.Error.NotConnected";
        case ENETDOWN:
                return "org.bridged.Error.Offline";
        case ENOENT:
                return "org.bridged.Error.NotFound";
        }
        return "org.bridged.Error.Failed";
}

static int reply_error(sd_bus_error *ret_error, int r, const char *message) {
        return sd_bus_error_set(ret_error, error_name(r), message && *message ? message : strerror(-r));
}

/* Replies with the JSON (taken) or with the error (taken). */
static int reply(sd_bus_message *m, sd_bus_error *ret_error, int r, char *json, char *error) {
        int k;

        if (r < 0)
                k = reply_error(ret_error, r, error);
        else
                k = sd_bus_reply_method_return(m, "s", json);
        free(json);
        free(error);
        return k;
}

#define CONTROL_GIDS_MAX 256

/* The caller's user and groups as the bus daemon saw them when it connected
 * (GetConnectionCredentials; /proc is out of reach under ProtectProc=). A bus
 * that does not say the groups: the user's groups from the user database,
 * which is also what the bus's own policy goes by. */
static int control_caller(struct control *c, sd_bus_message *m, struct access_caller *ret, gid_t *gids) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        const char *sender = sd_bus_message_get_sender(m), *field;
        bool have_uid = false, have_gids = false;
        int r;

        if (!sender)
                return -EPERM;
        r = sd_bus_call_method(c->bus, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                               "GetConnectionCredentials", NULL, &reply, "s", sender);
        if (r < 0)
                return r;
        *ret = (struct access_caller) { .gids = gids };
        r = sd_bus_message_enter_container(reply, 'a', "{sv}");
        while (r >= 0 && (r = sd_bus_message_enter_container(reply, 'e', "sv")) > 0) {
                r = sd_bus_message_read(reply, "s", &field);
                if (r >= 0 && strcmp(field, "UnixUserID") == 0) {
                        uint32_t uid;

                        r = sd_bus_message_read(reply, "v", "u", &uid);
                        ret->uid = (uid_t) uid;
                        have_uid = r >= 0;
                } else if (r >= 0 && strcmp(field, "UnixGroupIDs") == 0) {
                        const uint32_t *ids;
                        size_t size;

                        r = sd_bus_message_enter_container(reply, 'v', "au");
                        if (r >= 0)
                                r = sd_bus_message_read_array(reply, 'u', (const void **) &ids, &size);
                        for (size_t i = 0; r >= 0 && i < size / sizeof(uint32_t) && i < CONTROL_GIDS_MAX; i++)
                                gids[ret->n_gids++] = (gid_t) ids[i];
                        if (r >= 0)
                                r = sd_bus_message_exit_container(reply);
                        have_gids = r >= 0;
                } else if (r >= 0) {
                        r = sd_bus_message_skip(reply, "v");
                }
                if (r >= 0)
                        r = sd_bus_message_exit_container(reply);
        }
        if (r < 0)
                return r;
        if (!have_uid)
                return -ENODATA;
        if (!have_gids) {
                struct passwd pw, *found = NULL;
                char buf[4096];
                int n = CONTROL_GIDS_MAX;

                if (getpwuid_r(ret->uid, &pw, buf, sizeof(buf), &found) == 0 && found &&
                    getgrouplist(pw.pw_name, pw.pw_gid, gids, &n) >= 0)
                        ret->n_gids = (size_t) n;
        }
        return 0;
}

/* access.c's table; logind is asked only when the seat decides, since
 * that reads its state, and asked each time: a chvt changes the answer. */
static bool control_may(struct control *c, const struct access_caller *caller, enum access_need need) {
        struct access_caller seat = *caller;

        if (access_allowed(&c->rules, caller, need))
                return true;
        seat.on_active_seat = need == ACCESS_READ_SHARED && sd_uid_get_seats(caller->uid, 1, NULL) > 0;
        return access_allowed(&c->rules, &seat, need);
}

/* 1 when the caller may, else a D-Bus error (AccessDenied, as the bus's
 * own policy answers) and a negative errno. A watcher's credentials are
 * those the bus gave for its connection, which do not change while it is
 * connected: they are not asked again. Where the bus gives no groups, those
 * the user database gave when the watcher first called are kept as well:
 * a user taken out of a group keeps it until they connect again, as the
 * bus's own policy (which looks the groups up when a client connects) has
 * it. */
static int control_check(struct control *c, sd_bus_message *m, enum access_need need, sd_bus_error *ret_error) {
        const struct access_caller *known = control_watch_find(c->watch, sd_bus_message_get_sender(m) ?: "");
        gid_t gids[CONTROL_GIDS_MAX];
        struct access_caller caller;
        int r = 0;

        if (known)
                caller = *known;
        else
                r = control_caller(c, m, &caller, gids);
        if (r < 0)
                return sd_bus_error_setf(ret_error, SD_BUS_ERROR_ACCESS_DENIED,
                                         "cannot tell who is calling (%s), so no access", strerror(-r));
        if (control_may(c, &caller, need))
                return 1;
        return sd_bus_error_set(ret_error, SD_BUS_ERROR_ACCESS_DENIED, access_refusal(need));
}

static int method_status(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        struct control *c = userdata;
        char *json = NULL;

        int r = manager_status_json(c->manager, &json);

        return reply(m, ret_error, r, json, NULL);
}

static int method_stats(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        struct control *c = userdata;
        char *json = NULL;

        int r = manager_stats_json(c->manager, &json);

        return reply(m, ret_error, r, json, NULL);
}

static int method_list_conflicts(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        struct control *c = userdata;
        char *json = NULL;
        int r = control_check(c, m, ACCESS_READ_SHARED, ret_error);

        if (r <= 0)
                return r;
        r = manager_conflicts_json(c->manager, &json);
        return reply(m, ret_error, r, json, NULL);
}

static int method_get(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        struct control *c = userdata;
        char *json = NULL, *error = NULL;
        const char *key;
        int r = control_check(c, m, ACCESS_READ_SHARED, ret_error);

        if (r <= 0)
                return r;
        r = sd_bus_message_read(m, "s", &key);
        if (r < 0)
                return r;
        r = manager_get_json(c->manager, key, &json, &error);
        return reply(m, ret_error, r, json, error);
}

static int method_set(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        struct control *c = userdata;
        char *json = NULL, *error = NULL;
        const char *key, *family, *value;
        int r = control_check(c, m, ACCESS_CHANGE, ret_error);

        if (r <= 0)
                return r;
        r = sd_bus_message_read(m, "sss", &key, &family, &value);
        if (r < 0)
                return r;
        r = manager_set_json(c->manager, key, family, value, &json, &error);
        return reply(m, ret_error, r, json, error);
}

static int method_patch(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        struct control *c = userdata;
        char *json = NULL, *error = NULL;
        const char *key, *family, *patch;
        int r = control_check(c, m, ACCESS_CHANGE, ret_error);

        if (r <= 0)
                return r;
        r = sd_bus_message_read(m, "sss", &key, &family, &patch);
        if (r < 0)
                return r;
        r = manager_patch_json(c->manager, key, family, patch, &json, &error);
        return reply(m, ret_error, r, json, error);
}

static int method_restore(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        struct control *c = userdata;
        char *json = NULL, *error = NULL;
        uint64_t id;
        int r = control_check(c, m, ACCESS_CHANGE, ret_error);

        if (r <= 0)
                return r;
        r = sd_bus_message_read(m, "t", &id);
        if (r < 0)
                return r;
        r = manager_restore_json(c->manager, id, &json, &error);
        return reply(m, ret_error, r, json, error);
}

static int method_dismiss(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        struct control *c = userdata;
        _cleanup_free_ char *error = NULL;
        const void *ids;
        size_t size;
        unsigned removed = 0;
        int r = control_check(c, m, ACCESS_CHANGE, ret_error);

        if (r <= 0)
                return r;
        r = sd_bus_message_read_array(m, 't', &ids, &size);
        if (r < 0)
                return r;
        /* one statement per id, in one transaction: a bound on the time the
         * loop is held (3 million ids took 1.8 s) */
        if (size / sizeof(uint64_t) > CONF_CONFLICT_LOG_MAX)
                return sd_bus_error_setf(ret_error, error_name(-EINVAL), "DismissConflicts: %zu ids, at most %d at "
                                         "a time (the conflict log holds no more entries)",
                                         size / sizeof(uint64_t), CONF_CONFLICT_LOG_MAX);
        r = manager_dismiss_conflicts(c->manager, ids, size / sizeof(uint64_t), &removed, &error);
        if (r < 0)
                return reply_error(ret_error, r, error);
        return sd_bus_reply_method_return(m, "u", removed);
}

static void on_sync_done(int r, const char *json, const char *error, void *userdata) {
        sd_bus_message *m = userdata;
        sd_bus_error e = SD_BUS_ERROR_NULL;

        if (r < 0) {
                if (r == -ENETDOWN)
                        (void) sd_bus_error_setf(&e, error_name(r), "the server cannot be reached (%s); changes "
                                                 "wait in the outbox and go when it is back",
                                                 error ? error : "offline");
                else
                        (void) reply_error(&e, r, error);
                (void) sd_bus_reply_method_error(m, &e);
                sd_bus_error_free(&e);
        } else {
                (void) sd_bus_reply_method_return(m, "s", json);
        }
        sd_bus_message_unref(m);
}

static int method_sync(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        struct control *c = userdata;
        int r = control_check(c, m, ACCESS_CHANGE, ret_error);

        if (r <= 0)
                return r;
        r = manager_sync(c->manager, on_sync_done, sd_bus_message_ref(m));
        if (r < 0) {
                sd_bus_message_unref(m);
                if (r == -EBUSY)
                        return sd_bus_error_set(ret_error, error_name(-EIO), "a sync is already running; try again "
                                                "when it ends");
                if (r == -EPERM)
                        return sd_bus_error_setf(ret_error, error_name(-EIO), "syncing is stopped: %s",
                                                 manager_status_line(c->manager));
                return reply_error(ret_error, r, NULL);
        }
        return 1;
}

static int property_get(sd_bus *bus, const char *path, const char *interface, const char *property,
                        sd_bus_message *reply_msg, void *userdata, sd_bus_error *ret_error) {
        struct control *c = userdata;

        (void) bus;
        (void) path;
        (void) interface;
        (void) ret_error;
        if (strcmp(property, "State") == 0)
                return sd_bus_message_append(reply_msg, "s", manager_state_name(manager_state(c->manager)));
        if (strcmp(property, "Online") == 0)
                return sd_bus_message_append(reply_msg, "b", manager_online(c->manager));
        if (strcmp(property, "Pending") == 0)
                return sd_bus_message_append(reply_msg, "u", manager_pending(c->manager));
        if (strcmp(property, "Bluetoothd") == 0)
                return sd_bus_message_append(reply_msg, "b", manager_bluetoothd(c->manager));
        return sd_bus_message_append(reply_msg, "u", manager_conflicts(c->manager));
}

static const sd_bus_vtable manager_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD_WITH_ARGS("Status", SD_BUS_NO_ARGS, SD_BUS_RESULT("s", status), method_status,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Get", SD_BUS_ARGS("s", key), SD_BUS_RESULT("s", record), method_get,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Set", SD_BUS_ARGS("s", key, "s", family, "s", value), SD_BUS_RESULT("s", record),
                                method_set, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Patch", SD_BUS_ARGS("s", key, "s", family, "s", patch),
                                SD_BUS_RESULT("s", record), method_patch, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Sync", SD_BUS_NO_ARGS, SD_BUS_RESULT("s", result), method_sync,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Stats", SD_BUS_NO_ARGS, SD_BUS_RESULT("s", stats), method_stats,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("ListConflicts", SD_BUS_NO_ARGS, SD_BUS_RESULT("s", conflicts),
                                method_list_conflicts, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Restore", SD_BUS_ARGS("t", id), SD_BUS_RESULT("s", record), method_restore,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("DismissConflicts", SD_BUS_ARGS("at", ids), SD_BUS_RESULT("u", dismissed),
                                method_dismiss, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_SIGNAL_WITH_ARGS("Changed", SD_BUS_ARGS("s", key, "s", record), 0),
        SD_BUS_PROPERTY("State", "s", property_get, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Online", "b", property_get, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Pending", "u", property_get, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Conflicts", "u", property_get, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Bluetoothd", "b", property_get, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_VTABLE_END,
};

/* "/org/bridged" and what is under it: bridged's objects. */
static bool control_path(const char *path) {
        size_t n = strlen(CONTROL_PATH);

        return path && strncmp(path, CONTROL_PATH, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

/* A client that will not have the Changed signal: each bound said once. */
static void watch_refused(struct control *c, int r, const char *sender, uid_t uid) {
        if (r == -EUSERS && !c->watch_full_logged) {
                log_warning("%zu clients of the control API are connected already: %s and any further one gets "
                            "no Changed signal until some leave (said once).", control_watch_count(c->watch),
                            sender);
                c->watch_full_logged = true;
        } else if (r == -EDQUOT && !c->watch_user_logged) {
                log_warning("User %u has %d clients of the control API connected already: %s and any further "
                            "one of that user's gets no Changed signal until some leave (said once).",
                            (unsigned) uid, CONTROL_WATCH_PER_USER, sender);
                c->watch_user_logged = true;
        } else if (r != -EUSERS && r != -EDQUOT) {
                log_debug_errno(r, "Cannot watch %s for the Changed signal, ignoring: %m", sender);
        }
}

/* Before any dispatch: a call of any method on bridged's objects (Status,
 * properties, GetManagedObjects as well as Get) makes its sender a watcher,
 * the way a client subscribes to systemd's Manager, but without asking: a
 * client reads the current values first anyway, and then gets the Changed
 * signals (control-watch.h). Whether it may read them is asked at each send.
 * Nothing here refuses the call. */
static int on_incoming(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        struct control *c = userdata;
        const char *sender = sd_bus_message_get_sender(m);
        gid_t gids[CONTROL_GIDS_MAX];
        struct access_caller caller = {};
        int r;

        (void) ret_error;
        if (!sd_bus_message_is_method_call(m, NULL, NULL) || !sender || !control_path(sd_bus_message_get_path(m)) ||
            control_watch_find(c->watch, sender))
                return 0;
        /* full: no round trip to the bus for credentials not kept */
        r = control_watch_count(c->watch) >= CONTROL_WATCH_MAX ? -EUSERS : control_caller(c, m, &caller, gids);
        if (r >= 0)
                r = control_watch_add(c->watch, sender, &caller);
        if (r < 0)
                watch_refused(c, r, sender, caller.uid);
        return 0;
}

/* Looked up once: a group made later counts from the next start. */
static void control_rules_init(struct access_rules *rules) {
        struct group gr, *found = NULL;
        char buf[4096];

        rules->self = geteuid();
        rules->has_group = getgrnam_r(ACCESS_GROUP, &gr, buf, sizeof(buf), &found) == 0 && found;
        if (rules->has_group)
                rules->group = gr.gr_gid;
}

int control_new(sd_bus *bus, struct control **ret) {
        struct control *c = calloc(1, sizeof(*c));
        int r;

        if (!c)
                return -ENOMEM;
        c->bus = sd_bus_ref(bus);
        c->online = -1;
        c->bluetoothd = -1;
        control_rules_init(&c->rules);
        r = control_watch_new(bus, CONTROL_WATCH_MAX, CONTROL_WATCH_PER_USER, &c->watch);
        if (r >= 0)
                r = sd_bus_add_filter(bus, &c->filter_slot, on_incoming, c);
        if (r >= 0)
                r = sd_bus_add_object_vtable(bus, &c->slot, CONTROL_PATH, CONTROL_INTERFACE, manager_vtable, c);
        if (r >= 0)
                r = control_buds_init(c);
        if (r < 0) {
                control_free(c);
                return r;
        }
        *ret = c;
        return 0;
}

struct control *control_free(struct control *c) {
        if (!c)
                return NULL;
        control_buds_done(c);
        sd_bus_slot_unref(c->slot);
        sd_bus_slot_unref(c->filter_slot);
        c->watch = control_watch_free(c->watch);
        sd_bus_unref(c->bus);
        free(c);
        return NULL;
}

void control_set_manager(struct control *c, struct manager *m) {
        c->manager = m;
        control_buds_refresh(c);
}

static bool may_read(const struct access_caller *caller, void *userdata) {
        return control_may(userdata, caller, ACCESS_READ_SHARED);
}

/* Never a broadcast: to each watcher that may read the Shared Data now. */
static void on_changed(enum key key, const struct record *intent, void *userdata) {
        struct control *c = userdata;
        char *json = recjson_record_print(intent);
        int r;

        if (!json)
                return;
        r = control_watch_signal(c->watch, may_read, c, CONTROL_PATH, CONTROL_INTERFACE, "Changed", "ss",
                                 key_name(key), json);
        if (r < 0)
                log_debug_errno(r, "Cannot send Changed: %m");
        free(json);
}

/* PropertiesChanged with just the properties whose value moved. */
static void on_properties(void *userdata) {
        struct control *c = userdata;
        const char *changed[6];
        unsigned n = 0, pending, conflicts;
        const char *state;
        int online, bluetoothd;

        if (!c->manager)
                return;
        state = manager_state_name(manager_state(c->manager));
        online = manager_online(c->manager);
        pending = manager_pending(c->manager);
        conflicts = manager_conflicts(c->manager);
        bluetoothd = manager_bluetoothd(c->manager);
        if (state != c->state)
                changed[n++] = "State";
        if (online != c->online)
                changed[n++] = "Online";
        if (pending != c->pending)
                changed[n++] = "Pending";
        if (conflicts != c->conflicts)
                changed[n++] = "Conflicts";
        if (bluetoothd != c->bluetoothd)
                changed[n++] = "Bluetoothd";
        changed[n] = NULL;
        c->state = state;
        c->online = online;
        c->pending = pending;
        c->conflicts = conflicts;
        c->bluetoothd = bluetoothd;
        if (n > 0)
                (void) sd_bus_emit_properties_changed_strv(c->bus, CONTROL_PATH, CONTROL_INTERFACE, (char **) changed);
        control_buds_refresh(c);
}

const struct manager_ops control_manager_ops = {
        .changed = on_changed,
        .properties = on_properties,
};
