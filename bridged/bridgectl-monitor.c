/* SPDX-License-Identifier: MIT */
/* bridgectl monitor: every event of bridged, one line each (or one JSON
 * object with --json): an item's new intent, the properties of the manager
 * and of each Buds as they change, Buds seen or forgotten, bridged stopping
 * and coming back. The matches name org.bridged, so they follow a restart.
 * bridged sends Changed only to clients that called it (and may read the
 * record): the monitor calls Status once its matches are in place, and
 * again each time bridged comes back. */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bridgectl.h"
#include "codec/describe.h"
#include "codec/recjson.h"

/* "HH:MM:SS " before each event line (none with --json: the object has "at_ms"). */
static void event_begin(void) {
        time_t t = time(NULL);
        struct tm tm;
        char stamp[16];

        if (localtime_r(&t, &tm) && strftime(stamp, sizeof(stamp), "%H:%M:%S", &tm))
                printf("%s ", stamp);
}

static void event_end(void) {
        putchar('\n');
        fflush(stdout);
}

static uint64_t now_ms(void) {
        struct timespec ts;

        (void) clock_gettime(CLOCK_REALTIME, &ts);
        return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}

static void event_json(cJSON *o) {
        char *text;

        cJSON_AddNumberToObject(o, "at_ms", (double) now_ms());
        text = cJSON_PrintUnformatted(o);
        if (text)
                puts(text);
        free(text);
        cJSON_Delete(o);
        fflush(stdout);
}

static int on_changed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        const char *key, *record;
        cJSON *j;

        (void) userdata;
        (void) ret_error;
        if (sd_bus_message_read(m, "ss", &key, &record) < 0)
                return 0;
        j = cJSON_Parse(record);
        if (arg_json) {
                cJSON *o = cJSON_CreateObject();

                cJSON_AddStringToObject(o, "event", "changed");
                cJSON_AddStringToObject(o, "key", key);
                if (j)
                        cJSON_AddItemToObject(o, "record", j);
                event_json(o);
                return 0;
        }
        {
                struct record r;
                char value[1024], by[64];

                event_begin();
                if (j && recjson_record_from(j, &r, &(struct value_err) { { 0 } }) == 0) {
                        (void) value_describe(&r.value, value, sizeof(value));
                        origin_words(str_or(cJSON_GetObjectItemCaseSensitive(j, "stamp"), "origin", "?"), by,
                                     sizeof(by));
                        printf("%s: %s (by %s)", key, value, by);
                } else {
                        printf("%s: %s", key, record);
                }
                event_end();
        }
        cJSON_Delete(j);
        return 0;
}

/* One property's value in words (s, b, u, y, a{ss}); the JSON with --json. */
static int property_value(sd_bus_message *m, char *buf, size_t size, cJSON **ret_json) {
        char type;
        const char *contents;
        int r = sd_bus_message_peek_type(m, &type, &contents);

        if (r < 0)
                return r;
        if (type != 'v')
                return -EINVAL;
        r = sd_bus_message_enter_container(m, 'v', contents);
        if (r < 0)
                return r;
        if (strcmp(contents, "s") == 0) {
                const char *v;

                r = sd_bus_message_read_basic(m, 's', &v);
                (void) snprintf(buf, size, "%s", r >= 0 ? v : "?");
                *ret_json = cJSON_CreateString(r >= 0 ? v : "");
        } else if (strcmp(contents, "b") == 0) {
                int v = 0;

                r = sd_bus_message_read_basic(m, 'b', &v);
                (void) snprintf(buf, size, "%s", v ? "yes" : "no");
                *ret_json = cJSON_CreateBool(v);
        } else if (strcmp(contents, "u") == 0 || strcmp(contents, "y") == 0) {
                uint32_t u = 0;
                uint8_t y = 0;

                r = sd_bus_message_read_basic(m, contents[0], contents[0] == 'u' ? (void *) &u : (void *) &y);
                if (contents[0] == 'y')
                        u = y;
                (void) snprintf(buf, size, "%" PRIu32, u);
                *ret_json = cJSON_CreateNumber(u);
        } else if (strcmp(contents, "a{ss}") == 0) {
                const char *k, *v;
                size_t n = 0;

                *ret_json = cJSON_CreateObject();
                buf[0] = '\0';
                r = sd_bus_message_enter_container(m, 'a', "{ss}");
                while (r >= 0 && (r = sd_bus_message_read(m, "{ss}", &k, &v)) > 0) {
                        n += (size_t) snprintf(buf + n, n < size ? size - n : 0, "%s%s %s", n ? ", " : "", k, v);
                        if (n >= size)
                                n = size - 1;
                        cJSON_AddStringToObject(*ret_json, k, v);
                }
                if (r >= 0)
                        r = sd_bus_message_exit_container(m);
        } else {
                r = sd_bus_message_skip(m, contents);
                (void) snprintf(buf, size, "(%s)", contents);
                *ret_json = cJSON_CreateNull();
        }
        if (r >= 0)
                r = sd_bus_message_exit_container(m);
        return r;
}

/* "/org/bridged/buds/AA_BB_…" → "Buds AA:BB:…"; "/org/bridged" → "". */
static void object_words(const char *path, char *buf, size_t size) {
        const char *prefix = PATH "/buds/";

        if (strncmp(path, prefix, strlen(prefix)) != 0) {
                buf[0] = '\0';
                return;
        }
        (void) snprintf(buf, size, "Buds %s ", path + strlen(prefix));
        for (char *c = buf + 5; *c; c++)
                if (*c == '_')
                        *c = ':';
}

