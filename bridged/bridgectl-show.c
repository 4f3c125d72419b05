/* SPDX-License-Identifier: MIT */
/* bridgectl's answers as text a person reads: Key: value lines aligned as
 * bluetoothctl info and nmcli print them, values in words
 * (codec/describe.c), times in local time, this host named. The JSON stays
 * the API's, for --json. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bridgectl.h"
#include "codec/describe.h"
#include "codec/recjson.h"

/* "Key:" and the value, aligned as bluetoothctl info and nmcli print them;
 * an indented key (a Buds' or a conflict's) aligns its values among its own. */
__attribute__((format(printf, 2, 3)))
static void field(const char *key, const char *fmt, ...) {
        int indent = (int) strspn(key, " ");
        va_list ap;

        printf("%-*s ", 11 + indent, key);
        va_start(ap, fmt);
        vprintf(fmt, ap);
        va_end(ap);
        putchar('\n');
}

/* A time as this machine's local time; "never" without one. */
static const char *local_time(const cJSON *ms, char buf[static 64]) {
        struct tm tm;
        time_t t;

        if (!cJSON_IsNumber(ms) || ms->valuedouble <= 0)
                return "never";
        t = (time_t) (ms->valuedouble / 1000);
        if (!localtime_r(&t, &tm) || !strftime(buf, 64, "%Y-%m-%d %H:%M:%S %Z", &tm))
                return "?";
        return buf;
}

/* The daemon's node id, asked once, to tell this host's edits from others'. */

static const char *this_node_id(void) {
        static char node[17];
        static bool asked;
        sd_bus_message *reply = NULL;
        const char *s;
        cJSON *j;

        if (asked || !arg_bus)
                return node[0] ? node : NULL;
        asked = true;
        if (sd_bus_call_method(arg_bus, SERVICE, PATH, IFACE, "Status", NULL, &reply, NULL) >= 0 &&
            sd_bus_message_read(reply, "s", &s) >= 0 && (j = cJSON_Parse(s))) {
                (void) snprintf(node, sizeof(node), "%s", str_or(j, "node_id", ""));
                cJSON_Delete(j);
        }
        sd_bus_message_unref(reply);
        return node[0] ? node : NULL;
}

/* "this host (00a1…)" or the origin as it is. */
void origin_words(const char *origin, char *buf, size_t size) {
        const char *me = this_node_id();

        if (me && strcmp(me, origin) == 0)
                (void) snprintf(buf, size, "this host (%s)", origin);
        else if (strcmp(origin, "0000000000000000") == 0)
                (void) snprintf(buf, size, "the factory");
        else
                (void) snprintf(buf, size, "host %s", origin);
}

/* One record in words: its value, when and by whom, derived or not. */
static void print_record(const char *indent, const cJSON *j) {
        struct record r;
        char value[1024], when[64], by[64], label[32];
        struct value_err e = { { 0 } };
        const cJSON *stamp = cJSON_GetObjectItemCaseSensitive(j, "stamp");

        if (recjson_record_from(j, &r, &e) < 0) {
                char *text = cJSON_PrintUnformatted(j);

                printf("%s%s\n", indent, text ? text : "?");
                free(text);
                return;
        }
        (void) value_describe(&r.value, value, sizeof(value));
        origin_words(str_or(stamp, "origin", "?"), by, sizeof(by));
        (void) snprintf(label, sizeof(label), "%sValue:", indent);
        field(label, "%s", value);
        if (r.value.key != KEY_PROFILE) {
                (void) snprintf(label, sizeof(label), "%sFamily:", indent);
                field(label, "%s%s", family_name(r.value.family),
                      r.flags & RECORD_DERIVED ? " (converted from the other family's value)" : "");
        }
        (void) snprintf(label, sizeof(label), "%sChanged:", indent);
        field(label, "%s by %s", stamp_is_factory(r.stamp) ? "never (factory value)" :
              local_time(cJSON_GetObjectItemCaseSensitive(stamp, "ms"), when), by);
}

int show_record(const cJSON *j) {
        field("Item:", "%s", str_or(j, "key", "?"));
        print_record("", j);
        return EXIT_SUCCESS;
}

static const char *state_words(const char *state) {
        if (strcmp(state, "idle") == 0)
                return "idle: in step with the server";
        if (strcmp(state, "syncing") == 0)
                return "syncing";
        if (strcmp(state, "offline") == 0)
                return "offline: changes wait here and go when the server is back";
        if (strcmp(state, "error") == 0)
                return "error: syncing stopped until the cause is fixed (see Error)";
        return state;
}

/* Why there are no Buds, and what a person does about it. */
static void print_no_buds(const cJSON *bt) {
        if (!bt) {
                field("Buds:", "none seen");
                return;
        }
        if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(bt, "bluetoothd")))
                field("Buds:", "none: bluetoothd is not running (sudo systemctl start bluetooth)");
        else if (num_or(bt, "adapters", 0) == 0)
                field("Buds:", "none: there is no Bluetooth adapter (plug one in; rfkill list shows a blocked one)");
        else if (num_or(bt, "powered", 0) == 0)
                field("Buds:", "none: the Bluetooth adapter is off (bluetoothctl power on)");
        else {
                field("Buds:", "none: no paired device offers the Buds Sync service");
                printf("%-11s Pair the Buds once: put them in pairing mode, then\n", "");
                printf("%-11s   bluetoothctl scan le      (wait for the Buds' address, then Ctrl-C)\n", "");
                printf("%-11s   bluetoothctl pair ADDRESS\n", "");
                printf("%-11s   bluetoothctl trust ADDRESS\n", "");
                printf("%-11s bridged finds them by itself and connects when they are out of the case.\n", "");
        }
}

