/* SPDX-License-Identifier: MIT */
/* The PostgreSQL side of syncd's store: one libpq connection, statements
 * prepared on each (re)connection, synchronous calls from the one thread.
 * Inside a transaction, a statement whose result nobody waits for is kept
 * and sent, in libpq's pipeline mode, with the next one whose result is
 * needed or with the COMMIT: a group is three round trips, not ten a push.
 * hlc and origin are stored as the bit patterns of signed 64-bit integers and
 * compared in C with stamp_cmp, never in SQL. Several syncd may share the
 * database: a write transaction holds each account it writes with SELECT ...
 * FOR UPDATE (store_pg_account_lock) before it reads what it arbitrates
 * against. When the server goes away, every call fails -ENOTCONN at once
 * (the caller answers 503) until a reconnection, tried with backoff, works;
 * a transaction whose connection was lost is never carried on over a new
 * one. Must never answer from an uncommitted state. */
#include <dlfcn.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <libpq-fe.h>

#include "cleanup.h"
#include "common/errmsg.h"
#include "log.h"
#include "now.h"
#include "store-pg.h"

/* libpq is loaded when syncd is given a postgresql:// URI, never linked: a
 * syncd on SQLite maps neither libpq nor the OpenSSL that Debian's libpq
 * links, and shares GnuTLS with bridged as the one TLS library. */
#define STORE_PG_LIBPQ "libpq.so.5"
#define STORE_PG_SYMBOLS(X) \
        X(PQbackendPID) \
        X(PQclear) \
        X(PQcmdTuples) \
        X(PQconnectdbParams) \
        X(PQconsumeInput) \
        X(PQenterPipelineMode) \
        X(PQerrorMessage) \
        X(PQexec) \
        X(PQexecParams) \
        X(PQexecPrepared) \
        X(PQexitPipelineMode) \
        X(PQfinish) \
        X(PQfreemem) \
        X(PQgetResult) \
        X(PQgetlength) \
        X(PQgetvalue) \
        X(PQnotifies) \
        X(PQntuples) \
        X(PQpipelineSync) \
        X(PQprepare) \
        X(PQresultErrorField) \
        X(PQresultErrorMessage) \
        X(PQresultStatus) \
        X(PQsendQueryPrepared) \
        X(PQsetNoticeProcessor) \
        X(PQsocket) \
        X(PQstatus)

#define STORE_PG_POINTER(f) static typeof(f) *sym_##f;
STORE_PG_SYMBOLS(STORE_PG_POINTER)
/* the code below calls libpq by its own names */
#define PQbackendPID sym_PQbackendPID
#define PQclear sym_PQclear
#define PQcmdTuples sym_PQcmdTuples
#define PQconnectdbParams sym_PQconnectdbParams
#define PQconsumeInput sym_PQconsumeInput
#define PQenterPipelineMode sym_PQenterPipelineMode
#define PQerrorMessage sym_PQerrorMessage
#define PQexec sym_PQexec
#define PQexecParams sym_PQexecParams
#define PQexecPrepared sym_PQexecPrepared
#define PQexitPipelineMode sym_PQexitPipelineMode
#define PQfinish sym_PQfinish
#define PQfreemem sym_PQfreemem
#define PQgetResult sym_PQgetResult
#define PQgetlength sym_PQgetlength
#define PQgetvalue sym_PQgetvalue
#define PQnotifies sym_PQnotifies
#define PQntuples sym_PQntuples
#define PQpipelineSync sym_PQpipelineSync
#define PQprepare sym_PQprepare
#define PQresultErrorField sym_PQresultErrorField
#define PQresultErrorMessage sym_PQresultErrorMessage
#define PQresultStatus sym_PQresultStatus
#define PQsendQueryPrepared sym_PQsendQueryPrepared
#define PQsetNoticeProcessor sym_PQsetNoticeProcessor
#define PQsocket sym_PQsocket
#define PQstatus sym_PQstatus

#define STORE_PG_BACKOFF_MIN_MS 250u
#define STORE_PG_BACKOFF_MAX_MS 8000u
#define STORE_PG_CONNECT_TIMEOUT "5"    /* seconds; the URI's own connect_timeout wins */
#define STORE_PG_SCHEMA_LOCK "7163011"  /* pg_advisory_xact_lock key: one syncd at a time makes the schema */
#define STORE_PG_ARGS_MAX 8
#define STORE_PG_CHANNEL "syncd_changes"        /* NOTIFY payload: the account a transaction changed */

enum store_pg_query {
        P_BEGIN,
        P_COMMIT,
        P_ROLLBACK,
        P_ACCOUNT_MAKE,
        P_ACCOUNT_LOCK,
        P_ACCOUNT_RECORDS,
        P_SEQ,
        P_SEQ_NEXT,
        P_SEQ_SET,
        P_RECORD_GET,
        P_RECORD_PUT,
        P_RECORDS_SINCE,
        P_IDEM_GET,
        P_IDEM_PUT,
        P_IDEM_TRIM,
        P_IDEM_PURGE,
        P_DEVICE_PUT,
        P_DEVICES_TRIM,
        P_DEVICES_LIST,
        P_NOTIFY,
        P_IDEM_CLAIM,
        P_IDEM_RELEASE,
        _P_MAX,
};

