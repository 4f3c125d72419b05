/* SPDX-License-Identifier: MIT */
/* The BlueZ client (gatt/bluez*.c) against budsim, a fake bluetoothd 5.66,
 * on a private dbus-daemon: discovery, connect and resolve, reads, writes and
 * notifications, every error class, link loss mid-operation, bluetoothd
 * restarting or crashing, both GATT cache behaviours, forged signals,
 * backoff. Every wait has a deadline. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gatt/bluez.h"
#include "codec/wire.h"
#include "tests/gatt/fixture.h"

#define ONE_PRO "--buds", FIX_ADDR1 ",pro,Left Buds,0x1122334455667788"
#define ONE_STD "--buds", FIX_ADDR2 ",standard,Right Buds"

static struct fix F;

static struct fix *start(const char *const *args) {
        int r = fix_start(&F, args);

        if (r == 77)
                skip();
        assert_int_equal(r, 0);
        return &F;
}

static int teardown(void **state) {
        (void) state;
        fix_stop(&F);
        return 0;
}

static struct bluez_buds *start_ready(const char *const *args, const char *addr) {
        struct fix *f = start(args);

        assert_int_equal(fix_client(f), 0);
        return fix_wait_ready(f, addr, 1);
}

static struct record pro_eq_active(uint32_t revision, unsigned bands) {
        struct record r = { .revision = revision, .stamp = { .hlc = 0x123456780001ULL, .origin = 42 } };

        value_init(&r.value, KEY_EQ_ACTIVE, FAMILY_PRO);
        r.value.active.preset = PRESET_CUSTOM;
        r.value.active.eq.pro.preamp = -30;
        r.value.active.eq.pro.count = (uint8_t) bands;
        for (unsigned i = 0; i < bands; i++)
                r.value.active.eq.pro.band[i] = (struct eq_band) { .type = BAND_PEAK,
                        .freq_hz = (uint16_t) (100 + 1000 * i), .gain = (int16_t) (10 * i - 40), .q100 = 71 };
        return r;
}

/* ---- discovery ---- */

static void test_discovery_existing(void **state) {
        struct bluez_buds *b = start_ready((const char *[]) { ONE_PRO, NULL }, FIX_ADDR1);

        (void) state;
        assert_int_equal(F.info.family, FAMILY_PRO);
        assert_true(F.info.buds_id == 0x1122334455667788ULL);
        assert_int_equal(F.manifest.count, 3);
        assert_int_equal(F.manifest.family, FAMILY_PRO);
        assert_string_equal(bluez_buds_address(b), FIX_ADDR1);
        assert_string_equal(bluez_buds_name(b), "Left Buds");
        assert_int_equal(bluez_buds_family(b), FAMILY_PRO);
        assert_true(bluez_buds_connected(b));
        assert_ptr_equal(bluez_buds_first(F.bz), b);
        assert_null(bluez_buds_next(b));
        assert_non_null(bluez_owner(F.bz));
        assert_int_equal(fix_counter(&F, FIX_ADDR1, "read:info"), 1);
        assert_int_equal(fix_counter(&F, FIX_ADDR1, "read:manifest"), 1);
        assert_int_equal(fix_counter(&F, FIX_ADDR1, "start-notify"), 2);   /* manifest, battery */
}

static void test_discovery_added_later(void **state) {
        struct fix *f = start((const char *[]) { NULL });

        (void) state;
        assert_int_equal(fix_client(f), 0);
        assert_true(FIX_WAIT(f, bluez_owner(f->bz) != NULL));
        assert_null(bluez_buds_first(f->bz));
        fix_call(f, "AddBuds", "ssyt", FIX_ADDR2, "Later", 1, (uint64_t) 7);
        fix_wait_ready(f, FIX_ADDR2, 1);
        assert_int_equal(f->info.family, FAMILY_STANDARD);
        assert_true(f->info.buds_id == 7);
}

static void test_bluez_starts_after_client(void **state) {
        struct fix *f = start(NULL);

        (void) state;
        assert_int_equal(fix_client(f), 0);
        (void) sd_event_run(f->event, 50000);
        assert_null(bluez_owner(f->bz));
        assert_int_equal(fix_sim_start(f, (const char *[]) { ONE_PRO, NULL }), 0);
        fix_wait_ready(f, FIX_ADDR1, 1);
}

static void test_config_address_and_adapter(void **state) {
        struct fix *f = start((const char *[]) { ONE_PRO, "--adapters", "2", "--buds",
                                                  "hci1/" FIX_ADDR2 ",standard,Other", NULL });
        struct bluez_buds *b;

        (void) state;
        f->cfg.adapter = "hci1";
        assert_int_equal(fix_client(f), 0);
        b = fix_wait_ready(f, FIX_ADDR2, 1);
        assert_null(bluez_buds_find(f->bz, FIX_ADDR1));
        assert_null(bluez_buds_next(b));
        bluez_free(f->bz);
        f->cfg.adapter = NULL;
        f->cfg.address = "aa:bb:cc:dd:ee:01";
        f->n_ready = 0;
        assert_int_equal(fix_client(f), 0);
        fix_wait_ready(f, FIX_ADDR1, 1);
        assert_null(bluez_buds_find(f->bz, FIX_ADDR2));
}

