/* SPDX-License-Identifier: MIT */
/* budsim: simulated Buds behind a fake bluetoothd 5.66, for the bridge's
 * tests and demo (README.md). This file is main: options, the event loop,
 * the two bus names and the "budsim: ready" line. It must never be linked
 * into the daemon. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sim.h"

static void help(void) {
        printf("budsim [OPTIONS]\n\n"
               "Simulated Buds behind a fake bluetoothd 5.66 (org.bluez), with the test\n"
               "control interface org.bridged.test.Budsim (tests/budsim/README.md).\n\n"
               "  --bus ADDRESS           D-Bus address (default: the system bus,\n"
               "                          DBUS_SYSTEM_BUS_ADDRESS)\n"
               "  --buds ADDR,FAMILY,NAME[,BUDS_ID]\n"
               "                          add Buds at start (FAMILY standard|pro|1|2;\n"
               "                          ADDR may be hciN/ADDR); repeatable\n"
               "  --adapters N            number of adapters hci0.. (1..%d, default 1)\n"
               "  --cache yes|no|always   GATT cache mode (default always, as 5.66)\n"
               "  --seed N                handle numbering seed (default time ^ pid)\n"
               "  -h --help               this text\n", SIM_ADAPTERS_MAX);
}

static void sim_init(struct sim *sim) {
        *sim = (struct sim) {
                .opt = {
                        .cache = SIM_CACHE_ALWAYS, .gatt_delay_ms = 1, .connect_delay_ms = 10,
                        .resolve_delay_ms = 10, .connect_timeout_ms = 500, .mtu = 247,
                },
                .n_adapters = 1,
                .rng = (uint64_t) time(NULL) ^ ((uint64_t) getpid() << 32) ^ 0x9e3779b97f4a7c15ull,
        };
}

static void adapters_init(struct sim *sim) {
        for (unsigned i = 0; i < sim->n_adapters; i++) {
                struct sim_adapter *a = &sim->adapter[i];

                a->sim = sim;
                a->index = i;
                a->powered = a->pairable = true;
                a->discoverable_timeout = 180;
                snprintf(a->path, sizeof(a->path), "/org/bluez/hci%u", i);
                snprintf(a->address, sizeof(a->address), "00:1B:DC:00:00:%02X", (uint8_t) (i + 1));
        }
}

static int parse_family(const char *s, enum family *ret) {
        if (strcmp(s, "standard") == 0 || strcmp(s, "1") == 0)
                *ret = FAMILY_STANDARD;
        else if (strcmp(s, "pro") == 0 || strcmp(s, "2") == 0)
                *ret = FAMILY_PRO;
        else
                return -EINVAL;
        return 0;
}

/* "ADDR,FAMILY,NAME[,BUDS_ID]" */
static int add_buds_arg(struct sim *sim, const char *arg) {
        char addr[32], fam[16], name[128];
        unsigned long long id = 0;
        struct sim_device *d;
        enum family family;
        int n;

        n = sscanf(arg, "%31[^,],%15[^,],%127[^,],%lli", addr, fam, name, &id);
        if (n < 3 || parse_family(fam, &family) < 0)
                return -EINVAL;
        if (n < 4)
                for (const char *p = addr; *p; p++)
                        id = id * 31 + (unsigned char) *p;
        return sim_device_add(sim, addr, name, family, id, &d);
}

static int parse_cache(const char *s, enum sim_cache *ret) {
        if (strcmp(s, "yes") == 0)
                *ret = SIM_CACHE_YES;
        else if (strcmp(s, "no") == 0)
                *ret = SIM_CACHE_NO;
        else if (strcmp(s, "always") == 0)
                *ret = SIM_CACHE_ALWAYS;
        else
                return -EINVAL;
        return 0;
}

static int parse_args(struct sim *sim, int argc, char **argv, char ***ret_buds) {
        static const struct option options[] = {
                { "bus", required_argument, NULL, 'b' }, { "buds", required_argument, NULL, 'B' },
                { "adapters", required_argument, NULL, 'a' }, { "cache", required_argument, NULL, 'c' },
                { "seed", required_argument, NULL, 's' }, { "help", no_argument, NULL, 'h' }, {},
        };
        int c, n = 0;

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0) {
                switch (c) {
                case 'b':
                        sim->bus_address = optarg;
                        break;
                case 'B':
                        (*ret_buds)[n++] = optarg;
                        break;
                case 'a':
                        sim->n_adapters = (unsigned) atoi(optarg);
                        if (sim->n_adapters < 1 || sim->n_adapters > SIM_ADAPTERS_MAX)
                                return -EINVAL;
                        break;
                case 'c':
                        if (parse_cache(optarg, &sim->opt.cache) < 0)
                                return -EINVAL;
                        break;
                case 's':
                        sim->rng = strtoull(optarg, NULL, 0) | 1;
                        break;
                case 'h':
                        help();
                        return 0;
                default:
                        return -EINVAL;
                }
        }
        return optind < argc ? -EINVAL : 1;
}

static int on_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        (void) si;
        (void) userdata;
        return sd_event_exit(sd_event_source_get_event(s), 0);
}

static int run(struct sim *sim) {
        sigset_t mask;
        int r;

        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigprocmask(SIG_BLOCK, &mask, NULL);
        r = sd_event_add_signal(sim->event, NULL, SIGTERM, on_signal, NULL);
        if (r >= 0)
                r = sd_event_add_signal(sim->event, NULL, SIGINT, on_signal, NULL);
        if (r >= 0)
                r = sim_bluez_start(sim);
        if (r < 0)
                return r;
        r = sim_bus_open(sim, &sim->ctl);
        if (r >= 0)
                r = sd_bus_attach_event(sim->ctl, sim->event, 0);
        if (r >= 0)
                r = sim_control_start(sim);
        if (r < 0)
                return r;
        printf("budsim: ready\n");
        fflush(stdout);
        return sd_event_loop(sim->event);
}

int main(int argc, char **argv) {
        char **buds = calloc((size_t) argc + 1, sizeof(char *));
        struct sim sim;
        int r;

        sim_init(&sim);
        r = buds ? parse_args(&sim, argc, argv, &buds) : -ENOMEM;
        if (r <= 0) {
                if (r < 0)
                        fprintf(stderr, "budsim: invalid arguments; see --help\n");
                free(buds);
                return r < 0 ? 2 : 0;
        }
        fprintf(stderr, "budsim: handle seed 0x%016llx\n", (unsigned long long) sim.rng);
        adapters_init(&sim);
        for (char **p = buds; *p && r >= 0; p++) {
                r = add_buds_arg(&sim, *p);
                if (r < 0)
                        fprintf(stderr, "budsim: --buds %s: %s\n", *p, strerror(-r));
        }
        free(buds);
        if (r >= 0)
                r = sd_event_default(&sim.event);
        if (r >= 0)
                r = run(&sim);
        if (r < 0)
                fprintf(stderr, "budsim: %s\n", strerror(-r));
        sim_bluez_stop(&sim);
        sd_bus_flush_close_unref(sim.ctl);
        sd_event_unref(sim.event);
        return r < 0 ? 1 : 0;
}