static const char *const store_pg_sql[_P_MAX] = {
        [P_BEGIN] = "BEGIN",
        [P_COMMIT] = "COMMIT",
        [P_ROLLBACK] = "ROLLBACK",
        [P_ACCOUNT_MAKE] = "INSERT INTO accounts (account, seq) VALUES ($1, 0) ON CONFLICT (account) DO NOTHING",
        [P_ACCOUNT_LOCK] = "SELECT seq FROM accounts WHERE account = $1 FOR UPDATE",
        /* an account has a few items: all of them, read once the account is held, instead of one
         * round trip for each record a push arbitrates */
        [P_ACCOUNT_RECORDS] = "SELECT key, family, hlc, origin, json FROM records WHERE account = $1",
        [P_SEQ] = "SELECT seq FROM accounts WHERE account = $1",
        [P_SEQ_NEXT] = "INSERT INTO accounts (account, seq) VALUES ($1, 1) "
                       "ON CONFLICT (account) DO UPDATE SET seq = accounts.seq + 1 RETURNING seq",
        [P_SEQ_SET] = "UPDATE accounts SET seq = $2 WHERE account = $1",
        [P_RECORD_GET] = "SELECT hlc, origin, json FROM records WHERE account = $1 AND key = $2 AND family = $3",
        [P_RECORD_PUT] = "INSERT INTO records (account, key, family, seq, hlc, origin, device, json) "
                         "VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (account, key, family) DO UPDATE "
                         "SET seq = excluded.seq, hlc = excluded.hlc, origin = excluded.origin, "
                         "device = excluded.device, json = excluded.json",
        [P_RECORDS_SINCE] = "SELECT seq, json FROM records WHERE account = $1 AND seq > $2 ORDER BY seq LIMIT $3",
        /* binary results: the digest's bytes as they are. The age is compared by the caller: given
         * created_ms >= $3, the generic plan of this statement walked the account's answers by age
         * (idempotency_by_account_age) instead of finding the key, a cost growing with each answer kept */
        [P_IDEM_GET] = "SELECT digest, status::text, body, created_ms::text FROM idempotency "
                       "WHERE account = $1 AND key = $2",
        [P_IDEM_PUT] = "INSERT INTO idempotency (account, key, digest, status, body, created_ms) "
                       "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (account, key) DO UPDATE "
                       "SET digest = excluded.digest, status = excluded.status, body = excluded.body, "
                       "created_ms = excluded.created_ms",
        /* the oldest answers but keep_key's ($2) go while the account's bytes are over $3, as one
         * statement that needs no answer before the COMMIT: a row goes when what remains with it,
         * the bytes minus the rows older than it, is still over. The usage test has no column of
         * the rows, so the planner makes it a one-time filter: under the limit (nearly every push)
         * the answers are not read at all */
        [P_IDEM_TRIM] = "DELETE FROM idempotency WHERE (SELECT bytes FROM idempotency_usage WHERE account = $1) > $3 "
                        "AND account = $1 AND key IN (SELECT key FROM (SELECT key, "
                        "coalesce(sum(octet_length(body)) OVER (ORDER BY created_ms, key "
                        "ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS older "
                        "FROM idempotency WHERE account = $1 AND key <> $2) o "
                        "WHERE (SELECT bytes FROM idempotency_usage WHERE account = $1) - o.older > $3)",
        [P_IDEM_PURGE] = "DELETE FROM idempotency WHERE created_ms < $1",
        [P_DEVICE_PUT] = "INSERT INTO devices (account, id, json) VALUES ($1, $2, $3) "
                         "ON CONFLICT (account, id) DO UPDATE SET json = excluded.json",
        /* as SQLite's json_extract orders them: numbers by value, a missing one last */
        [P_DEVICES_TRIM] = "DELETE FROM devices WHERE account = $1 AND id IN (SELECT id FROM devices "
                           "WHERE account = $1 AND id <> $2 ORDER BY (json::jsonb -> 'last_seen_ms') DESC NULLS LAST, "
                           "id DESC OFFSET $3)",
        [P_DEVICES_LIST] = "SELECT id, json FROM devices WHERE account = $1 AND id > $2 ORDER BY id LIMIT $3",
        /* sent at COMMIT; the same account twice in one transaction is sent once */
        [P_NOTIFY] = "SELECT pg_notify('" STORE_PG_CHANNEL "', $1)",
        /* a key in progress: a lock of the session, gone with the connection of a syncd that died; two
         * int4 keys, apart from the bigint one of the schema lock (a collision costs a spurious 409) */
        [P_IDEM_CLAIM] = "SELECT pg_try_advisory_lock(hashtext($1), hashtext($2))",
        [P_IDEM_RELEASE] = "SELECT pg_advisory_unlock(hashtext($1), hashtext($2))",
};

/* Text columns compare bytewise (COLLATE "C"), as SQLite's do: device ids
 * page in the same order on both backends. */
static const char store_pg_schema[] =
        "CREATE TABLE schema_version (version integer NOT NULL);"
        "CREATE TABLE meta (name text COLLATE \"C\" PRIMARY KEY, value bytea NOT NULL);"
        "CREATE TABLE accounts (account text COLLATE \"C\" PRIMARY KEY, seq bigint NOT NULL);"
        "CREATE TABLE records (account text COLLATE \"C\" NOT NULL, key text COLLATE \"C\" NOT NULL,"
        " family text COLLATE \"C\" NOT NULL, seq bigint NOT NULL, hlc bigint NOT NULL, origin bigint NOT NULL,"
        " device text NOT NULL, json text NOT NULL, PRIMARY KEY (account, key, family));"
        "CREATE INDEX records_by_seq ON records (account, seq);"
        "CREATE TABLE idempotency (account text COLLATE \"C\" NOT NULL, key text COLLATE \"C\" NOT NULL,"
        " digest bytea NOT NULL, status integer NOT NULL, body text NOT NULL, created_ms bigint NOT NULL,"
        " PRIMARY KEY (account, key));"
        "CREATE INDEX idempotency_by_age ON idempotency (created_ms);"
        "CREATE INDEX idempotency_by_account_age ON idempotency (account, created_ms);"
        "CREATE TABLE devices (account text COLLATE \"C\" NOT NULL, id text COLLATE \"C\" NOT NULL,"
        " json text NOT NULL, PRIMARY KEY (account, id));"
        /* the bytes of each account's stored answers, kept by a trigger so that no statement can forget
         * them: summing them for each push costs as much as the account keeps (8 MiB by default) */
        "CREATE TABLE idempotency_usage (account text COLLATE \"C\" PRIMARY KEY, bytes bigint NOT NULL);"
        "CREATE FUNCTION idempotency_usage_track() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
        " IF TG_OP <> 'INSERT' THEN"
        "  UPDATE idempotency_usage SET bytes = bytes - octet_length(OLD.body) WHERE account = OLD.account;"
        " END IF;"
        " IF TG_OP <> 'DELETE' THEN"
        "  INSERT INTO idempotency_usage (account, bytes) VALUES (NEW.account, octet_length(NEW.body))"
        "  ON CONFLICT (account) DO UPDATE SET bytes = idempotency_usage.bytes + excluded.bytes;"
        " END IF;"
        " RETURN NULL; END $$;"
        "CREATE TRIGGER idempotency_usage_track AFTER INSERT OR UPDATE OR DELETE ON idempotency"
        " FOR EACH ROW EXECUTE FUNCTION idempotency_usage_track();";

/* A statement of the transaction waiting for the next round trip, its
 * parameters copied (the caller's may be gone by then). */
struct store_pg_pending {
        enum store_pg_query q;
        int n;
        char *values[STORE_PG_ARGS_MAX];
        int lengths[STORE_PG_ARGS_MAX];
        int formats[STORE_PG_ARGS_MAX];
        int result_format;
        PGresult **ret;                 /* where its result goes; NULL: only whether it failed */
};

struct store_pg_record {
        char *key, *family, *json;
        struct stamp stamp;
};

/* An account the transaction holds (FOR UPDATE): nobody else writes its
 * sequence or its records until the transaction ends, so what was read at
 * lock time plus this transaction's own writes is what the database holds
 * for it. Arbitration reads here, in C, and so sees the writes of the
 * group's earlier members. */
struct store_pg_account {
        char *account;
        uint64_t seq, seq_locked;
        struct store_pg_record *records;
        size_t n_records, max_records;
};

struct store_pg {
        char *uri;
        PGconn *conn;                   /* NULL while the server is unreachable */
        PGconn *listen;                 /* LISTENs to the other syncd; NULL while down */
        uint64_t listen_retry_at_ms, listen_backoff_ms;
        bool in_tx;                     /* between BEGIN and COMMIT or ROLLBACK */
        bool tx_sent;                   /* something of the transaction went to the server */
        struct store_pg_pending *pending;       /* not sent yet: sent with the next read, or the COMMIT */
        size_t n_pending, max_pending;
        struct store_pg_account *accounts;      /* the accounts the transaction holds */
        size_t n_accounts, max_accounts;
        uint64_t *errors;               /* failed statements, for the metrics */
        uint64_t down_since_ms, retry_at_ms, backoff_ms;
        uint8_t secret[CURSOR_SECRET_SIZE];
        /* what the thread spent waiting on the server, said when it stops
         * (docs/operations.md, "Synchronous calls, measured") */
        uint64_t round_trips, tx_round_trips, transactions, wait_us, commit_wait_us;
        uint64_t wait_started_us;
};

