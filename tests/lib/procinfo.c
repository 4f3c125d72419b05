/* SPDX-License-Identifier: MIT */
/* /proc readers for tests and benches (procinfo.h). */
#include <errno.h>
#include <stdbool.h>
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

/* One figure line of smaps or smaps_rollup into m; false if not one of them. */
static bool memory_line(const char *line, struct procinfo_memory *m) {
        long v;

        if ((v = field_kib(line, "Rss")) >= 0)
                m->rss_kib = v;
        else if ((v = field_kib(line, "Pss")) >= 0)
                m->pss_kib = v;
        else if ((v = field_kib(line, "Private_Dirty")) >= 0) {
                m->private_dirty_kib = v;
                m->private_kib += v;
        } else if ((v = field_kib(line, "Private_Clean")) >= 0)
                m->private_kib += v;
        else
                return false;
        return true;
}

int procinfo_memory(pid_t pid, struct procinfo_memory *ret) {
        struct procinfo_memory m = { -1, -1, 0, 0 };
        FILE *f = proc_open(pid, "smaps_rollup");
        char line[256];

        if (!f)
                return -errno;
        while (fgets(line, sizeof(line), f))
                (void) memory_line(line, &m);
        (void) fclose(f);
        if (m.pss_kib < 0)
                return -ENODATA;
        *ret = m;
        return 0;
}

int procinfo_mappings(pid_t pid, procinfo_mapping_fn fn, void *userdata) {
        struct procinfo_memory m = { 0 };
        FILE *f = proc_open(pid, "smaps");
        char line[512], perms[8] = "", name[sizeof(line)] = "";
        bool in_map = false;

        if (!f)
                return -errno;
        while (fgets(line, sizeof(line), f)) {
                unsigned long lo, hi;
                char p[sizeof(perms)];
                int off = 0;

                /* a mapping's first line: range, perms, offset, device, inode, name */
                if (sscanf(line, "%lx-%lx %7s %*s %*s %*s %n", &lo, &hi, p, &off) == 3 && off > 0) {
                        if (in_map)
                                fn(perms, name, &m, userdata);
                        memcpy(perms, p, sizeof(perms));
                        line[strcspn(line, "\n")] = '\0';
                        (void) snprintf(name, sizeof(name), "%s", line + off);
                        m = (struct procinfo_memory) { 0 };
                        in_map = true;
                } else
                        (void) memory_line(line, &m);
        }
        if (in_map)
                fn(perms, name, &m, userdata);
        (void) fclose(f);
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
