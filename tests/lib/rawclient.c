/* SPDX-License-Identifier: MIT */
/* Raw TCP and TLS clients for the hostile-client tests (see rawclient.h).
 * Non-blocking sockets, every wait a poll with what is left of a deadline. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"
#include "rawclient.h"

static int rawclient_left(uint64_t deadline_ms) {
        uint64_t now = harness_now_ms();

        return now >= deadline_ms ? 0 : (int) (deadline_ms - now);
}

int rawclient_tcp(const char *src, int port, uint64_t deadline_ms) {
        struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons((uint16_t) port) };
        struct sockaddr_in from = { .sin_family = AF_INET };
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0), err = 0;
        socklen_t len = sizeof(err);
        struct pollfd p;

        if (fd < 0)
                return -errno;
        /* as curl does: a small write after another must not wait for an ACK */
        (void) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &(int) { 1 }, sizeof(int));
        inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
        if (src && (inet_pton(AF_INET, src, &from.sin_addr) != 1 ||
                    bind(fd, (struct sockaddr *) &from, sizeof(from)) < 0))
                goto fail;
        if (connect(fd, (struct sockaddr *) &to, sizeof(to)) == 0)
                return fd;
        if (errno != EINPROGRESS)
                goto fail;
        p = (struct pollfd) { .fd = fd, .events = POLLOUT };
        if (poll(&p, 1, rawclient_left(deadline_ms)) != 1) {
                errno = ETIMEDOUT;
                goto fail;
        }
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err) {
                errno = err ? err : errno;
                goto fail;
        }
        return fd;
fail:
        err = -errno;
        close(fd);
        return err;
}

bool rawclient_closed(int fd, uint64_t deadline_ms) {
        for (;;) {
                struct pollfd p = { .fd = fd, .events = POLLIN | POLLRDHUP };
                char buf[4096];
                ssize_t n;

                if (poll(&p, 1, rawclient_left(deadline_ms)) != 1)
                        return false;
                n = recv(fd, buf, sizeof(buf), 0);
                if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
                        return true;
        }
}

/* Waits for the socket to be ready in the direction GnuTLS wants. */
static bool rawclient_tls_wait(struct rawclient_tls *t, uint64_t deadline_ms) {
        struct pollfd p = { .fd = t->fd, .events = gnutls_record_get_direction(t->session) ? POLLOUT : POLLIN };

        return poll(&p, 1, rawclient_left(deadline_ms)) == 1;
}

static int rawclient_tls_setup(struct rawclient_tls *t, const char *ca, const char *priority) {
        if (gnutls_certificate_allocate_credentials(&t->cred) < 0 ||
            gnutls_certificate_set_x509_trust_file(t->cred, ca, GNUTLS_X509_FMT_PEM) < 0 ||
            gnutls_init(&t->session, GNUTLS_CLIENT | GNUTLS_NONBLOCK) < 0 ||
            gnutls_priority_set_direct(t->session, priority, NULL) < 0 ||
            gnutls_credentials_set(t->session, GNUTLS_CRD_CERTIFICATE, t->cred) < 0)
                return -EINVAL;
        gnutls_session_set_verify_cert(t->session, "localhost", 0);
        gnutls_transport_set_int(t->session, t->fd);
        return 0;
}

int rawclient_tls_open(struct rawclient_tls *t, const char *src, int port, const char *ca, const char *priority,
                       uint64_t deadline_ms) {
        int r;

        *t = (struct rawclient_tls) { .fd = rawclient_tcp(src, port, deadline_ms) };
        if (t->fd < 0)
                return t->fd;
        r = rawclient_tls_setup(t, ca, priority);
        while (r == 0) {
                r = gnutls_handshake(t->session);
                if (r == GNUTLS_E_SUCCESS)
                        return 0;
                if (r != GNUTLS_E_AGAIN && r != GNUTLS_E_INTERRUPTED)
                        r = -EPROTO;
                else if (!rawclient_tls_wait(t, deadline_ms))
                        r = -ETIMEDOUT;
                else
                        r = 0;
        }
        rawclient_tls_close(t);
        return r;
}

void rawclient_tls_close(struct rawclient_tls *t) {
        if (t->session)
                gnutls_deinit(t->session);
        if (t->cred)
                gnutls_certificate_free_credentials(t->cred);
        if (t->fd >= 0)
                close(t->fd);
        *t = (struct rawclient_tls) { .fd = -1 };
}

int rawclient_tls_send(struct rawclient_tls *t, const char *data, size_t len) {
        uint64_t deadline = harness_now_ms() + 10000;

        while (len > 0) {
                ssize_t n = gnutls_record_send(t->session, data, len);

                if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED) {
                        if (!rawclient_tls_wait(t, deadline))
                                return -ETIMEDOUT;
                        continue;
                }
                if (n < 0)
                        return -EPIPE;
                data += n;
                len -= (size_t) n;
        }
        return 0;
}

size_t rawclient_tls_read(struct rawclient_tls *t, char *buf, size_t size, uint64_t deadline_ms, bool *ret_closed) {
        size_t len = 0;

        *ret_closed = false;
        while (len + 1 < size) {
                ssize_t n = gnutls_record_recv(t->session, buf + len, size - 1 - len);

                if (n > 0) {
                        len += (size_t) n;
                        continue;
                }
                if (n != GNUTLS_E_AGAIN && n != GNUTLS_E_INTERRUPTED) {
                        *ret_closed = true;     /* 0: close_notify; else the stream ended or broke */
                        break;
                }
                if (!rawclient_tls_wait(t, deadline_ms))
                        break;
        }
        buf[len] = '\0';
        return len;
}

/* The length of the whole answer in buf once its headers are in, else 0. */
static size_t rawclient_answer_len(const char *buf) {
        const char *end = strstr(buf, "\r\n\r\n"), *cl;

        if (!end)
                return 0;
        for (cl = buf; (cl = strchr(cl, '\n')) && cl < end; cl++)
                if (strncasecmp(cl + 1, "Content-Length:", 15) == 0)
                        return (size_t) (end + 4 - buf) + strtoul(cl + 16, NULL, 10);
        return (size_t) (end + 4 - buf);
}

int rawclient_tls_answer(struct rawclient_tls *t, char *buf, size_t size, uint64_t deadline_ms) {
        size_t len = 0, want = 0;
        int status;

        buf[0] = '\0';
        while (len + 1 < size && (!want || len < want)) {
                ssize_t n = gnutls_record_recv(t->session, buf + len, size - 1 - len);

                if (n > 0) {
                        len += (size_t) n;
                        buf[len] = '\0';
                        want = rawclient_answer_len(buf);
                        continue;
                }
                if (n != GNUTLS_E_AGAIN && n != GNUTLS_E_INTERRUPTED)
                        return -ECONNRESET;
                if (!rawclient_tls_wait(t, deadline_ms))
                        return -ETIMEDOUT;
        }
        if (sscanf(buf, "HTTP/1.%*d %d", &status) != 1)
                return -EPROTO;
        return status;
}
