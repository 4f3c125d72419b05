/* SPDX-License-Identifier: MIT */
/* A stand-in for bridged on a private system bus, for check-units.sh's
 * policy checks: asks for org.bridged and answers every method call on
 * /org/bridged with the string "ok", so whatever a caller gets back other
 * than that is the bus's policy speaking. Prints "ready" once it owns the
 * name; exits 1 with one line when the bus refuses it the name, and by itself
 * after 60 s so that a failed check script never leaves it behind. A call of
 * Emit first broadcasts the signal Changed (a record) and then
 * org.bridged.Test1.Ping, which anyone may receive; EmitTo(as names) sends
 * Changed addressed to each name, as bridged does, then the same Ping.
 *
 * bus-peer --listen: a client instead; subscribes to every signal from
 * org.bridged, prints "listening NAME" (its unique name), then one line per
 * signal (its member) until Ping, and exits 0. A signal from one sender
 * keeps its order, so a Changed the bus lets through is printed before the
 * Ping. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <systemd/sd-bus.h>

#define BUS_PEER_LIFETIME_USEC (60ULL * 1000000ULL)

/* Changed addressed to destination (NULL: broadcast). */
static void bus_peer_changed(sd_bus *bus, const char *destination) {
        sd_bus_message *s = NULL;
        int r = sd_bus_message_new_signal(bus, &s, "/org/bridged", "org.bridged.Manager1", "Changed");

        if (r >= 0 && destination)
                r = sd_bus_message_set_destination(s, destination);
        if (r >= 0)
                r = sd_bus_message_append(s, "ss", "profile", "{\"key\": \"profile\"}");
        if (r >= 0)
                (void) sd_bus_send(bus, s, NULL);
        sd_bus_message_unref(s);
}

static int bus_peer_reply(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        sd_bus *bus = sd_bus_message_get_bus(m);
        const char *name;

        (void) userdata;
        (void) error;
        if (!sd_bus_message_is_method_call(m, NULL, NULL))
                return 0;
        if (sd_bus_message_is_method_call(m, NULL, "Emit"))
                bus_peer_changed(bus, NULL);
        if (sd_bus_message_is_method_call(m, NULL, "EmitTo") && sd_bus_message_enter_container(m, 'a', "s") >= 0)
                while (sd_bus_message_read(m, "s", &name) > 0)
                        bus_peer_changed(bus, name);
        if (sd_bus_message_is_method_call(m, NULL, "Emit") || sd_bus_message_is_method_call(m, NULL, "EmitTo"))
                (void) sd_bus_emit_signal(bus, "/org/bridged", "org.bridged.Test1", "Ping", "");
        return sd_bus_reply_method_return(m, "s", "ok");
}

static unsigned long long bus_peer_now_usec(void) {
        struct timespec ts;

        (void) clock_gettime(CLOCK_MONOTONIC, &ts);
        return (unsigned long long) ts.tv_sec * 1000000ULL + (unsigned long long) ts.tv_nsec / 1000ULL;
}

static int bus_peer_serve(sd_bus *bus) {
        unsigned long long deadline = bus_peer_now_usec() + BUS_PEER_LIFETIME_USEC;

        for (;;) {
                unsigned long long now = bus_peer_now_usec();
                int r;

                if (now >= deadline)
                        return 0;
                r = sd_bus_process(bus, NULL);
                if (r < 0)
                        return r == -ECONNRESET || r == -ENOTCONN ? 0 : r;
                if (r > 0)
                        continue;
                r = sd_bus_wait(bus, deadline - now);
                if (r < 0 && r != -EINTR)
                        return r;
        }
}

static int bus_peer_on_signal(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        bool *done = userdata;

        (void) error;
        printf("%s\n", sd_bus_message_get_member(m));
        (void) fflush(stdout);
        if (strcmp(sd_bus_message_get_member(m), "Ping") == 0)
                *done = true;
        return 0;
}

static int bus_peer_listen(void) {
        unsigned long long deadline = bus_peer_now_usec() + BUS_PEER_LIFETIME_USEC;
        sd_bus *bus = NULL;
        const char *name = NULL;
        bool done = false;
        int r;

        r = sd_bus_open_system(&bus);
        if (r >= 0)
                r = sd_bus_match_signal(bus, NULL, "org.bridged", NULL, NULL, NULL, bus_peer_on_signal, &done);
        if (r >= 0)
                r = sd_bus_get_unique_name(bus, &name);
        if (r < 0) {
                fprintf(stderr, "bus-peer: cannot listen: %s\n", strerror(-r));
                return 2;
        }
        printf("listening %s\n", name);
        (void) fflush(stdout);
        while (!done && bus_peer_now_usec() < deadline) {
                r = sd_bus_process(bus, NULL);
                if (r < 0)
                        break;
                if (r == 0)
                        (void) sd_bus_wait(bus, deadline - bus_peer_now_usec());
        }
        sd_bus_flush_close_unref(bus);
        return done ? 0 : 2;
}

int main(int argc, char *argv[]) {
        sd_bus *bus = NULL;
        int r;

        if (argc > 1 && strcmp(argv[1], "--listen") == 0)
                return bus_peer_listen();
        r = sd_bus_open_system(&bus);
        if (r >= 0)
                r = sd_bus_add_object(bus, NULL, "/org/bridged", bus_peer_reply, NULL);
        if (r < 0) {
                fprintf(stderr, "bus-peer: cannot connect: %s\n", strerror(-r));
                return 2;
        }
        r = sd_bus_request_name(bus, "org.bridged", 0);
        if (r < 0) {
                fprintf(stderr, "bus-peer: cannot own org.bridged: %s\n", strerror(-r));
                sd_bus_flush_close_unref(bus);
                return 1;
        }
        printf("ready\n");
        (void) fflush(stdout);
        r = bus_peer_serve(bus);
        sd_bus_flush_close_unref(bus);
        return r < 0 ? 2 : 0;
}
