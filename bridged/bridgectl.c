/* SPDX-License-Identifier: MIT */
/* bridgectl: the command line for a running bridged, over its D-Bus control
 * API (org.bridged.Manager1 on the system bus; DBUS_SYSTEM_BUS_ADDRESS is
 * honoured). Human-readable output by default, the API's JSON with --json.
 * Exit status: 0 success, 1 an error (one line on stderr), 2 a usage error.
 * It never validates values itself beyond names: the daemon is the one judge.
 * The one exception is eq import, which must read an EQ file into a value
 * first (codec/parametric.c); the daemon still judges what it is sent. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <systemd/sd-bus.h>

#include "bridgectl.h"
#include "codec/parametric.h"
#include "codec/recjson.h"
#include "common/cleanup.h"
#include "policy/eqconv.h"
#include "policy/value.h"

#define EXIT_USAGE 2
#define EQ_FILE_MAX (64 * 1024)         /* an EQ file is a few hundred bytes; this is something else */

bool arg_json;
sd_bus *arg_bus;             /* the connection, for show functions that ask more (node id) */
static uint64_t arg_timeout_usec;       /* 0: sd-bus default (25 s) */

static const char usage_text[] =
        "Usage: bridgectl [--json] [COMMAND [ARGS]]   (no command: status)\n"
        "\n"
        "Commands:\n"
        "  status                     the bridge's state, server and Buds (the default)\n"
        "  help                       show this help; COMMAND --help shows one command's\n"
        "  stats                      counters since the daemon started\n"
        "  get KEY                    the item's intent: the newest record over both families\n"
        "  set KEY [--family F] JSON|-|FIELD=VALUE...\n"
        "                             a new edit on this host (KEY: profile, eq.custom, eq.active;\n"
        "                             F: standard or pro, default the connected Buds' family):\n"
        "                             the whole value as JSON (or what get --json prints), - to\n"
        "                             read it from standard input, or field edits of the current\n"
        "                             value (dotted paths: set profile noise_control=anc\n"
        "                             touch.left=next; set eq.active preset=voice)\n"
        "  sync [--timeout S] [--no-block]\n"
        "                             push and pull now, wait up to S seconds (default 25), or\n"
        "                             not at all\n"
        "  conflicts                  the conflict log\n"
        "  conflicts dismiss ID...|--all  remove entries from the conflict log\n"
        "  restore ID                 apply a conflict's lost value again as a new edit\n"
        "  monitor                    print every event (changes, state, Buds) until interrupted\n"
        "  eq import FILE             set the pro Custom EQ from an AutoEq or REW parametric EQ\n"
        "                             file (Preamp: and Filter: lines; FILE - is standard input)\n"
        "  eq export [FILE]           write the Custom EQ in that format (to standard output\n"
        "                             without FILE)\n"
        "\n"
        "Options:\n"
        "  -j, --json                 print the API's JSON instead of text (anywhere on the line)\n"
        "  -h, --help                 show this help\n"
        "  --version                  show the version\n";

static void usage(FILE *f) {
        fputs(usage_text, f);
}

/* COMMAND --help: that command's lines of the usage text. */
static void usage_command(const char *cmd) {
        size_t n = strlen(cmd);
        bool in = false;

        printf("Usage: bridgectl [--json] ...\n");
        for (const char *line = usage_text; *line; ) {
                const char *end = strchr(line, '\n');
                size_t len = end ? (size_t) (end - line) : strlen(line);

                if (len > 2 && line[0] == ' ' && line[1] == ' ' && line[2] != ' ')
                        in = strncmp(line + 2, cmd, n) == 0 && (line[2 + n] == ' ' || line[2 + n] == '\n');
                else if (len == 0 || line[0] != ' ')
                        in = false;
                if (in)
                        printf("%.*s\n", (int) len, line);
                line += len + (end ? 1 : 0);
        }
}

static int usage_error(const char *fmt, const char *arg) {
        fputs("bridgectl: ", stderr);
        fprintf(stderr, fmt, arg);
        fputs(" (see bridgectl --help)\n", stderr);
        return EXIT_USAGE;
}

