/* Saving findings, once per signature. */
#include "findings.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

const char *const finding_names[FIND_KINDS] = {
    "crash", "sanitizer", "hang", "leak", "internal", "nondeterminism",
    "disagreement", "engine-disagreement"};

/* Bugs being fixed while the fuzzers run, recognised by a message: a
 * finding they match is still counted and saved, marked with the bug.
 * Issue 9's were all fixed (docs/fuzzing.md "Known findings"), and a
 * message such as "could not enter its guest" or a stack through
 * ept02.c may be a new bug: none is known today. Add {text, bug} pairs
 * before the end marker while one is being worked on. */
static const struct {
    const char *text;
    const char *bug;
} known[] = {
    {NULL, NULL},
};

const char *findings_known(const struct finding *f)
{
    for (size_t i = 0; known[i].text; i++)
        if (strstr(f->detail, known[i].text) ||
            (f->log && strstr(f->log, known[i].text)))
            return known[i].bug;
    return NULL;
}

enum { MAX_SIGNATURES = 512 };
static char signatures[MAX_SIGNATURES][96];
static int signature_count;

/* The signature: kind, mode and the detail up to its first digit (so
 * that addresses and counts do not make every finding new). */
static void signature(const struct finding *f, char *out, size_t size)
{
    int n = snprintf(out, size, "%s/%s/", finding_names[f->kind], f->mode);
    for (const char *c = f->detail; *c && n + 1 < (int)size; c++) {
        if (*c >= '0' && *c <= '9')
            break;
        out[n++] = *c;
    }
    out[n] = '\0';
}

static uint64_t hash(const uint8_t *p, size_t n)
{
    uint64_t h = 0xCBF29CE484222325ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 0x100000001B3ull;
    return h;
}

int findings_save(const char *dir, const char *fuzzer, const struct finding *f,
                  const uint8_t *image, size_t size, const char *replay_fmt,
                  char *path_out, size_t path_size)
{
    char sig[96];
    signature(f, sig, sizeof sig);
    for (int i = 0; i < signature_count; i++)
        if (strcmp(signatures[i], sig) == 0)
            return 0;
    if (signature_count < MAX_SIGNATURES)
        snprintf(signatures[signature_count++], sizeof signatures[0], "%s",
                 sig);
    mkdir(dir, 0755);
    snprintf(path_out, path_size, "%s/%s-%s-%s-%016llx.img", dir, fuzzer,
             finding_names[f->kind], f->mode,
             (unsigned long long)hash(image, size));
    FILE *img = fopen(path_out, "wb");
    if (!img || fwrite(image, 1, size, img) != size) {
        if (img)
            fclose(img);
        return -1;
    }
    fclose(img);
    char txt[600];
    snprintf(txt, sizeof txt, "%.*s.txt", (int)(strlen(path_out) - 4),
             path_out);
    FILE *t = fopen(txt, "w");
    if (!t)
        return -1;
    fprintf(t, "%s: %s in %s mode\n%s\n", fuzzer, finding_names[f->kind],
            f->mode, f->detail);
    if (f->known)
        fprintf(t, "looks like a known bug: %s\n", f->known);
    fprintf(t, "replay: ");
    fprintf(t, replay_fmt, path_out);
    fprintf(t, "\n");
    if (f->log && f->log[0])
        fprintf(t, "\nstderr of the emulator:\n%s\n", f->log);
    fclose(t);
    return 1;
}
