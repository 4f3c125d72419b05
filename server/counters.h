/* SPDX-License-Identifier: MIT */
/* What syncd counts about clients that fail or misbehave: one struct of plain
 * numbers, added to by the module that sees each event and readable by
 * anything that holds it (the loop owns it; a /metrics endpoint would read
 * it). No logic here, and no locks: syncd has one thread. */
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
};