/* What the person typed, not the D-Bus method behind it. */
static const char *command_words(const char *member) {
        static const char *const map[][2] = {
                { "Status", "status" }, { "Stats", "stats" }, { "Get", "get" }, { "Set", "set" },
                { "Patch", "set" }, { "Sync", "sync" }, { "ListConflicts", "conflicts" },
                { "Restore", "restore" }, { "DismissConflicts", "conflicts dismiss" },
        };

        for (size_t i = 0; member && i < sizeof(map) / sizeof(map[0]); i++)
                if (strcmp(member, map[i][0]) == 0)
                        return map[i][1];
        return member ? member : "?";
}

int fail_bus(const char *member, const sd_bus_error *error, int r) {
        const char *what = command_words(member);

        if (error && sd_bus_error_is_set(error)) {
                const char *name = error->name;
                if (strcmp(name, "org.freedesktop.DBus.Error.ServiceUnknown") == 0 ||
                    strcmp(name, "org.freedesktop.DBus.Error.NameHasNoOwner") == 0)
                        fprintf(stderr, "bridgectl: %s: bridged is not running (no owner of %s on the system bus)\n",
                                what, SERVICE);
                else if (strcmp(name, "org.freedesktop.DBus.Error.AccessDenied") == 0 &&
                         (!error->message || strncmp(error->message, "Rejected", 8) == 0))
                        /* the bus's policy said no, in its own words: ours */
                        fprintf(stderr, "bridgectl: %s: permission denied (%s)\n", what,
                                strcmp(what, "get") == 0 || strcmp(what, "conflicts") == 0 ?
                                "only root, group bridged and the user at the active seat may read the "
                                "Shared Data" : "only root and group bridged may change the bridge");
                else
                        fprintf(stderr, "bridgectl: %s: %s\n", what, error->message ? error->message : name);
        } else {
                fprintf(stderr, "bridgectl: %s: %s\n", what, strerror(-r));
        }
        return EXIT_FAILURE;
}

/* Sends m and reads its one string answer (the API's JSON); *ret is malloc'd. */
static int call_json(sd_bus *bus, sd_bus_message *m, char **ret) {
        sd_bus_message *reply = NULL;
        sd_bus_error error = SD_BUS_ERROR_NULL;
        const char *s;
        int r;

        r = sd_bus_call(bus, m, arg_timeout_usec, &error, &reply);
        if (r >= 0)
                r = sd_bus_message_read(reply, "s", &s);
        if (r >= 0 && !(*ret = strdup(s)))
                r = -ENOMEM;
        if (r == -ETIMEDOUT && strcmp(sd_bus_message_get_member(m), "Sync") == 0)
                fputs("bridgectl: sync: no answer in time; the sync goes on in the background, and "
                      "bridgectl status shows when it is done (sync --timeout S waits longer)\n", stderr);
        else if (r < 0)
                (void) fail_bus(sd_bus_message_get_member(m), &error, r);
        sd_bus_error_free(&error);
        sd_bus_message_unref(reply);
        return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}

static cJSON *parse_reply(const char *member, const char *text) {
        cJSON *j = cJSON_Parse(text);

        if (!j)
                fprintf(stderr, "bridgectl: %s: the daemon's answer is not JSON\n", member);
        return j;
}

const char *str_or(const cJSON *j, const char *name, const char *dflt) {
        const char *s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, name));
        return s ? s : dflt;
}

double num_or(const cJSON *j, const char *name, double dflt) {
        const cJSON *n = cJSON_GetObjectItemCaseSensitive(j, name);
        return cJSON_IsNumber(n) ? n->valuedouble : dflt;
}

/* Sends m (consumed) and prints its answer, as JSON or through show(). */
static int run(sd_bus *bus, sd_bus_message *m, int (*show)(const cJSON *)) {
        const char *member = sd_bus_message_get_member(m);
        char *text = NULL;
        cJSON *j;
        int r = call_json(bus, m, &text);

        sd_bus_message_unref(m);
        if (r != EXIT_SUCCESS)
                return r;
        if (arg_json || !show) {
                puts(text);
                free(text);
                return EXIT_SUCCESS;
        }
        j = parse_reply(member, text);
        free(text);
        if (!j)
                return EXIT_FAILURE;
        r = show(j);
        cJSON_Delete(j);
        return r;
}