/* ---- connect and resolve ---- */

static void resolve_order(const char *order) {
        struct fix *f = start((const char *[]) { ONE_PRO, "--cache", "no", NULL });

        fix_option_s(f, "resolve-order", order);
        assert_int_equal(fix_client(f), 0);
        fix_wait_ready(f, FIX_ADDR1, 1);
        assert_int_equal(f->n_error, 0);
        assert_int_equal(fix_counter(f, FIX_ADDR1, "connect"), 1);
}

static void test_resolve_after(void **state) {
        (void) state;
        resolve_order("after");
}

static void test_resolve_before(void **state) {
        (void) state;
        resolve_order("before");
}

static void test_connect_fails_then_backoff(void **state) {
        struct fix *f = start((const char *[]) { ONE_PRO, NULL });

        (void) state;
        fix_option_u(f, "connect-timeout-ms", 30);
        fix_call(f, "SetReachable", "sb", FIX_ADDR1, 0);
        assert_int_equal(fix_client(f), 0);
        assert_true(FIX_WAIT(f, fix_counter(f, FIX_ADDR1, "connect-failed") >= 3));
        /* earbuds in their case: said once, not once per try */
        assert_int_equal(f->n_unreachable, 1);
        assert_int_equal(f->n_error, 0);
        assert_non_null(strstr(f->unreachable, "le-connection-abort-by-local"));
        assert_non_null(strstr(f->unreachable, FIX_ADDR1));
        assert_int_equal(f->n_ready, 0);
        fix_call(f, "SetReachable", "sb", FIX_ADDR1, 1);
        fix_wait_ready(f, FIX_ADDR1, 1);

        /* back in the case after being connected: news again, once */
        fix_call(f, "SetReachable", "sb", FIX_ADDR1, 0);
        fix_call(f, "LinkLoss", "s", FIX_ADDR1);
        assert_true(FIX_WAIT(f, f->n_unreachable == 2));
        {
                unsigned failed = fix_counter(f, FIX_ADDR1, "connect-failed");

                assert_true(FIX_WAIT(f, fix_counter(f, FIX_ADDR1, "connect-failed") >= failed + 2));
        }
        assert_int_equal(f->n_unreachable, 2);
        assert_int_equal(f->n_error, 0);
}

/* HIL (loaded VM, after a bluetoothd restart): a connection attempt stayed
 * pending in bluetoothd; our Connect timed out and every Connect after it
 * was answered "Operation already in progress", long after the Buds were
 * back: the bridge never connected. Two such answers in a row, and no
 * link: the client cancels the attempt (Disconnect) and connects anew. */
static void stuck_connect_cancelled(bool disconnect_reply_first) {
        struct fix *f = start((const char *[]) { ONE_PRO, NULL });

        fix_call(f, "SetOption", "sv", "disconnect-reply-first", "b", (int) disconnect_reply_first);
        fix_option_u(f, "connect-timeout-ms", 600000);  /* an attempt that does not end */
        fix_call(f, "SetReachable", "sb", FIX_ADDR1, 0);
        assert_int_equal(fix_client(f), 0);
        assert_true(FIX_WAIT(f, fix_counter(f, FIX_ADDR1, "connect") >= 1));
        fix_call(f, "SetReachable", "sb", FIX_ADDR1, 1);
        fix_wait_ready(f, FIX_ADDR1, 1);
        assert_true(fix_counter(f, FIX_ADDR1, "connect") >= 2);
        assert_true(fix_counter(f, FIX_ADDR1, "disconnect") >= 1);   /* the cancel */
}

/* bluetoothd 5.82's order: Connected=false, then Disconnect's reply. */
static void test_stuck_connect_cancelled(void **state) {
        (void) state;
        stuck_connect_cancelled(false);
}

/* bluetoothd 5.66's: the reply first (HIL VM, probe-basic). */
static void test_stuck_connect_cancelled_reply_first(void **state) {
        (void) state;
        stuck_connect_cancelled(true);
}

/* Buds that appear while the client runs, as discovery makes them appear:
 * unpaired, found by the configured address on hci0. */
static struct fix *start_discovered(bool silent_connect) {
        struct fix *f = start((const char *[]) { NULL });

        f->cfg.address = FIX_ADDR1;
        f->cfg.adapter = "hci0";
        assert_int_equal(fix_client(f), 0);
        assert_true(FIX_WAIT(f, bluez_owner(f->bz) != NULL));
        fix_call(f, "SetOption", "sv", "silent-connect", "b", (int) silent_connect);
        return f;
}