/* Up to STORE_PG_ARGS_MAX parameters of a statement, with room for the
 * numbers' text. */
struct store_pg_args {
        int n;
        const char *values[STORE_PG_ARGS_MAX];
        int lengths[STORE_PG_ARGS_MAX];
        int formats[STORE_PG_ARGS_MAX];
        char nums[STORE_PG_ARGS_MAX][24];
};

static void store_pg_arg_text(struct store_pg_args *a, const char *text) {
        a->values[a->n] = text;
        a->lengths[a->n] = 0;
        a->formats[a->n++] = 0;
}

static void store_pg_arg_i64(struct store_pg_args *a, int64_t v) {
        snprintf(a->nums[a->n], sizeof(a->nums[a->n]), "%" PRId64, v);
        store_pg_arg_text(a, a->nums[a->n]);
}

static void store_pg_arg_bytes(struct store_pg_args *a, const void *bytes, int len) {
        a->values[a->n] = bytes;
        a->lengths[a->n] = len;
        a->formats[a->n++] = 1;
}

DEFINE_TRIVIAL_CLEANUP_FUNC(PGresult *, PQclear)

static void store_pg_pending_clear(struct store_pg *p) {
        for (size_t i = 0; i < p->n_pending; i++)
                for (int k = 0; k < p->pending[i].n; k++)
                        free(p->pending[i].values[k]);
        p->n_pending = 0;
}

static void store_pg_accounts_clear(struct store_pg *p) {
        for (size_t i = 0; i < p->n_accounts; i++) {
                struct store_pg_account *acc = &p->accounts[i];

                for (size_t k = 0; k < acc->n_records; k++) {
                        free(acc->records[k].key);
                        free(acc->records[k].family);
                        free(acc->records[k].json);
                }
                free(acc->records);
                free(acc->account);
        }
        p->n_accounts = 0;
}

/* The transaction is over, whichever way: nothing of it stays here. */
static void store_pg_tx_end(struct store_pg *p) {
        store_pg_pending_clear(p);
        store_pg_accounts_clear(p);
        p->in_tx = false;
        p->tx_sent = false;
}

/* Makes room for one more element of an array that grows by doubling. */
static int store_pg_grow(void **array, size_t size, size_t n, size_t *max) {
        size_t m = *max ? *max * 2 : 16;
        void *a;

        if (n < *max)
                return 0;
        a = reallocarray(*array, m, size);
        if (!a)
                return -ENOMEM;
        *array = a;
        *max = m;
        return 0;
}

/* q for the next round trip of the transaction. */
static int store_pg_queue(struct store_pg *p, enum store_pg_query q, const struct store_pg_args *a,
                          int result_format, PGresult **ret) {
        struct store_pg_pending *e;

        if (store_pg_grow((void **) &p->pending, sizeof(*p->pending), p->n_pending, &p->max_pending) < 0)
                return -ENOMEM;
        e = &p->pending[p->n_pending];
        *e = (struct store_pg_pending) { .q = q, .result_format = result_format, .ret = ret };
        for (; a && e->n < a->n; e->n++) {
                size_t len = a->formats[e->n] ? (size_t) a->lengths[e->n] : strlen(a->values[e->n]) + 1;

                e->values[e->n] = malloc(len ?: 1);
                if (!e->values[e->n]) {
                        for (int k = 0; k < e->n; k++)
                                free(e->values[k]);
                        return -ENOMEM;
                }
                memcpy(e->values[e->n], a->values[e->n], len);
                e->lengths[e->n] = a->lengths[e->n];
                e->formats[e->n] = a->formats[e->n];
        }
        p->n_pending++;
        return 0;
}

struct store_pg *store_pg_free(struct store_pg *p) {
        if (!p)
                return NULL;
        if (p->round_trips > 0)
                log_msg("database: %" PRIu64 " round trips (%" PRIu64 " in %" PRIu64 " transactions), "
                        "%.2f s waiting for them (%.2f s for the COMMITs)", p->round_trips, p->tx_round_trips,
                        p->transactions, (double) p->wait_us / 1e6, (double) p->commit_wait_us / 1e6);
        store_pg_tx_end(p);
        free(p->pending);
        free(p->accounts);
        PQfinish(p->conn);
        PQfinish(p->listen);
        free(p->uri);
        free(p);
        return NULL;
}

static void store_pg_freep(struct store_pg **p) {
        store_pg_free(*p);
}

/* libpq's messages end in a newline (some in two lines): one line of them. */
static const char *store_pg_message(const char *msg, char *buf, size_t size) {
        snprintf(buf, size, "%s", msg && *msg ? msg : "unknown error");
        for (char *c = buf; *c; c++)
                if (*c == '\n' || *c == '\t')
                        *c = c[1] ? ' ' : '\0';
        return buf;
}

static int store_pg_prepare(PGconn *conn, char **ret_error) {
        char name[8], buf[256];

        for (size_t i = 0; i < _P_MAX; i++) {
                _cleanup_(PQclearp) PGresult *res = NULL;

                snprintf(name, sizeof(name), "q%zu", i);
                res = PQprepare(conn, name, store_pg_sql[i], 0, NULL);
                if (PQresultStatus(res) != PGRES_COMMAND_OK)
                        return errmsg_setf(ret_error, -EIO, "cannot prepare a statement: %s",
                                           store_pg_message(PQerrorMessage(conn), buf, sizeof(buf)));
        }
        return 0;
}

/* libpq prints the server's notices on stderr; what matters of them (a
 * connection terminated) comes back as an error and is logged once. */
static void store_pg_notice(void *userdata, const char *message) {
        (void) userdata;
        (void) message;
}

/* A new connection, or -ENOTCONN and libpq's words. Named for
 * pg_stat_activity: "syncd", or "syncd listen" for the one that LISTENs. */
static int store_pg_connect_as(const char *uri, const char *name, PGconn **ret, char **ret_error) {
        static const char *const keys[] = { "connect_timeout", "application_name", "dbname", NULL };
        const char *values[] = { STORE_PG_CONNECT_TIMEOUT, name, uri, NULL };
        PGconn *conn = PQconnectdbParams(keys, values, 1);
        char buf[512];
        int r;

        if (!conn)
                return errmsg_setf(ret_error, -ENOMEM, "out of memory");
        if (PQstatus(conn) != CONNECTION_OK) {
                r = errmsg_setf(ret_error, -ENOTCONN, "%s",
                                store_pg_message(PQerrorMessage(conn), buf, sizeof(buf)));
                PQfinish(conn);
                return r;
        }
        (void) PQsetNoticeProcessor(conn, store_pg_notice, NULL);
        *ret = conn;
        return 0;
}

static int store_pg_connect(const char *uri, PGconn **ret, char **ret_error) {
        return store_pg_connect_as(uri, "syncd", ret, ret_error);
}

/* The connection is gone: said once, then retried with backoff. */
static void store_pg_lost(struct store_pg *p) {
        char buf[512];
        uint64_t now = now_ms(CLOCK_MONOTONIC);

        if (!p->conn)
                return;
        log_msg("database connection lost (%s); answering 503 unavailable and reconnecting with backoff",
                store_pg_message(PQerrorMessage(p->conn), buf, sizeof(buf)));
        PQfinish(p->conn);
        p->conn = NULL;
        p->down_since_ms = now;
        p->backoff_ms = STORE_PG_BACKOFF_MIN_MS;
        p->retry_at_ms = now;           /* a restarted server is likely back already: one try at once */
}