/* A method call to the manager, with its arguments appended. */
static sd_bus_message *method(sd_bus *bus, const char *member, const char *types, ...) {
        sd_bus_message *m = NULL;
        va_list ap;
        int r = sd_bus_message_new_method_call(bus, &m, SERVICE, PATH, IFACE, member);

        if (r >= 0 && types) {
                va_start(ap, types);
                r = sd_bus_message_appendv(m, types, ap);
                va_end(ap);
        }
        if (r < 0) {
                fprintf(stderr, "bridgectl: %s: %s\n", member, strerror(-r));
                return sd_bus_message_unref(m);
        }
        return m;
}

/* DismissConflicts answers a count, not JSON. */
static int dismiss(sd_bus *bus, const uint64_t *ids, size_t n) {
        sd_bus_message *m = method(bus, "DismissConflicts", NULL), *reply = NULL;
        sd_bus_error error = SD_BUS_ERROR_NULL;
        uint32_t removed = 0;
        int r;

        if (!m)
                return EXIT_FAILURE;
        r = sd_bus_message_append_array(m, 't', ids, n * sizeof(*ids));
        if (r >= 0)
                r = sd_bus_call(bus, m, arg_timeout_usec, &error, &reply);
        if (r >= 0)
                r = sd_bus_message_read(reply, "u", &removed);
        if (r < 0)
                (void) fail_bus("DismissConflicts", &error, r);
        else if (arg_json)
                printf("{\"dismissed\":%" PRIu32 "}\n", removed);
        else
                printf("Dismissed %" PRIu32 " conflict log entr%s.\n", removed, removed == 1 ? "y" : "ies");
        sd_bus_error_free(&error);
        sd_bus_message_unref(reply);
        sd_bus_message_unref(m);
        return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}

/* run() of a method() that may have failed to build */
static int run_method(sd_bus *bus, sd_bus_message *m, int (*show)(const cJSON *)) {
        return m ? run(bus, m, show) : EXIT_FAILURE;
}

static int check_key(const char *s) {
        enum key k;

        if (key_from_name(s, &k) < 0)
                return usage_error("unknown key \"%s\": use profile, eq.custom or eq.active", s);
        return 0;
}

static int parse_uint(const char *s, uint64_t max, uint64_t *ret) {
        char *end;
        unsigned long long v;

        if (!s || !*s || *s == '-' || *s == '+')
                return -EINVAL;
        errno = 0;
        v = strtoull(s, &end, 10);
        if (errno || *end || v > max)
                return -EINVAL;
        *ret = v;
        return 0;
}

/* What the command line asks for, checked before the bus is touched, so a
 * usage error is exit 2 whether or not bridged runs. */
struct action {
        const char *member;             /* NULL: monitor */
        int (*show)(const cJSON *);
        const char *key, *family, *json;
        uint64_t id;
        uint64_t *ids;                  /* DismissConflicts; n_ids 0: all */
        size_t n_ids;
        char *owned, *stdin_text;       /* what json may point into */
        bool no_block;                  /* sync --no-block */
        enum eq_op { EQ_OP_NONE, EQ_OP_IMPORT, EQ_OP_EXPORT } eq;
        const char *path;               /* eq import, eq export; "-" or NULL: standard input or output */
        char *import_json;              /* eq import: the file's value, which json points to */
};

#define SET_STDIN_MAX (4u * 1024 * 1024)

/* Standard input, whole, for `set KEY -`. */
static char *read_stdin(void) {
        size_t len = 0, cap = 0;
        char *buf = NULL;

        for (;;) {
                size_t n;

                if (len + 4096 + 1 > cap) {
                        char *p;

                        cap = cap ? cap * 2 : 8192;
                        p = cap <= SET_STDIN_MAX + 8192 ? realloc(buf, cap) : NULL;
                        if (!p) {
                                free(buf);
                                return NULL;
                        }
                        buf = p;
                }
                n = fread(buf + len, 1, cap - len - 1, stdin);
                len += n;
                if (n == 0)
                        break;
        }
        if (ferror(stdin) || len > SET_STDIN_MAX) {
                free(buf);
                return NULL;
        }
        buf[len] = '\0';
        return buf;
}