static void add_discovered(struct fix *f) {
        fix_call(f, "AddBuds", "ssyt", FIX_ADDR1, "Found", 2, (uint64_t) 9);
        fix_call(f, "SetPaired", "sb", FIX_ADDR1, 0);
}

/* HIL: bluetoothd 5.66 brought the link up without ever signalling
 * Connected=true (its ATT connect callback ran before the kernel's Device
 * Connected event); the services resolved and the Buds were never set up. */
static void test_connected_never_signalled(void **state) {
        struct fix *f = start_discovered(true);

        (void) state;
        add_discovered(f);
        fix_wait_ready(f, FIX_ADDR1, 1);
        assert_true(bluez_buds_connected(bluez_buds_find(f->bz, FIX_ADDR1)));
        assert_int_equal(fix_counter(f, FIX_ADDR1, "connect"), 1);
        assert_int_equal(fix_counter(f, FIX_ADDR1, "start-notify"), 2);
}

/* The same, with the link brought up by another client's Connect while ours
 * waits out its backoff: only ServicesResolved=true tells. */
static void test_connected_by_another_never_signalled(void **state) {
        struct fix *f = start_discovered(true);
        sd_bus_message *reply = NULL;

        (void) state;
        fix_option_u(f, "connect-timeout-ms", 20);
        bluez_free(f->bz);
        f->cfg.backoff_min_usec = f->cfg.backoff_max_usec = 60ULL * 1000000ULL;
        assert_int_equal(fix_client(f), 0);
        fix_call(f, "AddBuds", "ssyt", FIX_ADDR1, "Found", 2, (uint64_t) 9);
        fix_call(f, "SetReachable", "sb", FIX_ADDR1, 0);
        assert_true(FIX_WAIT(f, fix_counter(f, FIX_ADDR1, "connect-failed") == 1 && f->n_unreachable == 1));
        fix_call(f, "SetReachable", "sb", FIX_ADDR1, 1);
        assert_true(sd_bus_call_method(f->ctl, "org.bluez", "/org/bluez/hci0/dev_AA_BB_CC_DD_EE_01",
                                       "org.bluez.Device1", "Connect", NULL, &reply, NULL) >= 0);
        sd_bus_message_unref(reply);
        fix_wait_ready(f, FIX_ADDR1, 1);
        assert_int_equal(fix_counter(f, FIX_ADDR1, "connect"), 2);
}

/* BlueZ answers "Not connected" during setup on a link it reported up (its
 * GATT client not attached yet): the client checks and tries again rather
 * than waiting for a signal that never comes. */
static void test_setup_not_connected_on_live_link(void **state) {
        struct fix *f = start_discovered(false);

        (void) state;
        add_discovered(f);
        fix_call(f, "InjectFault", "sssa{sv}", FIX_ADDR1, "info", "error", 2, "name", "s",
                 "org.bluez.Error.Failed", "message", "s", "Not connected");
        fix_wait_ready(f, FIX_ADDR1, 1);
        assert_int_equal(fix_counter(f, FIX_ADDR1, "connect"), 1);
        assert_int_equal(fix_counter(f, FIX_ADDR1, "read:info"), 2);
        assert_non_null(strstr(f->error, "reading Buds Info failed: not connected; retrying"));
}

/* ---- reads, writes, notifications ---- */

static void test_read_write_notify(void **state) {
        struct bluez_buds *b = start_ready((const char *[]) { ONE_PRO, NULL }, FIX_ADDR1);
        struct record rec, back;
        uint8_t touch[] = { 1 };

        (void) state;
        assert_int_equal(fix_read(&F, b, KEY_PROFILE, &rec), 0);
        assert_int_equal(rec.value.key, KEY_PROFILE);
        assert_int_equal(rec.revision, 1);
        rec.value.profile.noise_control = NOISE_ANC;
        rec.stamp = (struct stamp) { 0x10000, 9 };
        rec.flags = 0;
        assert_int_equal(fix_write(&F, b, &rec), 0);
        assert_true(FIX_WAIT(&F, F.n_notify == 1));
        assert_int_equal(F.notify.key, KEY_PROFILE);
        assert_int_equal(F.notify.revision, 2);
        assert_int_equal(fix_read(&F, b, KEY_PROFILE, &back), 0);
        assert_int_equal(back.revision, 2);
        assert_true(value_equal(&back.value, &rec.value));
        assert_true(stamp_eq(back.stamp, rec.stamp));
        /* the read's own PropertiesChanged(Value) is no notification */
        assert_int_equal(F.n_notify, 1);

        /* a change on the Buds: eq.active preset bass boost */
        fix_call(&F, "Touch", "syay", FIX_ADDR1, KEY_EQ_ACTIVE, 1, (int) touch[0]);
        assert_true(FIX_WAIT(&F, F.n_notify == 2));
        assert_int_equal(F.notify.key, KEY_EQ_ACTIVE);
        assert_int_equal(F.notify.flags, RECORD_DIRTY);
}

