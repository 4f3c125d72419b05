/* SPDX-License-Identifier: MIT */
/* The sd-event side of libcurl's multi interface (the pattern of systemd's
 * src/import/curl-util.c): CURLMOPT_SOCKETFUNCTION adds, changes and drops
 * one I/O source per socket, CURLMOPT_TIMERFUNCTION arms one time source, and
 * both call curl_multi_socket_action() and then hand finished transfers on;
 * a transfer added from outside curl is started at once (its request
 * written before the caller's next D-Bus message), not at the next iteration.
 * Must never call curl_multi_socket_action() from inside a curl callback, and
 * never let an owner's callback run while curl is on the stack. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/epoll.h>

#include <curl/curl.h>
#include <systemd/sd-event.h>

#include "common/event-timer.h"
#include "curl-loop.h"

/* One socket curl asked us to watch; curl keeps the pointer (multi_assign). */
struct curl_loop_io {
        struct curl_loop *loop;
        sd_event_source *source;
        struct curl_loop_io *prev, *next;
};

struct curl_loop {
        sd_event *event;
        CURLM *multi;
        sd_event_source *timer;
        sd_event_source *later;         /* hands on what a kick finished */
        struct curl_loop_io *ios;
        curl_loop_done_fn done;
        void *userdata;
        unsigned dispatching;           /* nesting depth of done callbacks */
        unsigned acting;                /* inside curl_multi_socket_action() */
        bool dead;                      /* freed while dispatching */
};

static void curl_loop_io_free(struct curl_loop_io *io) {
        struct curl_loop *l = io->loop;

        if (io->prev)
                io->prev->next = io->next;
        else
                l->ios = io->next;
        if (io->next)
                io->next->prev = io->prev;
        (void) sd_event_source_disable_unref(io->source);
        free(io);
}

static void curl_loop_destroy(struct curl_loop *l) {
        if (l->multi)
                (void) curl_multi_cleanup(l->multi);
        while (l->ios)
                curl_loop_io_free(l->ios);
        (void) sd_event_source_disable_unref(l->timer);
        (void) sd_event_source_disable_unref(l->later);
        sd_event_unref(l->event);
        free(l);
}

static void curl_loop_act(struct curl_loop *l, curl_socket_t fd, int action) {
        int running;

        l->acting++;
        (void) curl_multi_socket_action(l->multi, fd, action, &running);
        l->acting--;
}

/* Hands every finished transfer to the owner, one at a time. */
static void curl_loop_dispatch(struct curl_loop *l) {
        CURLMsg *msg;
        int left;

        l->dispatching++;
        while (!l->dead && (msg = curl_multi_info_read(l->multi, &left))) {
                CURL *easy = msg->easy_handle;
                CURLcode result = msg->data.result;

                if (msg->msg != CURLMSG_DONE)
                        continue;
                (void) curl_multi_remove_handle(l->multi, easy);
                l->done(l, easy, result, l->userdata);
        }
        l->dispatching--;
        if (l->dead && l->dispatching == 0)
                curl_loop_destroy(l);
}

static int curl_loop_on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        struct curl_loop *l = userdata;
        int action = 0;

        (void) s;
        if (revents & EPOLLIN)
                action |= CURL_CSELECT_IN;
        if (revents & EPOLLOUT)
                action |= CURL_CSELECT_OUT;
        if (revents & (EPOLLERR | EPOLLHUP))
                action |= CURL_CSELECT_ERR;
        curl_loop_act(l, fd, action);
        curl_loop_dispatch(l);
        return 0;
}

static int curl_loop_on_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        struct curl_loop *l = userdata;

        (void) s;
        (void) usec;
        curl_loop_act(l, CURL_SOCKET_TIMEOUT, 0);
        curl_loop_dispatch(l);
        return 0;
}

static int curl_loop_on_later(sd_event_source *s, void *userdata) {
        (void) s;
        curl_loop_dispatch(userdata);
        return 0;
}

/* A transfer finished by a kick is handed on at the next iteration, from
 * an event source of its own: never from inside curl_loop_add(), and never
 * by moving curl's timer, which curl does not arm again for the same time. */
static int curl_loop_dispatch_later(struct curl_loop *l) {
        int r;

        if (!l->later) {
                r = sd_event_add_defer(l->event, &l->later, curl_loop_on_later, l);
                if (r < 0)
                        return r;
                (void) sd_event_source_set_description(l->later, "curl-later");
                (void) sd_event_source_set_priority(l->later, SD_EVENT_PRIORITY_IMPORTANT);
        }
        return sd_event_source_set_enabled(l->later, SD_EVENT_ONESHOT);
}

static uint32_t curl_loop_events(int what) {
        switch (what) {
        case CURL_POLL_IN:
                return EPOLLIN;
        case CURL_POLL_OUT:
                return EPOLLOUT;
        case CURL_POLL_INOUT:
                return EPOLLIN | EPOLLOUT;
        }
        return 0;
}

