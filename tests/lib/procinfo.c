/* SPDX-License-Identifier: MIT */
/* /proc readers for tests and benches (procinfo.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/lib/procinfo.h"

static FILE *proc_open(pid_t pid, const char *name) {
        char path[64];

        (void) snprintf(path, sizeof(path), "/proc/%d/%s", (int) pid, name);
        return fopen(path, "re");
}

int procinfo_mapped(pid_t pid, const char *prefix, char *ret_path, size_t size) {
        FILE *f = proc_open(pid, "maps");
        char line[512];
        int found = 0;

        if (!f)
                return -errno;
        while (!found && fgets(line, sizeof(line), f)) {
                char *path = strchr(line, '/'), *base;

                if (!path)
                        continue;
                path[strcspn(path, "\n")] = '\0';
                base = strrchr(path, '/') + 1;
                if (strncmp(base, prefix, strlen(prefix)) != 0)
                        continue;
                found = 1;
                if (ret_path)
                        (void) snprintf(ret_path, size, "%s", path);
        }
        (void) fclose(f);
        return found;
}

static long field_kib(const char *line, const char *name) {
        size_t n = strlen(name);

        return strncmp(line, name, n) == 0 && line[n] == ':' ? strtol(line + n + 1, NULL, 10) : -1;
}

int procinfo_memory(pid_t pid, struct procinfo_memory *ret) {
        struct procinfo_memory m = { -1, -1, 0, 0 };
        FILE *f = proc_open(pid, "smaps_rollup");
        char line[256];
        long v;

        if (!f)
                return -errno;
        while (fgets(line, sizeof(line), f)) {
                if ((v = field_kib(line, "Rss")) >= 0)
                        m.rss_kib = v;
                else if ((v = field_kib(line, "Pss")) >= 0)
                        m.pss_kib = v;
                else if ((v = field_kib(line, "Private_Dirty")) >= 0) {
                        m.private_dirty_kib = v;
                        m.private_kib += v;
                } else if ((v = field_kib(line, "Private_Clean")) >= 0)
                        m.private_kib += v;
        }
        (void) fclose(f);
        if (m.pss_kib < 0)
                return -ENODATA;
        *ret = m;
        return 0;
}

long procinfo_status(pid_t pid, const char *field) {
        FILE *f = proc_open(pid, "status");
        char line[256];
        long v = -1;

        if (!f)
                return -1;
        while (v < 0 && fgets(line, sizeof(line), f))
                v = field_kib(line, field);
        (void) fclose(f);
        return v;
}