static void print_buds(const cJSON *b) {
        const cJSON *battery = cJSON_GetObjectItemCaseSensitive(b, "battery");
        const cJSON *items = cJSON_GetObjectItemCaseSensitive(b, "items");
        const cJSON *errors = cJSON_GetObjectItemCaseSensitive(b, "errors"), *item;
        const char *name = str_or(b, "name", "");

        printf("Buds %s%s%s%s\n", str_or(b, "address", "?"), *name ? " \"" : "", name, *name ? "\"" : "");
        field("  Family:", "%s", str_or(b, "family", "?"));
        field("  Connected:", "%s", cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(b, "connected")) ? "yes" : "no");
        if (cJSON_IsNumber(battery))
                field("  Battery:", "%d%%", battery->valueint);
        field("  Firmware:", "%s", str_or(b, "firmware", "?"));
        field("  Buds id:", "%s", str_or(b, "buds_id", "?"));
        cJSON_ArrayForEach(item, items) {
                char label[32];
                const char *why = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(errors, item->string));

                (void) snprintf(label, sizeof(label), "  %s:", item->string);
                field(label, "%s%s%s", cJSON_GetStringValue(item) ?: "?", why ? ": " : "", why ? why : "");
        }
}

int show_status(const cJSON *j) {
        const cJSON *buds = cJSON_GetObjectItemCaseSensitive(j, "buds"), *bt, *b;
        const char *error = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "last_error"));
        char when[64];
        double adapters;

        bt = cJSON_GetObjectItemCaseSensitive(j, "bluetooth");
        field("State:", "%s", state_words(str_or(j, "state", "?")));
        field("Server:", "%s (%s)", str_or(j, "server", "?"),
              cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "online")) ? "reachable" : "not reachable");
        field("Last sync:", "%s", local_time(cJSON_GetObjectItemCaseSensitive(j, "last_sync_ms"), when));
        field("Pending:", "%.0f change(s) to push", num_or(j, "pending", 0));
        field("Conflicts:", "%.0f%s", num_or(j, "conflicts", 0),
              num_or(j, "conflicts", 0) > 0 ? " (bridgectl conflicts)" : "");
        if (error)
                field("Error:", "%s", error);
        field("Node id:", "%s", str_or(j, "node_id", "?"));
        field("Version:", "%s", str_or(j, "version", "?"));
        if (bt) {
                adapters = num_or(bt, "adapters", 0);
                if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(bt, "bluetoothd")))
                        field("Bluetooth:", "bluetoothd is not running");
                else
                        field("Bluetooth:", "bluetoothd running, %.0f adapter%s (%.0f on), %.0f paired device%s",
                              adapters, adapters == 1 ? "" : "s", num_or(bt, "powered", 0),
                              num_or(bt, "paired", 0), num_or(bt, "paired", 0) == 1 ? "" : "s");
        }
        if (cJSON_GetArraySize(buds) == 0 || (bt && num_or(bt, "buds", 0) == 0 &&
                                               !cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(bt, "bluetoothd"))))
                print_no_buds(bt);
        cJSON_ArrayForEach(b, buds)
                print_buds(b);
        return EXIT_SUCCESS;
}

/* Counters: one "name: value" line each, latencies as p50/p99 (n). */
int show_stats(const cJSON *j) {
        const cJSON *item, *lat;

        cJSON_ArrayForEach(item, j) {
                char label[48];

                if (!cJSON_IsNumber(item))
                        continue;
                (void) snprintf(label, sizeof(label), "%s:", item->string);
                printf("%-18s %.0f\n", label, item->valuedouble);
        }
        cJSON_ArrayForEach(lat, cJSON_GetObjectItemCaseSensitive(j, "latency_ms")) {
                char label[48];

                (void) snprintf(label, sizeof(label), "%s:", lat->string);
                printf("%-18s p50 %.1f ms, p99 %.1f ms (%.0f)\n", label, num_or(lat, "p50", 0),
                       num_or(lat, "p99", 0), num_or(lat, "n", 0));
        }
        return EXIT_SUCCESS;
}

static const char *source_words(const char *from) {
        if (strcmp(from, "bridge") == 0)
                return "this host";
        if (strcmp(from, "buds") == 0)
                return "the Buds";
        if (strcmp(from, "server") == 0)
                return "the server";
        return from;
}

int show_conflicts(const cJSON *j) {
        const cJSON *c;

        if (cJSON_GetArraySize(j) == 0) {
                puts("No conflicts logged.");
                return EXIT_SUCCESS;
        }
        cJSON_ArrayForEach(c, j) {
                const cJSON *restored = cJSON_GetObjectItemCaseSensitive(c, "restored_ms");
                char when[64];

                printf("Conflict %.0f: %s (%s), %s\n", num_or(c, "id", 0), str_or(c, "key", "?"),
                       str_or(c, "family", "?"), local_time(cJSON_GetObjectItemCaseSensitive(c, "at_ms"), when));
                printf("  Kept, from %s:\n", source_words(str_or(c, "kept_from", "?")));
                print_record("    ", cJSON_GetObjectItemCaseSensitive(c, "kept"));
                printf("  Lost, from %s:\n", source_words(str_or(c, "lost_from", "?")));
                print_record("    ", cJSON_GetObjectItemCaseSensitive(c, "lost"));
                if (restored)
                        printf("  Restored %s.\n", local_time(restored, when));
                else
                        printf("  To apply the lost value again: bridgectl restore %.0f\n", num_or(c, "id", 0));
        }
        return EXIT_SUCCESS;
}

int show_sync(const cJSON *j) {
        printf("Pushed %.0f, pulled %.0f, written to the Buds %.0f.\n", num_or(j, "pushed", 0),
               num_or(j, "pulled", 0), num_or(j, "written_to_buds", 0));
        return EXIT_SUCCESS;
}