/* A connection to run a statement on: the one in use, or a new one when the
 * backoff allows. Never a new one inside a transaction: what it wrote so far
 * went with the old one. */
static int store_pg_ensure(struct store_pg *p) {
        _cleanup_(freep) char *error = NULL;
        uint64_t now;
        int r;

        if (p->conn && PQstatus(p->conn) == CONNECTION_OK)
                return 0;
        store_pg_lost(p);
        if (p->in_tx)
                return -ENOTCONN;
        now = now_ms(CLOCK_MONOTONIC);
        if (now < p->retry_at_ms)
                return -ENOTCONN;
        r = store_pg_connect(p->uri, &p->conn, &error);
        if (r >= 0 && (r = store_pg_prepare(p->conn, &error)) < 0)
                p->conn = (PQfinish(p->conn), NULL);
        if (r < 0) {
                p->retry_at_ms = now + p->backoff_ms;
                p->backoff_ms = p->backoff_ms * 2 < STORE_PG_BACKOFF_MAX_MS ? p->backoff_ms * 2
                                                                            : STORE_PG_BACKOFF_MAX_MS;
                return -ENOTCONN;
        }
        log_msg("database reachable again after %.1f s", (double) (now - p->down_since_ms) / 1000.0);
        return 0;
}

/* What a failed statement means to the caller; a lost server is -ENOTCONN
 * (also when it said it is shutting down or starting: class 08, 57P0x). */
static int store_pg_errno(struct store_pg *p, const PGresult *res) {
        const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
        char buf[512];

        if (PQstatus(p->conn) != CONNECTION_OK || !state || strncmp(state, "08", 2) == 0 ||
            strncmp(state, "57P0", 4) == 0)
                return -ENOTCONN;
        if (p->errors)
                (*p->errors)++;
        log_msg("PostgreSQL: %s", store_pg_message(PQresultErrorMessage(res), buf, sizeof(buf)));
        if (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0)
                return -EDEADLK;        /* this transaction was chosen to end a deadlock: run it again */
        if (strcmp(state, "55P03") == 0)
                return -EBUSY;
        if (strncmp(state, "23", 2) == 0)
                return -EEXIST;
        if (strcmp(state, "53100") == 0)
                return -ENOSPC;
        if (strncmp(state, "53", 2) == 0)
                return -ENOMEM;
        return -EIO;
}

/* A round trip begins: the thread waits for the server until it ends. */
static void store_pg_wait_start(struct store_pg *p) {
        p->wait_started_us = now_us(CLOCK_MONOTONIC);
}

static void store_pg_wait_end(struct store_pg *p) {
        p->wait_us += now_us(CLOCK_MONOTONIC) - p->wait_started_us;
        p->round_trips++;
        p->tx_round_trips += p->in_tx;
}

static PGresult *store_pg_exec(struct store_pg *p, enum store_pg_query q, const struct store_pg_args *a,
                               int result_format, int *ret) {
        char name[8];
        PGresult *res;
        int r;

        snprintf(name, sizeof(name), "q%d", (int) q);
        store_pg_wait_start(p);
        res = PQexecPrepared(p->conn, name, a ? a->n : 0, a ? a->values : NULL, a ? a->lengths : NULL,
                             a ? a->formats : NULL, result_format);
        store_pg_wait_end(p);
        switch (PQresultStatus(res)) {
        case PGRES_COMMAND_OK:
        case PGRES_TUPLES_OK:
                *ret = 0;
                return res;
        default:
                break;
        }
        r = store_pg_errno(p, res);
        PQclear(res);
        if (r == -ENOTCONN)
                store_pg_lost(p);
        *ret = r;
        return NULL;
}

static int store_pg_broken(struct store_pg *p) {
        store_pg_lost(p);
        return -ENOTCONN;
}

/* The next result of the pipeline: libpq ends each statement's results
 * with one NULL, and a second one would mean nothing more is coming. */
static PGresult *store_pg_next(PGconn *conn) {
        return PQgetResult(conn) ?: PQgetResult(conn);
}

/* One statement's result; the first failure of the pipeline is its error
 * (the statements after it are skipped: PGRES_PIPELINE_ABORTED). */
static int store_pg_receive(struct store_pg *p, struct store_pg_pending *e) {
        PGresult *res = store_pg_next(p->conn);
        int r;

        switch (PQresultStatus(res)) {
        case PGRES_COMMAND_OK:
        case PGRES_TUPLES_OK:
                if (e->ret) {
                        PQclear(*e->ret);
                        *e->ret = res;
                } else
                        PQclear(res);
                return 0;
        case PGRES_PIPELINE_ABORTED:
                PQclear(res);
                return -ECANCELED;
        default:
                break;
        }
        r = res ? store_pg_errno(p, res) : -ENOTCONN;
        PQclear(res);
        return r;
}

/* The pending statements, in one pipeline and one round trip: the first
 * failure, or 0. A connection that fails in the middle is dropped, never
 * used again: what the server did of the pipeline is not known. */
static int store_pg_send(struct store_pg *p) {
        PGresult *sync;
        bool synced;
        char name[8];
        int r = 0;

        if (!PQenterPipelineMode(p->conn))
                return store_pg_broken(p);
        for (size_t i = 0; i < p->n_pending; i++) {
                struct store_pg_pending *e = &p->pending[i];

                snprintf(name, sizeof(name), "q%d", (int) e->q);
                if (!PQsendQueryPrepared(p->conn, name, e->n, (const char *const *) e->values, e->lengths,
                                         e->formats, e->result_format))
                        return store_pg_broken(p);
        }
        if (!PQpipelineSync(p->conn))
                return store_pg_broken(p);
        for (size_t i = 0; i < p->n_pending; i++) {
                int k = store_pg_receive(p, &p->pending[i]);

                if (k == -ENOTCONN)
                        return store_pg_broken(p);
                if (r == 0 || r == -ECANCELED)
                        r = k;
        }
        sync = store_pg_next(p->conn);
        synced = PQresultStatus(sync) == PGRES_PIPELINE_SYNC;
        PQclear(sync);
        if (!synced || !PQexitPipelineMode(p->conn))
                return store_pg_broken(p);
        return r == -ECANCELED ? -EIO : r;
}

/* Sends what the transaction has pending. When nothing of the transaction
 * reached the server before and this is not its COMMIT, a connection found
 * dead is replaced and the whole of it sent again: the server rolled back
 * whatever it had of it, no answer of it was read, so that is the
 * transaction begun anew (as BEGIN alone was run again before pipelining).
 * Once something was read, or with the COMMIT in it (which may have
 * happened), the transaction fails -ENOTCONN. */
static int store_pg_flush(struct store_pg *p) {
        bool again = !p->tx_sent && p->pending[p->n_pending - 1].q != P_COMMIT;
        int r;

        for (;;) {
                r = store_pg_ensure(p);
                if (r >= 0) {
                        store_pg_wait_start(p);
                        r = store_pg_send(p);
                        store_pg_wait_end(p);
                }
                if (r != -ENOTCONN || !again)
                        break;
                again = false;
                p->in_tx = false;       /* store_pg_ensure may connect anew */
                r = store_pg_ensure(p);
                p->in_tx = true;
                if (r < 0)
                        break;
        }
        p->tx_sent = true;
        store_pg_pending_clear(p);
        return r;
}