static void test_manifest_and_device_data(void **state) {
        struct bluez_buds *b = start_ready((const char *[]) { ONE_PRO, NULL }, FIX_ADDR1);

        (void) state;
        F.done = false;
        assert_int_equal(bluez_read_manifest(b, fix_on_manifest, &F, NULL), 0);
        assert_true(FIX_WAIT(&F, F.done));
        assert_int_equal(F.error_code, 0);
        assert_int_equal(F.op_manifest.count, 3);
        assert_int_equal(F.n_notify, 0);       /* the read's echo is not a notification */

        F.done = false;
        assert_int_equal(bluez_read_device_data(b, fix_on_device, &F, NULL), 0);
        assert_true(FIX_WAIT(&F, F.done));
        assert_int_equal(F.error_code, 0);
        assert_string_equal(F.data.manufacturer, "Budsim");
        assert_string_equal(F.data.model, "Buds Pro");
        assert_string_equal(F.data.serial, "1122334455667788");
        assert_string_equal(F.data.firmware, "1.0.0");
        assert_int_equal(F.data.battery, 100);

        fix_call(&F, "SetBattery", "sy", FIX_ADDR1, 42);
        assert_true(FIX_WAIT(&F, F.battery == 42));
}

static void test_stale_then_reread(void **state) {
        struct bluez_buds *b = start_ready((const char *[]) { ONE_PRO, NULL }, FIX_ADDR1);
        struct record rec, cur;
        uint8_t touch[] = { 2 };

        (void) state;
        assert_int_equal(fix_read(&F, b, KEY_EQ_ACTIVE, &rec), 0);
        fix_call(&F, "Touch", "syay", FIX_ADDR1, KEY_EQ_ACTIVE, 1, (int) touch[0]);
        rec.value.active.preset = PRESET_TREBLE;
        assert_int_equal(fix_write(&F, b, &rec), -ESTALE);
        assert_non_null(strstr(F.message, FIX_ADDR1));
        assert_non_null(strstr(F.message, "eq.active"));
        assert_non_null(strstr(F.message, "0x80"));
        assert_int_equal(fix_read(&F, b, KEY_EQ_ACTIVE, &cur), 0);
        assert_int_equal(cur.revision, rec.revision + 1);
        rec.revision = cur.revision;
        assert_int_equal(fix_write(&F, b, &rec), 0);
        assert_int_equal(fix_counter(&F, FIX_ADDR1, "stale"), 1);
}

static void test_invalid_values(void **state) {
        struct bluez_buds *b = start_ready((const char *[]) { ONE_PRO, NULL }, FIX_ADDR1);
        struct record rec, std;

        (void) state;
        /* malformed reads: -EBADMSG with the codec's reason */
        fix_fault(&F, FIX_ADDR1, "profile", "malformed", NULL, 0, 0);
        assert_int_equal(fix_read(&F, b, KEY_PROFILE, &rec), -EBADMSG);
        assert_non_null(strstr(F.message, "malformed"));
        assert_non_null(strstr(F.message, "profile"));
        fix_fault(&F, FIX_ADDR1, "eq.custom", "malformed", NULL, 0, 0);
        assert_int_equal(fix_read(&F, b, KEY_PROFILE, &rec), 0);    /* the fault hit another item */

        /* writes the Buds reject: a standard EQ on pro Buds (0x13) */
        assert_int_equal(fix_read(&F, b, KEY_EQ_CUSTOM, &rec), -EBADMSG);  /* truncated by the fault */
        assert_int_equal(fix_read(&F, b, KEY_EQ_CUSTOM, &rec), 0);
        std = rec;
        value_init(&std.value, KEY_EQ_CUSTOM, FAMILY_STANDARD);
        assert_int_equal(fix_write(&F, b, &std), -EINVAL);
        assert_non_null(strstr(F.message, "0x13"));
        /* 0x0e from a peripheral built on BlueZ: a rejection, the link is up */
        fix_fault(&F, FIX_ADDR1, "eq.custom", "att-error", "ecode", 'y', 0x0e);
        assert_int_equal(fix_write(&F, b, &rec), -EINVAL);
        assert_true(bluez_buds_ready(b));
        /* 0x0d arrives as InvalidArguments */
        fix_fault(&F, FIX_ADDR1, "eq.custom", "att-error", "ecode", 'y', 0x0d);
        assert_int_equal(fix_write(&F, b, &rec), -EINVAL);
        /* a value that does not encode is refused at once */
        std.value.custom.std.gain[0] = 100;
        std.value.family = FAMILY_STANDARD;
        assert_int_equal(bluez_write_item(b, &std, fix_on_write, &F, NULL), -EINVAL);
        assert_int_equal(fix_write(&F, b, &rec), 0);
        assert_int_equal(F.n_gone, 0);
}