/* `set KEY VALUE`: a whole value. What `get --json` prints (a record) is
 * taken too: its value, and its family unless --family names one. */
static int set_whole(struct action *a, const char *key, const char *text) {
        cJSON *j = cJSON_Parse(text), *value;
        const char *rec_key, *rec_family;

        a->json = text;
        value = cJSON_GetObjectItemCaseSensitive(j, "value");
        rec_key = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "key"));
        if (!cJSON_IsObject(j) || !value || !rec_key || !cJSON_GetObjectItemCaseSensitive(j, "stamp")) {
                cJSON_Delete(j);
                return 0;               /* a value: the daemon judges it */
        }
        if (strcmp(rec_key, key) != 0) {
                cJSON_Delete(j);
                return usage_error("set: the record given is of %s, not of the key named", rec_key);
        }
        rec_family = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "family"));
        if (!*a->family && rec_family && strcmp(rec_family, "any") != 0)
                a->family = strcmp(rec_family, "pro") == 0 ? "pro" : "standard";
        a->owned = cJSON_PrintUnformatted(value);
        cJSON_Delete(j);
        if (!a->owned) {
                fputs("bridgectl: set: out of memory\n", stderr);
                return EXIT_FAILURE;
        }
        a->json = a->owned;
        return 0;
}

/* One FIELD=VALUE into the patch: a dotted FIELD names nested members;
 * VALUE is JSON when it reads as JSON (3, -2.5, true, null, [0,5], "x"),
 * else the text itself, so noise_control=anc needs no quotes. */
static int set_field(cJSON *patch, const char *arg) {
        const char *eq = strchr(arg, '='), *p = arg;
        cJSON *obj = patch, *value;

        if (!eq || eq == arg)
                return usage_error("set: \"%s\" is not FIELD=VALUE (or give the whole value as JSON)", arg);
        for (;;) {
                const char *dot = memchr(p, '.', (size_t) (eq - p));
                size_t n = (size_t) ((dot ? dot : eq) - p);
                char name[128];
                cJSON *next;

                if (n == 0 || n >= sizeof(name))
                        return usage_error("set: \"%s\": a field name is empty or too long", arg);
                memcpy(name, p, n);
                name[n] = '\0';
                if (!dot) {
                        value = cJSON_Parse(eq + 1);
                        if (!value)
                                value = cJSON_CreateString(eq + 1);
                        if (!value)
                                return EXIT_FAILURE;
                        cJSON_DeleteItemFromObjectCaseSensitive(obj, name);
                        cJSON_AddItemToObject(obj, name, value);
                        return 0;
                }
                next = cJSON_GetObjectItemCaseSensitive(obj, name);
                if (next && !cJSON_IsObject(next))
                        return usage_error("set: \"%s\": the field above it was given a value already", arg);
                if (!next && !(next = cJSON_AddObjectToObject(obj, name)))
                        return EXIT_FAILURE;
                obj = next;
                p = dot + 1;
        }
}

/* `set KEY FIELD=VALUE...`: one Patch with every edit. */
static int set_fields(struct action *a, int n, char **args) {
        cJSON *patch = cJSON_CreateObject();
        int r = patch ? 0 : EXIT_FAILURE;

        for (int i = 0; r == 0 && i < n; i++)
                r = set_field(patch, args[i]);
        if (r == 0 && !(a->owned = cJSON_PrintUnformatted(patch)))
                r = EXIT_FAILURE;
        cJSON_Delete(patch);
        if (r == EXIT_FAILURE)
                fputs("bridgectl: set: out of memory\n", stderr);
        a->member = "Patch";
        a->json = a->owned;
        return r;
}