/* Runs q; NULL and *ret < 0 when it failed. Outside a transaction, a
 * connection found dead is replaced and the statement tried once more: a
 * server restarted while syncd was idle costs no request a 503. */
static PGresult *store_pg_run(struct store_pg *p, enum store_pg_query q, const struct store_pg_args *a,
                              int result_format, int *ret) {
        PGresult *res = NULL;

        if (p->in_tx) {                 /* with what the transaction has pending, in one round trip */
                *ret = store_pg_queue(p, q, a, result_format, &res);
                if (*ret >= 0)
                        *ret = store_pg_flush(p);
                if (*ret >= 0)
                        return res;
                PQclear(res);
                return NULL;
        }
        *ret = store_pg_ensure(p);
        if (*ret < 0)
                return NULL;
        res = store_pg_exec(p, q, a, result_format, ret);
        if (res || *ret != -ENOTCONN)
                return res;
        *ret = store_pg_ensure(p);
        return *ret < 0 ? NULL : store_pg_exec(p, q, a, result_format, ret);
}

static int store_pg_run_done(struct store_pg *p, enum store_pg_query q, const struct store_pg_args *a) {
        _cleanup_(PQclearp) PGresult *res = NULL;
        int r;

        res = store_pg_run(p, q, a, 0, &r);
        return r;
}

static int store_pg_parse_u64(const char *text, uint64_t *ret) {
        char *end;

        errno = 0;
        *ret = (uint64_t) strtoll(text, &end, 10);
        return errno || end == text || *end ? -EIO : 0;
}

/* The first column of the first row as a number; -ENOENT without a row. */
static int store_pg_run_u64(struct store_pg *p, enum store_pg_query q, const struct store_pg_args *a,
                            uint64_t *ret) {
        _cleanup_(PQclearp) PGresult *res = NULL;
        int r;

        res = store_pg_run(p, q, a, 0, &r);
        if (r < 0)
                return r;
        if (PQntuples(res) == 0)
                return -ENOENT;
        return store_pg_parse_u64(PQgetvalue(res, 0, 0), ret);
}

static int store_pg_simple(PGconn *conn, const char *sql, char **ret_error) {
        _cleanup_(PQclearp) PGresult *res = PQexec(conn, sql);
        char buf[512];

        if (PQresultStatus(res) == PGRES_COMMAND_OK || PQresultStatus(res) == PGRES_TUPLES_OK)
                return 0;
        return errmsg_setf(ret_error, -EIO, "%s", store_pg_message(PQerrorMessage(conn), buf, sizeof(buf)));
}

/* The first column of the first row of a query of one row; NULL when it
 * failed. */
static PGresult *store_pg_one(PGconn *conn, const char *sql, char **ret_error) {
        PGresult *res = PQexec(conn, sql);
        char buf[512];

        if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
                return res;
        PQclear(res);
        (void) errmsg_setf(ret_error, -EIO, "cannot read its schema version: %s",
                           store_pg_message(PQerrorMessage(conn), buf, sizeof(buf)));
        return NULL;
}

/* The schema version the database holds (0: none yet), read under the
 * schema lock. */
static int store_pg_version(PGconn *conn, int *ret, char **ret_error) {
        _cleanup_(PQclearp) PGresult *has = NULL, *res = NULL;

        has = store_pg_one(conn, "SELECT to_regclass('schema_version') IS NOT NULL", ret_error);
        if (!has)
                return -EIO;
        if (strcmp(PQgetvalue(has, 0, 0), "t") != 0) {
                *ret = 0;
                return 0;
        }
        res = store_pg_one(conn, "SELECT coalesce(max(version), 0) FROM schema_version", ret_error);
        if (!res)
                return -EIO;
        *ret = atoi(PQgetvalue(res, 0, 0));
        return 0;
}

/* The tables, made once, in one transaction under an advisory lock, so that
 * two syncd starting together make them once. A database of a newer schema
 * is refused before anything is written to it. */
static int store_pg_make_schema(PGconn *conn, char **ret_error) {
        int r, version = 0;

        r = store_pg_simple(conn, "BEGIN; SELECT pg_advisory_xact_lock(" STORE_PG_SCHEMA_LOCK ")", ret_error);
        if (r >= 0)
                r = store_pg_version(conn, &version, ret_error);
        if (r >= 0 && version > STORE_PG_SCHEMA_VERSION)
                r = errmsg_setf(ret_error, -EPROTONOSUPPORT,
                                "its schema version %d is newer than this syncd's %d (a newer syncd wrote it); "
                                "refusing to use it, nothing was written to it", version, STORE_PG_SCHEMA_VERSION);
        if (r >= 0 && version == 0) {
                r = store_pg_simple(conn, store_pg_schema, ret_error);
                if (r >= 0)
                        r = store_pg_simple(conn, "INSERT INTO schema_version (version) VALUES (1)", ret_error);
        }
        if (r >= 0)
                return store_pg_simple(conn, "COMMIT", ret_error);
        (void) store_pg_simple(conn, "ROLLBACK", NULL);
        return r;
}

/* The cursor secret: the first syncd to start makes it, every other one
 * reads the same, so a cursor is valid on every instance. */
static int store_pg_load_secret(struct store_pg *p, char **ret_error) {
        _cleanup_(PQclearp) PGresult *ins = NULL, *res = NULL;
        const char *values[1] = { (const char *) p->secret };
        const int lengths[1] = { CURSOR_SECRET_SIZE }, formats[1] = { 1 };
        char buf[512];

        if (getrandom(p->secret, sizeof(p->secret), 0) != sizeof(p->secret))
                return errmsg_setf(ret_error, -EIO, "cannot make the cursor secret: getrandom failed");
        ins = PQexecParams(p->conn, "INSERT INTO meta (name, value) VALUES ('cursor_secret', $1::bytea) "
                                    "ON CONFLICT (name) DO NOTHING", 1, NULL, values, lengths, formats, 0);
        if (PQresultStatus(ins) == PGRES_COMMAND_OK)
                res = PQexecParams(p->conn, "SELECT value FROM meta WHERE name = 'cursor_secret'",
                                   0, NULL, NULL, NULL, NULL, 1);
        if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1 ||
            PQgetlength(res, 0, 0) != CURSOR_SECRET_SIZE)
                return errmsg_setf(ret_error, -EIO, "cannot read or make the cursor secret: %s",
                                   store_pg_message(PQerrorMessage(p->conn), buf, sizeof(buf)));
        memcpy(p->secret, PQgetvalue(res, 0, 0), CURSOR_SECRET_SIZE);
        return 0;
}

int store_pg_ping(struct store_pg *p) {
        _cleanup_(PQclearp) PGresult *res = NULL;
        int r;

        r = store_pg_ensure(p);
        if (r < 0)
                return r;
        store_pg_wait_start(p);
        res = PQexec(p->conn, "SELECT 1");
        store_pg_wait_end(p);
        if (PQresultStatus(res) == PGRES_TUPLES_OK)
                return 0;
        r = store_pg_errno(p, res);
        if (r == -ENOTCONN)
                store_pg_lost(p);
        return r;
}