static void test_long_values(void **state) {
        struct bluez_buds *b = start_ready((const char *[]) { ONE_PRO, NULL }, FIX_ADDR1);
        struct record cur, rec, back;

        (void) state;
        fix_call(&F, "SetOption", "sv", "mtu", "q", (uint16_t) 23);
        assert_int_equal(fix_read(&F, b, KEY_EQ_ACTIVE, &cur), 0);
        rec = pro_eq_active(cur.revision, PRO_BANDS_MAX);
        assert_int_equal(fix_write(&F, b, &rec), 0);
        assert_int_equal(fix_read(&F, b, KEY_EQ_ACTIVE, &back), 0);
        assert_true(value_equal(&back.value, &rec.value));
        assert_int_equal(back.value.active.eq.pro.count, 10);
}

static void test_queue_two_writes(void **state) {
        struct bluez_buds *b = start_ready((const char *[]) { ONE_PRO, NULL }, FIX_ADDR1);
        struct record cur, one, two;

        (void) state;
        fix_option_u(&F, "gatt-delay-ms", 30);
        assert_int_equal(fix_read(&F, b, KEY_EQ_ACTIVE, &cur), 0);
        one = pro_eq_active(cur.revision, 2);
        two = pro_eq_active(cur.revision + 1, 3);
        F.n_done = 0;
        assert_int_equal(bluez_write_item(b, &one, fix_on_write, &F, NULL), 0);
        assert_int_equal(bluez_write_item(b, &two, fix_on_write, &F, NULL), 0);
        assert_true(FIX_WAIT(&F, F.n_done == 2));
        assert_int_equal(F.error_code, 0);
        assert_int_equal(fix_counter(&F, FIX_ADDR1, "in-progress"), 0);
        assert_int_equal(fix_counter(&F, FIX_ADDR1, "write-ok"), 2);
        assert_int_equal(fix_read(&F, b, KEY_EQ_ACTIVE, &cur), 0);
        assert_int_equal(cur.value.active.eq.pro.count, 3);
}

static void test_cancel(void **state) {
        struct bluez_buds *b = start_ready((const char *[]) { ONE_PRO, NULL }, FIX_ADDR1);
        struct record cur;
        uint64_t id;

        (void) state;
        assert_int_equal(fix_read(&F, b, KEY_PROFILE, &cur), 0);
        fix_fault(&F, FIX_ADDR1, "profile", "delay", "ms", 'u', 200);
        F.n_done = 0;
        assert_int_equal(bluez_write_item(b, &cur, fix_on_write, &F, &id), 0);
        assert_int_equal(bluez_cancel(F.bz, id), 0);
        assert_int_equal(bluez_cancel(F.bz, id), -ENOENT);
        /* the next write waits for BlueZ to finish the cancelled one: no InProgress */
        cur.revision++;
        assert_int_equal(fix_write(&F, b, &cur), 0);
        assert_int_equal(F.n_done, 1);
        assert_int_equal(fix_counter(&F, FIX_ADDR1, "in-progress"), 0);
}

/* ---- links lost ---- */

static void disconnect_in_write(bool applied) {
        struct bluez_buds *b = start_ready((const char *[]) { ONE_PRO, NULL }, FIX_ADDR1);
        struct record cur, back;

        assert_int_equal(fix_read(&F, b, KEY_PROFILE, &cur), 0);
        cur.value.profile.ambient_level = 7;
        fix_fault(&F, FIX_ADDR1, "profile", "disconnect-in-write", "applied", 'b', applied);
        assert_int_equal(fix_write(&F, b, &cur), -ENOTCONN);
        assert_non_null(strstr(F.message, "may or may not"));
        assert_non_null(strstr(F.message, FIX_ADDR1));
        assert_true(FIX_WAIT(&F, F.n_gone == 1));
        assert_int_equal(F.gone_reason, BLUEZ_GONE_DISCONNECTED);
        /* the client reconnects by itself */
        b = fix_wait_ready(&F, FIX_ADDR1, 2);
        assert_int_equal(fix_read(&F, b, KEY_PROFILE, &back), 0);
        assert_int_equal(back.revision, applied ? cur.revision + 1 : cur.revision);
        assert_int_equal(back.value.profile.ambient_level, applied ? 7 : 0);
}

static void test_disconnect_in_write_applied(void **state) {
        (void) state;
        disconnect_in_write(true);
}

static void test_disconnect_in_write_not_applied(void **state) {
        (void) state;
        disconnect_in_write(false);
}