static int parse_set(int argc, char **argv, struct action *a) {
        static const struct option opts[] = { { "family", required_argument, NULL, 'f' }, {} };
        const char *family = NULL;
        enum family f;
        int c;

        optind = 0;             /* glibc: 0 starts getopt afresh for this sub-command */
        opterr = 0;
        /* permuting: the synopsis puts --family after KEY; "-" is an argument */
        while ((c = getopt_long(argc, argv, "", opts, NULL)) >= 0) {
                if (c != 'f')
                        return usage_error("set: unknown option \"%s\"", argv[optind - 1]);
                if (family_from_name(optarg, &f) < 0 || f == FAMILY_ANY)
                        return usage_error("unknown family \"%s\": use standard or pro", optarg);
                family = optarg;
        }
        if (argc - optind < 2)
                return usage_error("set: %s", "expects KEY and a JSON value, - or FIELD=VALUE...");
        c = check_key(argv[optind]);
        if (c)
                return c;
        *a = (struct action) { .member = "Set", .show = show_record, .key = argv[optind],
                               .family = family ? family : "" };
        if (argc - optind == 2 && strcmp(argv[optind + 1], "-") == 0) {
                a->stdin_text = read_stdin();
                if (!a->stdin_text) {
                        fputs("bridgectl: set: cannot read the value from standard input (at most 4 MiB)\n", stderr);
                        return EXIT_FAILURE;
                }
                return set_whole(a, a->key, a->stdin_text);
        }
        if (argc - optind == 2 && !strchr(argv[optind + 1], '='))
                return set_whole(a, a->key, argv[optind + 1]);
        if (argc - optind == 2 && strchr("{[\"", argv[optind + 1][0]))
                return set_whole(a, a->key, argv[optind + 1]);
        return set_fields(a, argc - optind - 1, argv + optind + 1);
}

static int parse_sync(int argc, char **argv, struct action *a) {
        static const struct option opts[] = { { "timeout", required_argument, NULL, 't' },
                                              { "no-block", no_argument, NULL, 'n' }, {} };
        bool no_block = false;
        uint64_t s;
        int c;

        optind = 0;             /* glibc: 0 starts getopt afresh for this sub-command */
        opterr = 0;
        while ((c = getopt_long(argc, argv, "+", opts, NULL)) >= 0) {
                if (c == 'n') {
                        no_block = true;
                        continue;
                }
                if (c != 't')
                        return usage_error("sync: unknown option \"%s\"", argv[optind - 1]);
                if (parse_uint(optarg, 86400, &s) < 0 || s == 0)
                        return usage_error("sync: --timeout takes whole seconds from 1 to 86400, not \"%s\"", optarg);
                arg_timeout_usec = s * 1000000;
        }
        if (optind != argc)
                return usage_error("sync: unexpected argument \"%s\"", argv[optind]);
        *a = (struct action) { .member = "Sync", .show = show_sync, .no_block = no_block };
        return 0;
}

/* conflicts dismiss ID...|--all */
static int parse_dismiss(int argc, char **argv, struct action *a) {
        static uint64_t ids[256];

        *a = (struct action) { .member = "DismissConflicts", .ids = ids };
        if (argc == 3 && strcmp(argv[2], "--all") == 0)
                return 0;
        if (argc < 3)
                return usage_error("%s", "conflicts dismiss: give entry ids, or --all");
        if ((size_t) argc - 2 > sizeof(ids) / sizeof(ids[0]))
                return usage_error("%s", "conflicts dismiss: at most 256 ids at once");
        for (int i = 2; i < argc; i++)
                if (parse_uint(argv[i], UINT64_MAX, &ids[a->n_ids++]) < 0)
                        return usage_error("conflicts dismiss: \"%s\" is not a conflict id", argv[i]);
        return 0;
}

/* eq import FILE | eq export [FILE] */
static int parse_eq(int argc, char **argv, struct action *a) {
        const char *sub = argc > 1 ? argv[1] : "";

        if (strcmp(sub, "import") == 0) {
                if (argc != 3)
                        return usage_error("%s", "eq import: expects one FILE");
                *a = (struct action) { .member = "Set", .show = show_record, .key = "eq.custom", .family = "pro",
                                       .eq = EQ_OP_IMPORT, .path = argv[2] };
                return 0;
        }
        if (strcmp(sub, "export") == 0) {
                if (argc > 3)
                        return usage_error("%s", "eq export: expects at most one FILE");
                if (arg_json)
                        return usage_error("%s", "eq export writes the EQ file's text; for JSON use "
                                           "\"bridgectl --json get eq.custom\"");
                *a = (struct action) { .member = "Get", .key = "eq.custom", .eq = EQ_OP_EXPORT,
                                       .path = argc == 3 ? argv[2] : NULL };
                return 0;
        }
        return usage_error("%s", "eq: use \"eq import FILE\" or \"eq export [FILE]\"");
}