const uint8_t *store_pg_secret(const struct store_pg *p) {
        return p->secret;
}

/* BEGIN goes with the transaction's first round trip (the first account
 * it holds): a statement needs a connection now, not a round trip. */
int store_pg_begin(struct store_pg *p) {
        int r = store_pg_ensure(p);

        if (r < 0)
                return r;
        store_pg_tx_end(p);
        r = store_pg_queue(p, P_BEGIN, NULL, 0, NULL);
        p->in_tx = r >= 0;
        return r;
}

/* The sequences the transaction moved, its pending writes and the COMMIT,
 * in one round trip; a failure of any of them fails the transaction. */
int store_pg_commit(struct store_pg *p) {
        int r = 0;

        if (!p->in_tx)
                return store_pg_run_done(p, P_COMMIT, NULL);
        for (size_t i = 0; r >= 0 && i < p->n_accounts; i++) {
                struct store_pg_args a = {};

                if (p->accounts[i].seq == p->accounts[i].seq_locked)
                        continue;
                store_pg_arg_text(&a, p->accounts[i].account);
                store_pg_arg_i64(&a, (int64_t) p->accounts[i].seq);
                r = store_pg_queue(p, P_SEQ_SET, &a, 0, NULL);
        }
        if (r >= 0)
                r = store_pg_queue(p, P_COMMIT, NULL, 0, NULL);
        if (r >= 0) {
                uint64_t waited = p->wait_us;

                r = store_pg_flush(p);
                p->commit_wait_us += p->wait_us - waited;
        }
        p->transactions++;
        if (r >= 0)
                store_pg_tx_end(p);
        /* else the caller rolls back: a transaction whose COMMIT was skipped is still open, aborted */
        return r;
}

/* Not over a new connection: the transaction went with the old one. A
 * transaction of which nothing was sent has nothing to roll back. */
void store_pg_rollback(struct store_pg *p) {
        if (p->in_tx && p->tx_sent && p->conn) {
                int r;

                PQclear(store_pg_exec(p, P_ROLLBACK, NULL, 0, &r));
        }
        store_pg_tx_end(p);
}

static struct store_pg_account *store_pg_account_held(struct store_pg *p, const char *account) {
        for (size_t i = 0; p->in_tx && i < p->n_accounts; i++)
                if (strcmp(p->accounts[i].account, account) == 0)
                        return &p->accounts[i];
        return NULL;
}

static struct store_pg_record *store_pg_record_find(struct store_pg_account *acc, const char *key,
                                                    const char *family) {
        for (size_t i = 0; i < acc->n_records; i++)
                if (strcmp(acc->records[i].key, key) == 0 && strcmp(acc->records[i].family, family) == 0)
                        return &acc->records[i];
        return NULL;
}

/* (key, family)'s copy in the held account now holds stamp and json. */
static int store_pg_record_keep(struct store_pg_account *acc, const char *key, const char *family,
                                struct stamp stamp, const char *json) {
        struct store_pg_record *rec = store_pg_record_find(acc, key, family);
        char *copy;

        if (!rec) {
                if (store_pg_grow((void **) &acc->records, sizeof(*acc->records), acc->n_records,
                                  &acc->max_records) < 0)
                        return -ENOMEM;
                rec = &acc->records[acc->n_records];
                *rec = (struct store_pg_record) { .key = strdup(key), .family = strdup(family) };
                if (!rec->key || !rec->family) {
                        free(rec->key);
                        free(rec->family);
                        return -ENOMEM;
                }
                acc->n_records++;
        }
        copy = strdup(json);
        if (!copy)
                return -ENOMEM;
        free(rec->json);
        rec->json = copy;
        rec->stamp = stamp;
        return 0;
}

/* The account, held, with its sequence and every record of it as the
 * lock found them. */
static int store_pg_account_keep(struct store_pg *p, const char *account, const PGresult *lock,
                                 const PGresult *records) {
        struct store_pg_account *acc;
        uint64_t seq;

        if (PQntuples(lock) != 1 || store_pg_parse_u64(PQgetvalue(lock, 0, 0), &seq) < 0)
                return -EIO;
        if (store_pg_grow((void **) &p->accounts, sizeof(*p->accounts), p->n_accounts, &p->max_accounts) < 0)
                return -ENOMEM;
        acc = &p->accounts[p->n_accounts];
        *acc = (struct store_pg_account) { .account = strdup(account), .seq = seq, .seq_locked = seq };
        if (!acc->account)
                return -ENOMEM;
        p->n_accounts++;
        for (int i = 0; i < PQntuples(records); i++) {
                struct stamp stamp;
                int r;

                if (store_pg_parse_u64(PQgetvalue(records, i, 2), &stamp.hlc) < 0 ||
                    store_pg_parse_u64(PQgetvalue(records, i, 3), &stamp.origin) < 0)
                        return -EIO;
                r = store_pg_record_keep(acc, PQgetvalue(records, i, 0), PQgetvalue(records, i, 1), stamp,
                                         PQgetvalue(records, i, 4));
                if (r < 0)
                        return r;
        }
        return 0;
}

/* The account's row, made when missing, held until the transaction ends:
 * another syncd's writer of the same account waits here, before it reads
 * anything it arbitrates against. In a transaction, the row's making, its
 * lock and the read of the account's records (after the lock: what the
 * writer before left) are one round trip, with whatever was pending. */
int store_pg_account_lock(struct store_pg *p, const char *account) {
        _cleanup_(PQclearp) PGresult *lock = NULL, *records = NULL;
        struct store_pg_args a = {};
        uint64_t seq;
        int r;

        store_pg_arg_text(&a, account);
        if (!p->in_tx) {
                r = store_pg_run_done(p, P_ACCOUNT_MAKE, &a);
                if (r >= 0)
                        r = store_pg_run_u64(p, P_ACCOUNT_LOCK, &a, &seq);
                return r == -ENOENT ? -EIO : r;
        }
        if (store_pg_account_held(p, account))
                return 0;
        r = store_pg_queue(p, P_ACCOUNT_MAKE, &a, 0, NULL);
        if (r >= 0)
                r = store_pg_queue(p, P_ACCOUNT_LOCK, &a, 0, &lock);
        if (r >= 0)
                r = store_pg_queue(p, P_ACCOUNT_RECORDS, &a, 0, &records);
        if (r >= 0)
                r = store_pg_flush(p);
        return r < 0 ? r : store_pg_account_keep(p, account, lock, records);
}

int store_pg_seq(struct store_pg *p, const char *account, uint64_t *ret) {
        struct store_pg_account *acc = store_pg_account_held(p, account);
        struct store_pg_args a = {};
        int r;

        if (acc) {
                *ret = acc->seq;
                return 0;
        }
        store_pg_arg_text(&a, account);
        r = store_pg_run_u64(p, P_SEQ, &a, ret);
        if (r == -ENOENT) {
                *ret = 0;
                return 0;
        }
        return r;
}

