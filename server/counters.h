/* SPDX-License-Identifier: MIT */
/* What syncd counts: clients that fail or misbehave, and the work done (the
 * records a push applied, the long polls it woke, database errors). One struct
 * of plain numbers, added to by the module that sees each event and readable
 * by anything that holds it (the loop owns it; metrics.c shows it on
 * /metrics). No logic here, and no locks: syncd has one thread. */
#pragma once

#include <stdint.h>

struct counters {
        uint64_t tls_handshakes_failed;
        uint64_t connections_refused;   /* at accept: over the total or the per-address limit */
        uint64_t deadlines_cut;         /* handshake and headers, body or answer too slow */
        uint64_t idle_closed;           /* kept-alive connections that sent no next request in time */
        uint64_t waits_hung_up;         /* parked long polls whose client went away */
        uint64_t waits_shed;            /* parked long polls answered early near the connection limit */
        uint64_t waits_refused;         /* 429: too many long polls of the account or the address */
        uint64_t requests_malformed;    /* 400 before routing: framing, Host, the request target */
        uint64_t log_lines_held;        /* libmicrohttpd's lines summed up instead of logged */
        uint64_t waits_woken;           /* parked long polls answered because their account changed */
        uint64_t waits_kept;            /* parked long polls a wake-up found nothing newer for, left parked */
        uint64_t push_applied;          /* records of committed pushes, by their result */
        uint64_t push_stale;
        uint64_t push_rejected;
        uint64_t database_errors;       /* SQLite's error reports (store_count_errors) */
};