static void test_disconnect_mid_read(void **state) {
        struct bluez_buds *b = start_ready((const char *[]) { ONE_PRO, NULL }, FIX_ADDR1);

        (void) state;
        fix_fault(&F, FIX_ADDR1, "eq.custom", "delay", "ms", 'u', 300);
        F.done = false;
        F.n_done = 0;
        assert_int_equal(bluez_read_item(b, KEY_EQ_CUSTOM, fix_on_record, &F, NULL), 0);
        assert_int_equal(bluez_read_item(b, KEY_EQ_CUSTOM, fix_on_record, &F, NULL), 0);   /* queued */
        (void) sd_event_run(F.event, 0);
        fix_call(&F, "LinkLoss", "s", FIX_ADDR1);
        assert_true(FIX_WAIT(&F, F.n_done == 2));
        assert_int_equal(F.error_code, -ENOTCONN);
        assert_non_null(strstr(F.message, "eq.custom"));
        assert_false(bluez_buds_ready(b));
        assert_int_equal(bluez_read_item(b, KEY_EQ_CUSTOM, fix_on_record, &F, NULL), -ENOTCONN);
        b = fix_wait_ready(&F, FIX_ADDR1, 2);
        assert_int_equal(fix_read(&F, b, KEY_EQ_CUSTOM, NULL), 0);
}

static void cache_behaviour(const char *cache, uint64_t start_notify_after) {
        struct bluez_buds *b = start_ready((const char *[]) { ONE_PRO, "--cache", cache, NULL }, FIX_ADDR1);
        uint8_t touch[] = { 1 };

        fix_call(&F, "LinkLoss", "s", FIX_ADDR1);
        assert_true(FIX_WAIT(&F, F.n_gone == 1));
        b = fix_wait_ready(&F, FIX_ADDR1, 2);
        assert_int_equal(fix_counter(&F, FIX_ADDR1, "start-notify"), start_notify_after);
        fix_call(&F, "Touch", "syay", FIX_ADDR1, KEY_EQ_ACTIVE, 1, (int) touch[0]);
        assert_true(FIX_WAIT(&F, F.n_notify == 1));
        assert_int_equal(F.notify.key, KEY_EQ_ACTIVE);
        assert_int_equal(fix_read(&F, b, KEY_EQ_ACTIVE, NULL), 0);
        /* the second connect read the Manifest again, never Buds Info */
        assert_int_equal(fix_counter(&F, FIX_ADDR1, "read:info"), 1);
        assert_int_equal(fix_counter(&F, FIX_ADDR1, "read:manifest"), 2);
}

static void test_cache_yes(void **state) {
        (void) state;
        cache_behaviour("yes", 2);      /* armed once; BlueZ re-arms */
}

static void test_cache_no(void **state) {
        (void) state;
        cache_behaviour("no", 4);       /* objects came back: StartNotify again */
}

static void test_restart_bluez(void **state) {
        struct bluez_buds *b = start_ready((const char *[]) { ONE_PRO, NULL }, FIX_ADDR1);
        char *owner = strdup(bluez_owner(F.bz));
        uint8_t touch[] = { 2 };

        (void) state;
        bluez_buds_ref(b);
        fix_call(&F, "RestartBluez", "u", 50);
        assert_true(FIX_WAIT(&F, F.n_gone == 1));
        assert_int_equal(F.gone_reason, BLUEZ_GONE_BLUEZ_LOST);
        assert_false(bluez_buds_detached(b));
        assert_ptr_equal(fix_wait_ready(&F, FIX_ADDR1, 2), b);    /* the same handle */
        assert_string_not_equal(bluez_owner(F.bz), owner);
        fix_call(&F, "Touch", "syay", FIX_ADDR1, KEY_EQ_ACTIVE, 1, (int) touch[0]);
        assert_true(FIX_WAIT(&F, F.n_notify == 1));
        assert_int_equal(fix_read(&F, b, KEY_PROFILE, NULL), 0);
        bluez_buds_unref(b);
        free(owner);
}

static void test_crash(void **state) {
        struct bluez_buds *b = start_ready((const char *[]) { ONE_PRO, NULL }, FIX_ADDR1);

        (void) state;
        fix_fault(&F, FIX_ADDR1, "profile", "delay", "ms", 'u', 1000);
        F.done = false;
        assert_int_equal(bluez_read_item(b, KEY_PROFILE, fix_on_record, &F, NULL), 0);
        (void) sd_event_run(F.event, 0);
        F.n_done = 0;
        (void) sd_bus_call_method(F.ctl, "org.bridged.test.Budsim", "/org/bridged/test",
                                  "org.bridged.test.Budsim1", "Crash", NULL, NULL, NULL);
        assert_true(FIX_WAIT(&F, F.n_gone == 1 && F.done));
        assert_int_equal(F.gone_reason, BLUEZ_GONE_BLUEZ_LOST);
        assert_int_equal(F.error_code, -ENOTCONN);
        assert_null(bluez_owner(F.bz));
        fix_sim_stop(&F);
        assert_int_equal(fix_sim_start(&F, (const char *[]) { ONE_PRO, NULL }), 0);
        assert_ptr_equal(fix_wait_ready(&F, FIX_ADDR1, 2), b);
        assert_int_equal(F.n_done, 1);
}