static int on_properties(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        const char *iface, *name, *path = sd_bus_message_get_path(m);
        char who[64], value[512];

        (void) userdata;
        (void) ret_error;
        if (!path || sd_bus_message_read(m, "s", &iface) < 0 ||
            sd_bus_message_enter_container(m, 'a', "{sv}") < 0)
                return 0;
        object_words(path, who, sizeof(who));
        while (sd_bus_message_enter_container(m, 'e', "sv") > 0) {
                cJSON *v = NULL;

                if (sd_bus_message_read(m, "s", &name) < 0 || property_value(m, value, sizeof(value), &v) < 0) {
                        cJSON_Delete(v);
                        break;
                }
                (void) sd_bus_message_exit_container(m);
                if (arg_json) {
                        cJSON *o = cJSON_CreateObject();

                        cJSON_AddStringToObject(o, "event", "property");
                        cJSON_AddStringToObject(o, "path", path);
                        cJSON_AddStringToObject(o, "name", name);
                        cJSON_AddItemToObject(o, "value", v);
                        event_json(o);
                        continue;
                }
                cJSON_Delete(v);
                event_begin();
                printf("%s%s: %s", who, name, value);
                event_end();
        }
        return 0;
}

static int on_object(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        const char *path;
        bool added = strcmp(sd_bus_message_get_member(m), "InterfacesAdded") == 0;
        char who[64];

        (void) userdata;
        (void) ret_error;
        if (sd_bus_message_read(m, "o", &path) < 0)
                return 0;
        if (arg_json) {
                cJSON *o = cJSON_CreateObject();

                cJSON_AddStringToObject(o, "event", added ? "added" : "removed");
                cJSON_AddStringToObject(o, "path", path);
                event_json(o);
                return 0;
        }
        object_words(path, who, sizeof(who));
        event_begin();
        printf("%s%s", *who ? who : path, added ? "seen for the first time" : "forgotten");
        event_end();
        return 0;
}

/* Status, its answer unused: the call makes this client one bridged sends
 * Changed to. After the matches, so that nothing falls between. */
static int subscribe(sd_bus *bus, sd_bus_error *error) {
        sd_bus_message *reply = NULL;
        int r = sd_bus_call_method(bus, SERVICE, PATH, IFACE, "Status", error, &reply, NULL);

        sd_bus_message_unref(reply);
        return r;
}

/* bridged stopped or came back: the matches name org.bridged, so they
 * follow the new owner by themselves; the new bridged is told again that
 * this client watches, before the line that says it is back. */
static int on_owner(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        const char *name, *old, *new;

        (void) userdata;
        (void) ret_error;
        if (sd_bus_message_read(m, "sss", &name, &old, &new) < 0 || strcmp(name, SERVICE) != 0)
                return 0;
        if (*new)
                (void) subscribe(sd_bus_message_get_bus(m), NULL);
        if (arg_json) {
                cJSON *o = cJSON_CreateObject();

                cJSON_AddStringToObject(o, "event", *new ? "bridged-started" : "bridged-stopped");
                event_json(o);
                return 0;
        }
        event_begin();
        printf("%s", *new ? "bridged is running again" : "bridged stopped; waiting for it to come back");
        event_end();
        return 0;
}

int monitor(sd_bus *bus) {
        sd_bus_error error = SD_BUS_ERROR_NULL;
        sd_bus_message *reply = NULL;
        sigset_t mask;
        int r;

        /* not running: say so at once, instead of waiting in silence */
        r = sd_bus_call_method(bus, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                               "GetNameOwner", &error, &reply, "s", SERVICE);
        sd_bus_message_unref(reply);
        if (r < 0) {
                r = fail_bus("monitor", &error, r);
                sd_bus_error_free(&error);
                return r;
        }
        r = sd_bus_match_signal(bus, NULL, SERVICE, PATH, IFACE, "Changed", on_changed, NULL);
        if (r >= 0)
                r = sd_bus_add_match(bus, NULL, "type='signal',sender='" SERVICE "',path_namespace='" PATH "',"
                                     "interface='org.freedesktop.DBus.Properties',member='PropertiesChanged'",
                                     on_properties, NULL);
        if (r >= 0)
                r = sd_bus_match_signal(bus, NULL, SERVICE, PATH, "org.freedesktop.DBus.ObjectManager", NULL,
                                        on_object, NULL);
        if (r >= 0)
                r = sd_bus_match_signal(bus, NULL, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                        "org.freedesktop.DBus", "NameOwnerChanged", on_owner, NULL);
        if (r < 0)
                return fail_bus("monitor", NULL, r);
        r = subscribe(bus, &error);
        if (r < 0) {
                r = fail_bus("monitor", &error, r);
                sd_bus_error_free(&error);
                return r;
        }
        if (!arg_json) {
                printf("Watching bridged (Ctrl-C ends it).\n");
                fflush(stdout);
        }
        (void) sigemptyset(&mask);
        (void) sigaddset(&mask, SIGINT);
        (void) sigaddset(&mask, SIGTERM);
        (void) sigprocmask(SIG_BLOCK, &mask, NULL);
        for (;;) {
                struct timespec zero = { 0, 0 };
                if (sigtimedwait(&mask, NULL, &zero) >= 0)
                        return EXIT_SUCCESS;
                r = sd_bus_process(bus, NULL);
                if (r < 0)
                        return fail_bus("monitor", NULL, r);
                if (r > 0)
                        continue;
                r = sd_bus_wait(bus, 200 * 1000);       /* wake to see a signal */
                if (r < 0 && r != -EINTR)
                        return fail_bus("monitor", NULL, r);
        }
}