int store_pg_record_get(struct store_pg *p, const char *account, const char *key, const char *family,
                        struct stamp *ret_stamp, char **ret_json) {
        _cleanup_(PQclearp) PGresult *res = NULL;
        struct store_pg_account *acc = store_pg_account_held(p, account);
        struct store_pg_args a = {};
        struct stamp stamp;
        char *json;
        int r;

        if (acc) {
                struct store_pg_record *rec = store_pg_record_find(acc, key, family);

                if (!rec)
                        return -ENOENT;
                json = strdup(rec->json);
                if (!json)
                        return -ENOMEM;
                *ret_stamp = rec->stamp;
                *ret_json = json;
                return 0;
        }
        store_pg_arg_text(&a, account);
        store_pg_arg_text(&a, key);
        store_pg_arg_text(&a, family);
        res = store_pg_run(p, P_RECORD_GET, &a, 0, &r);
        if (r < 0)
                return r;
        if (PQntuples(res) == 0)
                return -ENOENT;
        if (store_pg_parse_u64(PQgetvalue(res, 0, 0), &stamp.hlc) < 0 ||
            store_pg_parse_u64(PQgetvalue(res, 0, 1), &stamp.origin) < 0)
                return -EIO;
        json = strdup(PQgetvalue(res, 0, 2));
        if (!json)
                return -ENOMEM;
        *ret_stamp = stamp;
        *ret_json = json;
        return 0;
}

/* A statement whose result is only whether it worked: in a transaction, it
 * goes with the next round trip (its failure then fails that one, and with
 * it the transaction). */
static int store_pg_write(struct store_pg *p, enum store_pg_query q, const struct store_pg_args *a) {
        return p->in_tx ? store_pg_queue(p, q, a, 0, NULL) : store_pg_run_done(p, q, a);
}

/* In a held account, the sequence number is counted here (the row is
 * written once, at COMMIT) and the record sent with the next round trip. */
int store_pg_record_put(struct store_pg *p, const char *account, const char *key, const char *family,
                        struct stamp stamp, const char *device, const char *json, uint64_t *ret_seq) {
        struct store_pg_account *acc = store_pg_account_held(p, account);
        struct store_pg_args a = {};
        uint64_t seq;
        int r;

        store_pg_arg_text(&a, account);
        if (acc)
                seq = acc->seq + 1;
        else if ((r = store_pg_run_u64(p, P_SEQ_NEXT, &a, &seq)) < 0)
                return r == -ENOENT ? -EIO : r;
        store_pg_arg_text(&a, key);
        store_pg_arg_text(&a, family);
        store_pg_arg_i64(&a, (int64_t) seq);
        store_pg_arg_i64(&a, (int64_t) stamp.hlc);
        store_pg_arg_i64(&a, (int64_t) stamp.origin);
        store_pg_arg_text(&a, device);
        store_pg_arg_text(&a, json);
        r = store_pg_write(p, P_RECORD_PUT, &a);
        if (r >= 0 && acc && (r = store_pg_record_keep(acc, key, family, stamp, json)) >= 0)
                acc->seq = seq;
        if (r < 0)
                return r;
        *ret_seq = seq;
        return 0;
}

int store_pg_records_since(struct store_pg *p, const char *account, uint64_t since, unsigned limit,
                           store_record_fn fn, void *userdata) {
        _cleanup_(PQclearp) PGresult *res = NULL;
        struct store_pg_args a = {};
        int r;

        store_pg_arg_text(&a, account);
        store_pg_arg_i64(&a, (int64_t) since);
        store_pg_arg_i64(&a, limit);
        res = store_pg_run(p, P_RECORDS_SINCE, &a, 0, &r);
        for (int i = 0; r >= 0 && i < PQntuples(res); i++) {
                uint64_t seq;

                r = store_pg_parse_u64(PQgetvalue(res, i, 0), &seq);
                if (r >= 0)
                        r = fn(seq, PQgetvalue(res, i, 1), userdata);
        }
        return r < 0 ? r : 0;
}

int store_pg_idem_get(struct store_pg *p, const char *account, const char *key, uint64_t not_before_ms,
                      uint8_t ret_digest[static STORE_DIGEST_SIZE], unsigned *ret_status, char **ret_body) {
        _cleanup_(PQclearp) PGresult *res = NULL;
        struct store_pg_args a = {};
        uint64_t created_ms;
        char *body;
        int r;

        store_pg_arg_text(&a, account);
        store_pg_arg_text(&a, key);
        res = store_pg_run(p, P_IDEM_GET, &a, 1, &r);
        if (r < 0)
                return r;
        if (PQntuples(res) == 0)
                return -ENOENT;
        if (store_pg_parse_u64(PQgetvalue(res, 0, 3), &created_ms) < 0)
                return -EIO;
        if (created_ms < not_before_ms)
                return -ENOENT;
        if (PQgetlength(res, 0, 0) != STORE_DIGEST_SIZE)
                return -EIO;
        body = strndup(PQgetvalue(res, 0, 2), (size_t) PQgetlength(res, 0, 2));
        if (!body)
                return -ENOMEM;
        memcpy(ret_digest, PQgetvalue(res, 0, 0), STORE_DIGEST_SIZE);
        *ret_status = (unsigned) atoi(PQgetvalue(res, 0, 1));
        *ret_body = body;
        return 0;
}

int store_pg_idem_put(struct store_pg *p, const char *account, const char *key,
                      const uint8_t digest[static STORE_DIGEST_SIZE], unsigned status, const char *body,
                      uint64_t now_ms) {
        struct store_pg_args a = {};

        store_pg_arg_text(&a, account);
        store_pg_arg_text(&a, key);
        store_pg_arg_bytes(&a, digest, STORE_DIGEST_SIZE);
        store_pg_arg_i64(&a, status);
        store_pg_arg_text(&a, body);
        store_pg_arg_i64(&a, (int64_t) now_ms);
        return store_pg_write(p, P_IDEM_PUT, &a);
}

/* How many rows the statement changed. */
static int store_pg_run_changes(struct store_pg *p, enum store_pg_query q, const struct store_pg_args *a) {
        _cleanup_(PQclearp) PGresult *res = NULL;
        int r;

        res = store_pg_run(p, q, a, 0, &r);
        return r < 0 ? r : atoi(PQcmdTuples(res));
}

/* In a transaction: sent with the COMMIT, how many went not known before
 * (store.h). */
static int store_pg_write_changes(struct store_pg *p, enum store_pg_query q, const struct store_pg_args *a) {
        int r;

        if (!p->in_tx)
                return store_pg_run_changes(p, q, a);
        r = store_pg_queue(p, q, a, 0, NULL);
        return r < 0 ? r : 0;
}

int store_pg_idem_trim(struct store_pg *p, const char *account, const char *keep_key, uint64_t max_bytes) {
        struct store_pg_args a = {};

        store_pg_arg_text(&a, account);
        store_pg_arg_text(&a, keep_key);
        store_pg_arg_i64(&a, (int64_t) max_bytes);
        return store_pg_write_changes(p, P_IDEM_TRIM, &a);
}

int store_pg_idem_purge(struct store_pg *p, uint64_t before_ms) {
        struct store_pg_args a = {};
        int r;

        store_pg_arg_i64(&a, (int64_t) before_ms);
        r = store_pg_write_changes(p, P_IDEM_PURGE, &a);
        return r < 0 ? r : 0;
}

int store_pg_device_put(struct store_pg *p, const char *account, const char *id, const char *json) {
        struct store_pg_args a = {};

        store_pg_arg_text(&a, account);
        store_pg_arg_text(&a, id);
        store_pg_arg_text(&a, json);
        return store_pg_write(p, P_DEVICE_PUT, &a);
}