/* Seen in the VM: a new bluetoothd reconnected paired Buds while their
 * database was changing and kept a copy without the Buds Sync service. The
 * Buds stay selected (Address= empty: they were met as Buds) and the client
 * says what is wrong instead of dropping them in silence; when bluetoothd
 * shows the service again they are ready on the same handle. */
static void test_restart_stale_cache(void **state) {
        struct bluez_buds *b = start_ready((const char *[]) { ONE_PRO, NULL }, FIX_ADDR1);

        (void) state;
        bluez_buds_ref(b);
        fix_option_b(&F, "stale-cache", true);
        F.n_error = 0;
        fix_call(&F, "RestartBluez", "u", 50);
        assert_true(FIX_WAIT(&F, F.n_gone == 1 && F.n_error >= 1));
        assert_false(bluez_buds_detached(b));
        assert_ptr_equal(bluez_buds_find(F.bz, FIX_ADDR1), b);
        assert_non_null(strstr(F.error, "lack the Buds Sync service"));
        assert_non_null(strstr(F.error, "bluetoothctl remove " FIX_ADDR1));
        assert_int_equal(F.n_ready, 1);
        fix_option_b(&F, "stale-cache", false);
        fix_call(&F, "RestartBluez", "u", 50);
        assert_ptr_equal(fix_wait_ready(&F, FIX_ADDR1, 2), b);
        bluez_buds_unref(b);
}

static void test_two_buds(void **state) {
        struct fix *f = start((const char *[]) { ONE_PRO, ONE_STD, NULL });
        struct bluez_buds *a, *b;
        struct record ra, rb;

        (void) state;
        assert_int_equal(fix_client(f), 0);
        assert_true(FIX_WAIT(f, f->n_ready == 2));
        a = bluez_buds_find(f->bz, FIX_ADDR1);
        b = bluez_buds_find(f->bz, FIX_ADDR2);
        assert_int_equal(bluez_buds_family(a), FAMILY_PRO);
        assert_int_equal(bluez_buds_family(b), FAMILY_STANDARD);
        assert_int_equal(fix_read(f, a, KEY_EQ_CUSTOM, &ra), 0);
        assert_int_equal(fix_read(f, b, KEY_EQ_CUSTOM, &rb), 0);
        assert_int_equal(ra.value.family, FAMILY_PRO);
        assert_int_equal(rb.value.family, FAMILY_STANDARD);
        rb.value.custom.std.gain[2] = 6;
        assert_int_equal(fix_write(f, b, &rb), 0);
        assert_true(FIX_WAIT(f, f->n_notify == 1));
        fix_call(f, "LinkLoss", "s", FIX_ADDR1);
        assert_true(FIX_WAIT(f, f->n_gone == 1 && f->n_ready == 3));
        assert_true(bluez_buds_ready(b));
}

static void test_buds_removed(void **state) {
        struct bluez_buds *b = start_ready((const char *[]) { ONE_PRO, NULL }, FIX_ADDR1);

        (void) state;
        bluez_buds_ref(b);
        fix_fault(&F, FIX_ADDR1, "profile", "delay", "ms", 'u', 200);
        F.done = false;
        assert_int_equal(bluez_read_item(b, KEY_PROFILE, fix_on_record, &F, NULL), 0);
        assert_int_equal(bluez_read_item(b, KEY_PROFILE, fix_on_record, &F, NULL), 0);
        F.n_done = 0;
        fix_call(&F, "RemoveBuds", "s", FIX_ADDR1);
        /* the link drops first (DISCONNECTED), then the device goes (REMOVED, last) */
        assert_true(FIX_WAIT(&F, F.gone_reason == BLUEZ_GONE_REMOVED && F.n_done == 2));
        assert_true(F.error_code == -ENODEV || F.error_code == -ENOTCONN);
        assert_true(bluez_buds_detached(b));
        assert_null(bluez_buds_first(F.bz));
        assert_int_equal(bluez_read_item(b, KEY_PROFILE, fix_on_record, &F, NULL), -ENODEV);
        assert_string_equal(bluez_buds_address(b), FIX_ADDR1);
        bluez_buds_unref(b);
}

/* ---- forged signals ---- */

