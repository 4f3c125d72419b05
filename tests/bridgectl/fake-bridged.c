/* SPDX-License-Identifier: MIT */
/* A stand-in for bridged, for check-output.sh's golden files: owns
 * org.bridged on the bus in DBUS_SYSTEM_BUS_ADDRESS and answers each call
 * on /org/bridged from a directory of canned answers, so that bridgectl's
 * text can be compared with a file byte for byte.
 *
 *   fake-bridged DIR
 *
 * A call of MEMBER (with first string argument ARG, if any) is answered
 * from DIR/MEMBER-ARG.json, else DIR/MEMBER.json (the string the method
 * returns), else DIR/MEMBER.error (first line the error name, the rest the
 * message), else org.freedesktop.DBus.Error.UnknownMethod. DismissConflicts
 * answers the number in DIR/DismissConflicts.count. Prints "ready" once it
 * owns the name (queued behind the fake of the case before, whose exit the
 * bus may not have seen yet); exits by itself after 60 s. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <systemd/sd-bus.h>

#define FAKE_LIFETIME_USEC (60ULL * 1000000ULL)

static const char *dir;

static char *read_file(const char *name) {
        char path[1024], *buf = NULL;
        size_t len = 0;
        FILE *f;

        (void) snprintf(path, sizeof(path), "%s/%s", dir, name);
        f = fopen(path, "re");
        if (!f)
                return NULL;
        buf = malloc(1 << 20);
        if (buf) {
                len = fread(buf, 1, (1 << 20) - 1, f);
                while (len > 0 && buf[len - 1] == '\n')
                        len--;
                buf[len] = '\0';
        }
        fclose(f);
        return buf;
}

static int on_call(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        const char *member = sd_bus_message_get_member(m), *arg = NULL;
        char name[256], *text;
        int r;

        (void) userdata;
        if (!sd_bus_message_is_method_call(m, "org.bridged.Manager1", NULL))
                return 0;
        if (sd_bus_message_peek_type(m, NULL, NULL) > 0 && sd_bus_message_read_basic(m, 's', &arg) < 0)
                arg = NULL;
        if (strcmp(member, "DismissConflicts") == 0) {
                text = read_file("DismissConflicts.count");
                r = sd_bus_reply_method_return(m, "u", text ? (uint32_t) strtoul(text, NULL, 10) : 0);
                free(text);
                return r;
        }
        text = NULL;
        if (arg) {
                (void) snprintf(name, sizeof(name), "%s-%s.json", member, arg);
                text = read_file(name);
        }
        if (!text) {
                (void) snprintf(name, sizeof(name), "%s.json", member);
                text = read_file(name);
        }
        if (text) {
                r = sd_bus_reply_method_return(m, "s", text);
                free(text);
                return r;
        }
        (void) snprintf(name, sizeof(name), "%s.error", member);
        text = read_file(name);
        if (text) {
                char *nl = strchr(text, '\n');

                if (nl)
                        *nl++ = '\0';
                r = sd_bus_error_set(error, text, nl ? nl : "");
                free(text);
                return r;
        }
        return sd_bus_error_setf(error, SD_BUS_ERROR_UNKNOWN_METHOD, "no canned answer for %s", member);
}

static int on_acquired(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        const char *name = NULL;

        (void) error;
        if (sd_bus_message_read_basic(m, 's', &name) >= 0 && name && strcmp(name, "org.bridged") == 0)
                *(int *) userdata = 1;
        return 0;
}

static unsigned long long now_usec(void) {
        struct timespec ts;

        (void) clock_gettime(CLOCK_MONOTONIC, &ts);
        return (unsigned long long) ts.tv_sec * 1000000ULL + (unsigned long long) ts.tv_nsec / 1000ULL;
}

int main(int argc, char *argv[]) {
        unsigned long long deadline = now_usec() + FAKE_LIFETIME_USEC;
        sd_bus *bus = NULL;
        int owned = 0, r;

        if (argc != 2) {
                fprintf(stderr, "usage: fake-bridged DIR\n");
                return 2;
        }
        dir = argv[1];
        r = sd_bus_open_system(&bus);
        if (r >= 0)
                r = sd_bus_add_object(bus, NULL, "/org/bridged", on_call, NULL);
        if (r >= 0)
                r = sd_bus_match_signal(bus, NULL, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                        "org.freedesktop.DBus", "NameAcquired", on_acquired, &owned);
        if (r >= 0)
                r = sd_bus_request_name(bus, "org.bridged", SD_BUS_NAME_QUEUE);
        if (r > 0)
                owned = 1;
        while (r >= 0 && !owned && now_usec() < deadline) {
                r = sd_bus_process(bus, NULL);
                if (r == 0)
                        r = sd_bus_wait(bus, deadline - now_usec());
        }
        if (r >= 0 && !owned)
                r = -ETIMEDOUT;
        if (r < 0) {
                fprintf(stderr, "fake-bridged: %s\n", strerror(-r));
                return 1;
        }
        printf("ready\n");
        (void) fflush(stdout);
        while (now_usec() < deadline) {
                r = sd_bus_process(bus, NULL);
                if (r < 0)
                        break;
                if (r == 0)
                        (void) sd_bus_wait(bus, deadline - now_usec());
        }
        sd_bus_flush_close_unref(bus);
        return 0;
}