static int parse_command(int argc, char **argv, struct action *a) {
        static const struct { const char *cmd, *member; int (*show)(const cJSON *); } simple[] = {
                { "status", "Status", show_status },
                { "stats", "Stats", show_stats },
                { "conflicts", "ListConflicts", show_conflicts },
                { "monitor", NULL, NULL },
        };
        const char *cmd = argv[0];
        int r;

        if (strcmp(cmd, "set") == 0)
                return parse_set(argc, argv, a);
        if (strcmp(cmd, "sync") == 0)
                return parse_sync(argc, argv, a);
        if (strcmp(cmd, "conflicts") == 0 && argc > 1 && strcmp(argv[1], "dismiss") == 0)
                return parse_dismiss(argc, argv, a);
        if (strcmp(cmd, "eq") == 0)
                return parse_eq(argc, argv, a);
        if (strcmp(cmd, "get") == 0 || strcmp(cmd, "restore") == 0) {
                if (argc != 2)
                        return usage_error("%s: expects one argument", cmd);
                if (cmd[0] == 'g') {
                        r = check_key(argv[1]);
                        *a = (struct action) { .member = "Get", .show = show_record, .key = argv[1] };
                        return r;
                }
                *a = (struct action) { .member = "Restore", .show = show_record };
                if (parse_uint(argv[1], UINT64_MAX, &a->id) < 0)
                        return usage_error("restore: \"%s\" is not a conflict id", argv[1]);
                return 0;
        }
        for (size_t i = 0; i < sizeof(simple) / sizeof(simple[0]); i++)
                if (strcmp(cmd, simple[i].cmd) == 0) {
                        if (argc != 1)
                                return usage_error("%s: takes no arguments", cmd);
                        *a = (struct action) { .member = simple[i].member, .show = simple[i].show };
                        return 0;
                }
        return usage_error("unknown command \"%s\"", cmd);
}

/* ---- eq import, eq export ---- */

static bool is_std_stream(const char *path) {
        return !path || strcmp(path, "-") == 0;
}

/* The whole file ("-": standard input), at most EQ_FILE_MAX bytes; name is
 * what messages call it. */
static int read_eq_file(const char *path, const char *name, char **ret, size_t *ret_len) {
        _cleanup_(fclosep) FILE *f = NULL;
        _cleanup_free_ char *buf = malloc(EQ_FILE_MAX + 1);
        FILE *in = stdin;
        size_t n;

        if (!buf || (!is_std_stream(path) && !(in = f = fopen(path, "re")))) {
                fprintf(stderr, "bridgectl: %s: %s\n", name, strerror(errno));
                return -EIO;
        }
        n = fread(buf, 1, EQ_FILE_MAX + 1, in);
        if (ferror(in)) {
                fprintf(stderr, "bridgectl: %s: %s\n", name, strerror(errno));
                return -EIO;
        }
        if (n > EQ_FILE_MAX) {
                fprintf(stderr, "bridgectl: %s: more than %d KiB, so no EQ file\n", name, EQ_FILE_MAX / 1024);
                return -EFBIG;
        }
        *ret = TAKE_PTR(buf);
        *ret_len = n;
        return 0;
}

/* eq import: the file read into the value Set sends, before the bus is
 * touched. What was rounded is said; a refusal names the line and nothing
 * is sent. */