static void test_forged_signals(void **state) {
        struct bluez_buds *b = start_ready((const char *[]) { ONE_PRO, NULL }, FIX_ADDR1);
        const uint8_t fake[WIRE_NOTIFY_SIZE] = { KEY_PROFILE, 0, 99, 0, 0, 0 };
        uint8_t touch[] = { 3 };
        const char *me;
        char *path;
        sd_bus_message *m;

        (void) state;
        (void) b;
        assert_int_equal(fix_chr_path(&F, FIX_ADDR1, BUDS_MANIFEST_UUID, &path), 0);
        assert_int_equal(sd_bus_get_unique_name(F.bus, &me), 0);
        /* broadcast and unicast (a unicast signal passes every match rule) */
        for (int unicast = 0; unicast <= 1; unicast++) {
                assert_true(sd_bus_message_new_signal(F.ctl, &m, path, "org.freedesktop.DBus.Properties",
                                                      "PropertiesChanged") >= 0);
                assert_true(sd_bus_message_append(m, "s", "org.bluez.GattCharacteristic1") >= 0);
                assert_true(sd_bus_message_open_container(m, 'a', "{sv}") >= 0);
                assert_true(sd_bus_message_open_container(m, 'e', "sv") >= 0);
                assert_true(sd_bus_message_append(m, "s", "Value") >= 0);
                assert_true(sd_bus_message_open_container(m, 'v', "ay") >= 0);
                assert_true(sd_bus_message_append_array(m, 'y', fake, sizeof(fake)) >= 0);
                assert_true(sd_bus_message_close_container(m) >= 0);
                assert_true(sd_bus_message_close_container(m) >= 0);
                assert_true(sd_bus_message_close_container(m) >= 0);
                assert_true(sd_bus_message_append(m, "as", 0) >= 0);
                if (unicast)
                        assert_true(sd_bus_message_set_destination(m, me) >= 0);
                assert_true(sd_bus_send(F.ctl, m, NULL) >= 0);
                sd_bus_message_unref(m);
                /* a fake Device1 with the Buds service */
                assert_true(sd_bus_message_new_signal(F.ctl, &m, "/", "org.freedesktop.DBus.ObjectManager",
                                                      "InterfacesAdded") >= 0);
                assert_true(sd_bus_message_append(m, "oa{sa{sv}}", "/org/bluez/hci0/dev_AA_BB_CC_DD_EE_09", 1,
                                                  "org.bluez.Device1", 4, "Address", "s", "AA:BB:CC:DD:EE:09",
                                                  "Paired", "b", 1, "Connected", "b", 1,
                                                  "UUIDs", "as", 1, BUDS_SYNC_SERVICE_UUID) >= 0);
                if (unicast)
                        assert_true(sd_bus_message_set_destination(m, me) >= 0);
                assert_true(sd_bus_send(F.ctl, m, NULL) >= 0);
                sd_bus_message_unref(m);
        }
        assert_true(sd_bus_flush(F.ctl) >= 0);
        /* a real notification after them: when it arrives, the forged ones were seen */
        fix_call(&F, "Touch", "syay", FIX_ADDR1, KEY_EQ_ACTIVE, 1, (int) touch[0]);
        assert_true(FIX_WAIT(&F, F.n_notify >= 1));
        (void) sd_event_run(F.event, 20000);
        assert_int_equal(F.n_notify, 1);
        assert_int_equal(F.notify.key, KEY_EQ_ACTIVE);
        assert_null(bluez_buds_find(F.bz, "AA:BB:CC:DD:EE:09"));
        free(path);
}

/* ---- what the engine knows ---- */

static void test_known_buds(void **state) {
        struct fix *f = start((const char *[]) { ONE_PRO, NULL });
        struct buds_info info = { .protocol = 1, .family = FAMILY_PRO, .buds_id = 0x1122334455667788ULL };

        (void) state;
        assert_int_equal(fix_client(f), 0);
        assert_int_equal(bluez_remember_buds(f->bz, FIX_ADDR1, &info), 0);
        fix_wait_ready(f, FIX_ADDR1, 1);
        assert_int_equal(fix_counter(f, FIX_ADDR1, "read:info"), 0);
        assert_int_equal(fix_counter(f, FIX_ADDR1, "read:manifest"), 1);
        assert_true(f->info.buds_id == info.buds_id);
}

#define T(name) cmocka_unit_test_teardown(name, teardown)

int main(void) {
        const struct CMUnitTest tests[] = {
                T(test_discovery_existing),
                T(test_discovery_added_later),
                T(test_bluez_starts_after_client),
                T(test_config_address_and_adapter),
                T(test_resolve_after),
                T(test_resolve_before),
                T(test_connect_fails_then_backoff),
                T(test_stuck_connect_cancelled),
                T(test_stuck_connect_cancelled_reply_first),
                T(test_connected_never_signalled),
                T(test_connected_by_another_never_signalled),
                T(test_setup_not_connected_on_live_link),
                T(test_read_write_notify),
                T(test_manifest_and_device_data),
                T(test_stale_then_reread),
                T(test_invalid_values),
                T(test_long_values),
                T(test_queue_two_writes),
                T(test_cancel),
                T(test_disconnect_in_write_applied),
                T(test_disconnect_in_write_not_applied),
                T(test_disconnect_mid_read),
                T(test_cache_yes),
                T(test_cache_no),
                T(test_restart_bluez),
                T(test_crash),
                T(test_restart_stale_cache),
                T(test_two_buds),
                T(test_buds_removed),
                T(test_forged_signals),
                T(test_known_buds),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