static int curl_loop_io_add(struct curl_loop *l, curl_socket_t fd, uint32_t events) {
        struct curl_loop_io *io = calloc(1, sizeof(*io));
        int r;

        if (!io)
                return -ENOMEM;
        r = sd_event_add_io(l->event, &io->source, fd, events, curl_loop_on_io, l);
        if (r < 0) {
                free(io);
                return r;
        }
        (void) sd_event_source_set_description(io->source, "curl-io");
        /* an answer that came in beside D-Bus traffic is read first: the
         * engine step that traffic starts (a commit) would hold it a
         * millisecond or more */
        (void) sd_event_source_set_priority(io->source, SD_EVENT_PRIORITY_IMPORTANT);
        io->loop = l;
        io->next = l->ios;
        if (l->ios)
                l->ios->prev = io;
        l->ios = io;
        if (curl_multi_assign(l->multi, fd, io) != CURLM_OK) {
                curl_loop_io_free(io);
                return -EIO;
        }
        return 0;
}

static int curl_loop_socket_cb(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp) {
        struct curl_loop *l = userp;
        struct curl_loop_io *io = socketp;

        (void) easy;
        if (what == CURL_POLL_REMOVE) {
                if (io) {
                        (void) curl_multi_assign(l->multi, fd, NULL);
                        curl_loop_io_free(io);
                }
                return 0;
        }
        if (!io)
                return curl_loop_io_add(l, fd, curl_loop_events(what)) < 0 ? -1 : 0;
        if (sd_event_source_set_io_events(io->source, curl_loop_events(what)) < 0 ||
            sd_event_source_set_enabled(io->source, SD_EVENT_ON) < 0)
                return -1;
        return 0;
}

static int curl_loop_timer_cb(CURLM *multi, long timeout_ms, void *userp) {
        struct curl_loop *l = userp;
        uint64_t now;

        (void) multi;
        if (timeout_ms < 0)
                return l->timer && sd_event_source_set_enabled(l->timer, SD_EVENT_OFF) < 0 ? -1 : 0;
        if (sd_event_now(l->event, CLOCK_MONOTONIC, &now) < 0)
                return -1;
        /* rounded up: firing early makes curl ask for the same timer again;
         * but 0 ("now") starts every transfer and must not wait a millisecond */
        if (timeout_ms > 0)
                now += (uint64_t) timeout_ms * 1000u + 999u;
        /* accuracy 1 us: 0 would mean sd-event's default slack of 250 ms, and
         * curl starts every transfer from a 0 ms timer */
        if (event_reset_time(l->event, &l->timer, CLOCK_MONOTONIC, now, 1, curl_loop_on_timer, l) < 0)
                return -1;
        (void) sd_event_source_set_description(l->timer, "curl-timer");
        /* a request started in this iteration (a push, once its change is
         * committed) leaves at the next one, before the D-Bus traffic that
         * is pending beside it */
        (void) sd_event_source_set_priority(l->timer, SD_EVENT_PRIORITY_IMPORTANT);
        return 0;
}

int curl_loop_new(sd_event *event, curl_loop_done_fn done, void *userdata, struct curl_loop **ret) {
        struct curl_loop *l = calloc(1, sizeof(*l));

        if (!l)
                return -ENOMEM;
        l->event = sd_event_ref(event);
        l->done = done;
        l->userdata = userdata;
        l->multi = curl_multi_init();
        /* Two connections kept open between transfers: the parked long
         * poll's and one for everything else. libcurl's default (four per
         * transfer added) kept four, each with its TLS session, priorities
         * and a parse of CAFile (about 40 KiB of heap apiece), opened when
         * a burst of calls met; a call beyond two still runs at once, on a
         * new connection, and when it ends the oldest idle one is closed. */
        if (!l->multi ||
            curl_multi_setopt(l->multi, CURLMOPT_SOCKETFUNCTION, curl_loop_socket_cb) != CURLM_OK ||
            curl_multi_setopt(l->multi, CURLMOPT_SOCKETDATA, l) != CURLM_OK ||
            curl_multi_setopt(l->multi, CURLMOPT_TIMERFUNCTION, curl_loop_timer_cb) != CURLM_OK ||
            curl_multi_setopt(l->multi, CURLMOPT_TIMERDATA, l) != CURLM_OK ||
            curl_multi_setopt(l->multi, CURLMOPT_MAXCONNECTS, 2L) != CURLM_OK) {
                curl_loop_destroy(l);
                return -ENOMEM;
        }
        *ret = l;
        return 0;
}

struct curl_loop *curl_loop_free(struct curl_loop *l) {
        if (!l)
                return NULL;
        if (l->dispatching > 0)
                l->dead = true;
        else
                curl_loop_destroy(l);
        return NULL;
}

int curl_loop_add(struct curl_loop *l, CURL *easy) {
        CURLMcode m = curl_multi_add_handle(l->multi, easy);

        if (m == CURLM_OUT_OF_MEMORY)
                return -ENOMEM;
        if (m != CURLM_OK)
                return -EIO;
        if (l->acting > 0)
                return 0;       /* inside curl: its 0 ms timer starts the transfer */
        /* The request leaves now, on a kept-alive connection, not at the
         * next iteration: the caller goes on to send D-Bus messages (a push
         * is issued before its write-back and the signals), and sd-bus
         * writes those at once, so the request would queue behind them and
         * the answer behind what they bring. If the source to hand on what
         * the kick finishes cannot be had, curl's own timer starts it. */
        if (l->dispatching == 0 && curl_loop_dispatch_later(l) < 0)
                return 0;
        curl_loop_act(l, CURL_SOCKET_TIMEOUT, 0);
        return 0;
}

void curl_loop_remove(struct curl_loop *l, CURL *easy) {
        (void) curl_multi_remove_handle(l->multi, easy);
}