static int prepare_import(struct action *a) {
        const char *name = is_std_stream(a->path) ? "<stdin>" : a->path;
        struct parametric_err e = { 0 };
        _cleanup_free_ char *text = NULL;
        struct parametric_notes notes;
        struct value v;
        size_t len = 0;

        if (read_eq_file(a->path, name, &text, &len) < 0)
                return EXIT_FAILURE;
        value_init(&v, KEY_EQ_CUSTOM, FAMILY_PRO);
        if (parametric_parse(text, len, &v.custom.pro, &notes, &e) < 0) {
                if (e.line > 0)
                        fprintf(stderr, "bridgectl: %s:%u: %s\n", name, e.line, e.msg);
                else
                        fprintf(stderr, "bridgectl: %s: %s\n", name, e.msg);
                return EXIT_FAILURE;
        }
        for (unsigned i = 0; i < notes.n; i++)
                fprintf(stderr, "bridgectl: %s:%u: %s\n", name, notes.note[i].line, notes.note[i].msg);
        a->json = a->import_json = recjson_value_print(&v);
        if (!a->json) {
                fprintf(stderr, "bridgectl: %s: %s\n", name, strerror(ENOMEM));
                return EXIT_FAILURE;
        }
        return EXIT_SUCCESS;
}

/* The Custom EQ's intent (Get's record) as pro parameters: a standard intent
 * converted as the daemon converts it for pro Buds, which is said. */
static int intent_as_pro(const char *json, struct eq_pro *ret) {
        struct value_err e = { { 0 } };
        struct record rec;
        struct value pro;
        int r = recjson_record_parse(json, strlen(json), &rec, &e);

        if (r >= 0 && rec.value.key != KEY_EQ_CUSTOM)
                r = value_errf(&e, -EINVAL, "a record of %s", key_name(rec.value.key));
        if (r >= 0)
                r = eqconv_value(&rec.value, FAMILY_PRO, &pro);
        if (r < 0) {
                fprintf(stderr, "bridgectl: Get: the daemon's answer is no eq.custom record: %s\n",
                        e.msg[0] ? e.msg : strerror(-r));
                return r;
        }
        if (r > 0)
                fputs("bridgectl: the Custom EQ's intent is of the standard family: exported as converted to pro "
                      "(five peak bands), as pro Buds get it\n", stderr);
        *ret = pro.custom.pro;
        return 0;
}

static int write_eq_file(const char *path, const char *text) {
        _cleanup_(fclosep) FILE *f = NULL;
        FILE *out = stdout;

        if (!is_std_stream(path) && !(out = f = fopen(path, "we"))) {
                fprintf(stderr, "bridgectl: %s: %s\n", path, strerror(errno));
                return EXIT_FAILURE;
        }
        if (fputs(text, out) < 0 || fflush(out) != 0 || (f && fclose(TAKE_PTR(f)) != 0)) {
                fprintf(stderr, "bridgectl: %s: %s\n", is_std_stream(path) ? "<stdout>" : path, strerror(errno));
                return EXIT_FAILURE;
        }
        return EXIT_SUCCESS;
}

static int export_eq(sd_bus *bus, const struct action *a) {
        _cleanup_free_ char *json = NULL, *text = NULL;
        sd_bus_message *m = method(bus, "Get", "s", "eq.custom");
        struct eq_pro p;
        int r;

        if (!m)
                return EXIT_FAILURE;
        r = call_json(bus, m, &json);
        sd_bus_message_unref(m);
        if (r != EXIT_SUCCESS || intent_as_pro(json, &p) < 0)
                return EXIT_FAILURE;
        text = parametric_print(&p);
        if (!text) {
                fprintf(stderr, "bridgectl: eq export: %s\n", strerror(ENOMEM));
                return EXIT_FAILURE;
        }
        return write_eq_file(a->path, text);
}

static int on_sync_refused(sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        (void) error;
        if (sd_bus_message_is_method_error(reply, NULL))
                (void) sd_bus_error_copy(userdata, sd_bus_message_get_error(reply));
        return 0;
}

/* sync --no-block: asks, and does not wait for the sync. It waits only for
 * what the bus says at once (refused by its policy, no bridged on the bus):
 * the bus handles a connection's messages in order, so once it has answered
 * a call to itself sent after Sync, any such error of Sync's came before. */