int store_pg_devices_trim(struct store_pg *p, const char *account, const char *keep_id, unsigned max) {
        struct store_pg_args a = {};

        store_pg_arg_text(&a, account);
        store_pg_arg_text(&a, keep_id);
        store_pg_arg_i64(&a, max > 0 ? max - 1 : 0);
        return store_pg_write_changes(p, P_DEVICES_TRIM, &a);
}

int store_pg_devices_list(struct store_pg *p, const char *account, const char *after, unsigned limit,
                          store_device_fn fn, void *userdata) {
        _cleanup_(PQclearp) PGresult *res = NULL;
        struct store_pg_args a = {};
        int r;

        store_pg_arg_text(&a, account);
        store_pg_arg_text(&a, after ?: "");
        store_pg_arg_i64(&a, limit);
        res = store_pg_run(p, P_DEVICES_LIST, &a, 0, &r);
        for (int i = 0; r >= 0 && i < PQntuples(res); i++)
                r = fn(PQgetvalue(res, i, 0), PQgetvalue(res, i, 1), userdata);
        return r < 0 ? r : 0;
}

int store_pg_idem_claim(struct store_pg *p, const char *account, const char *key) {
        _cleanup_(PQclearp) PGresult *res = NULL;
        struct store_pg_args a = {};
        int r;

        store_pg_arg_text(&a, account);
        store_pg_arg_text(&a, key);
        res = store_pg_run(p, P_IDEM_CLAIM, &a, 0, &r);
        if (r < 0)
                return r;
        if (PQntuples(res) != 1)
                return -EIO;
        return strcmp(PQgetvalue(res, 0, 0), "t") == 0 ? 0 : -EBUSY;
}

/* Not inside a transaction's failure: a group that failed has rolled back
 * before its members let their keys go. A lock lost with its connection
 * is gone already (the server only warns). */
void store_pg_idem_release(struct store_pg *p, const char *account, const char *key) {
        struct store_pg_args a = {};

        if (!p->conn)
                return;
        store_pg_arg_text(&a, account);
        store_pg_arg_text(&a, key);
        (void) store_pg_run_done(p, P_IDEM_RELEASE, &a);
}

int store_pg_notify(struct store_pg *p, const char *account) {
        struct store_pg_args a = {};

        store_pg_arg_text(&a, account);
        return store_pg_write(p, P_NOTIFY, &a);
}

/* The connection that LISTENs, made anew. */
static int store_pg_listen_start(struct store_pg *p, char **ret_error) {
        int r;

        r = store_pg_connect_as(p->uri, "syncd listen", &p->listen, ret_error);
        if (r >= 0 && (r = store_pg_simple(p->listen, "LISTEN " STORE_PG_CHANNEL, ret_error)) < 0)
                p->listen = (PQfinish(p->listen), NULL);
        return r;
}

static void store_pg_listen_lost(struct store_pg *p, uint64_t now_ms) {
        char buf[512];

        log_msg("database notifications lost (%s); long polls wait for other syncd's pushes until it is back",
                store_pg_message(PQerrorMessage(p->listen), buf, sizeof(buf)));
        PQfinish(p->listen);
        p->listen = NULL;
        p->listen_backoff_ms = STORE_PG_BACKOFF_MIN_MS;
        p->listen_retry_at_ms = now_ms;
}

int store_pg_changes_fd(const struct store_pg *p) {
        return p->listen ? PQsocket(p->listen) : -1;
}

int store_pg_changes_timeout_ms(const struct store_pg *p, uint64_t now_ms) {
        if (p->listen)
                return -1;
        return p->listen_retry_at_ms > now_ms ? (int) (p->listen_retry_at_ms - now_ms) : 0;
}

/* Without the connection: another try when due; back, it calls fn(NULL),
 * since any account may have changed while nobody listened. */
static void store_pg_listen_retry(struct store_pg *p, uint64_t now_ms, store_change_fn fn, void *userdata) {
        _cleanup_(freep) char *error = NULL;

        if (now_ms < p->listen_retry_at_ms)
                return;
        if (store_pg_listen_start(p, &error) < 0) {
                p->listen_retry_at_ms = now_ms + p->listen_backoff_ms;
                p->listen_backoff_ms = p->listen_backoff_ms * 2 < STORE_PG_BACKOFF_MAX_MS ?
                        p->listen_backoff_ms * 2 : STORE_PG_BACKOFF_MAX_MS;
                return;
        }
        log_msg("database notifications back; every parked long poll reads its account again");
        fn(NULL, userdata);
}

/* The notifications that arrived; our own transactions' are skipped (their
 * long polls were woken after the COMMIT). libpq's sockets are non-blocking:
 * this never waits. */
void store_pg_changes_process(struct store_pg *p, uint64_t now_ms, store_change_fn fn, void *userdata) {
        int own = p->conn ? PQbackendPID(p->conn) : 0;
        PGnotify *n;

        if (!p->listen) {
                store_pg_listen_retry(p, now_ms, fn, userdata);
                return;
        }
        if (!PQconsumeInput(p->listen) || PQstatus(p->listen) != CONNECTION_OK) {
                store_pg_listen_lost(p, now_ms);
                return;
        }
        while ((n = PQnotifies(p->listen))) {
                if (n->be_pid != own)
                        fn(n->extra, userdata);
                PQfreemem(n);
        }
}

/* Loads libpq once; -EOPNOTSUPP (with what to install) when it is not there. */
static int store_pg_load(char **ret_error) {
        static bool loaded;
        void *dl;

        if (loaded)
                return 0;
        dl = dlopen(STORE_PG_LIBPQ, RTLD_NOW | RTLD_LOCAL);
        if (!dl)
                return errmsg_setf(ret_error, -EOPNOTSUPP, "a postgresql:// database needs %s (Debian: libpq5): %s",
                                   STORE_PG_LIBPQ, dlerror());
#define STORE_PG_LOAD(f)                                                                                           \
        if (!(sym_##f = (typeof(sym_##f)) dlsym(dl, #f))) {                                                          \
                (void) dlclose(dl);                                                                                \
                return errmsg_setf(ret_error, -EOPNOTSUPP, "%s has no %s: too old a libpq", STORE_PG_LIBPQ, #f); \
        }
        STORE_PG_SYMBOLS(STORE_PG_LOAD)
#undef STORE_PG_LOAD
        loaded = true;          /* and kept loaded: libpq is not made to be unloaded */
        return 0;
}

int store_pg_open(const char *uri, uint64_t *errors, struct store_pg **ret, char **ret_error) {
        _cleanup_(store_pg_freep) struct store_pg *p = NULL;
        int r = store_pg_load(ret_error);

        if (r < 0)
                return r;
        p = calloc(1, sizeof(*p));
        if (!p || !(p->uri = strdup(uri)))
                return errmsg_setf(ret_error, -ENOMEM, "out of memory");
        p->errors = errors;
        r = store_pg_connect(uri, &p->conn, ret_error);
        if (r >= 0)
                r = store_pg_make_schema(p->conn, ret_error);
        if (r >= 0)
                r = store_pg_prepare(p->conn, ret_error);
        if (r >= 0)
                r = store_pg_load_secret(p, ret_error);
        if (r >= 0)
                r = store_pg_listen_start(p, ret_error);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(p);
        return 0;
}