static int sync_no_block(sd_bus *bus) {
        sd_bus_error refused = SD_BUS_ERROR_NULL, error = SD_BUS_ERROR_NULL;
        sd_bus_message *m = method(bus, "Sync", NULL);
        int r;

        if (!m)
                return EXIT_FAILURE;
        r = sd_bus_call_async(bus, NULL, m, on_sync_refused, &refused, 0);
        sd_bus_message_unref(m);
        if (r >= 0)
                r = sd_bus_call_method(bus, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                                       "GetId", &error, NULL, "");
        while (r >= 0 && (r = sd_bus_process(bus, NULL)) > 0)
                ;
        if (r < 0 || sd_bus_error_is_set(&refused)) {
                r = fail_bus("Sync", sd_bus_error_is_set(&refused) ? &refused : &error, r);
                sd_bus_error_free(&refused);
                sd_bus_error_free(&error);
                return r;
        }
        if (!arg_json)
                puts("Sync started; bridgectl status shows when it is done.");
        return EXIT_SUCCESS;
}

static int execute(sd_bus *bus, const struct action *a) {
        sd_bus_message *m;

        if (!a->member)
                return monitor(bus);
        if (a->eq == EQ_OP_EXPORT)
                return export_eq(bus, a);
        if (strcmp(a->member, "DismissConflicts") == 0)
                return dismiss(bus, a->ids, a->n_ids);
        if (a->no_block)
                return sync_no_block(bus);
        if (strcmp(a->member, "Set") == 0 || strcmp(a->member, "Patch") == 0)
                m = method(bus, a->member, "sss", a->key, a->family, a->json);
        else if (strcmp(a->member, "Get") == 0)
                m = method(bus, a->member, "s", a->key);
        else if (strcmp(a->member, "Restore") == 0)
                m = method(bus, a->member, "t", a->id);
        else
                m = method(bus, a->member, NULL);
        return run_method(bus, m, a->show);
}

int main(int argc, char **argv) {
        static const struct option opts[] = {
                { "json", no_argument, NULL, 'j' },
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, 'V' },
                {},
        };
        struct action action = { 0 };
        sd_bus *bus = NULL;
        char *status_argv[] = { (char *) "status", NULL };
        int c, r, n = 1;

        /* --json (or -j) anywhere on the line, as a person adds it at the end;
         * after "--" everything is an argument */
        for (int i = 1; i < argc; i++) {
                if (strcmp(argv[i], "--") == 0) {
                        while (i < argc)
                                argv[n++] = argv[i++];
                        break;
                }
                if (strcmp(argv[i], "--json") == 0 || strcmp(argv[i], "-j") == 0)
                        arg_json = true;
                else
                        argv[n++] = argv[i];
        }
        argc = n;
        argv[argc] = NULL;
        opterr = 0;
        while ((c = getopt_long(argc, argv, "+h", opts, NULL)) >= 0)
                switch (c) {
                case 'j':
                        arg_json = true;
                        break;
                case 'h':
                        usage(stdout);
                        return EXIT_SUCCESS;
                case 'V':
                        puts("bridgectl " BRIDGED_VERSION);
                        return EXIT_SUCCESS;
                default:
                        return usage_error("unknown option \"%s\"", argv[optind - 1]);
                }
        if (optind >= argc) {
                argc = 1;
                argv = status_argv;
                optind = 0;
        }
        if (strcmp(argv[optind], "help") == 0) {
                usage(stdout);
                return EXIT_SUCCESS;
        }
        for (int i = optind + 1; i < argc && strcmp(argv[i], "--") != 0; i++)
                if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
                        usage_command(argv[optind]);
                        return EXIT_SUCCESS;
                }

        r = parse_command(argc - optind, argv + optind, &action);
        if (r == 0 && action.eq == EQ_OP_IMPORT)
                r = prepare_import(&action);
        if (r == 0) {
                r = sd_bus_open_system(&bus);
                if (r < 0)
                        r = fail_bus("cannot connect to the system bus", NULL, r);
                else {
                        arg_bus = bus;
                        r = execute(bus, &action);
                }
                sd_bus_flush_close_unref(bus);
        }
        free(action.owned);
        free(action.stdin_text);
        free(action.import_json);
        return r;
}
