/* Findings of the guest-code fuzzer: what kind, where, and the saved
 * reproducer with the one-line command that replays it. */
#ifndef FUZZ_FINDINGS_H
#define FUZZ_FINDINGS_H

#include <stddef.h>
#include <stdint.h>

enum finding_kind {
    FIND_CRASH,          /* the emulator died of a signal */
    FIND_SANITIZER,      /* ASan/UBSan reported */
    FIND_HANG,           /* a run exceeded its wall-clock limit */
    FIND_LEAK,           /* LeakSanitizer reported */
    FIND_INTERNAL,       /* the machine stopped with an emulator limit */
    FIND_NONDETERMINISM, /* the same run twice differed */
    FIND_DISAGREEMENT,   /* bare and single differed where they must not */
    FIND_ENGINES,        /* two engines differed on the same run */
    FIND_KINDS
};

extern const char *const finding_names[FIND_KINDS];

struct finding {
    enum finding_kind kind;
    const char *mode;     /* the run it happened in */
    char detail[512];     /* one line: what was seen */
    const char *known;    /* a known bug it looks like, or NULL */
    const char *log;      /* the emulator's stderr, or NULL */
};

/* Which known, not yet fixed bug a finding looks like (by its message
 * or stderr), or NULL. */
const char *findings_known(const struct finding *f);

/* Saves image and a .txt description under dir, once per signature (the
 * kind, mode and the first words of the detail); returns 1 if it was new
 * and saved, 0 if it was seen already, -1 on error. The replay command's
 * "%s" is replaced by the image path. */
int findings_save(const char *dir, const char *fuzzer, const struct finding *f,
                  const uint8_t *image, size_t size, const char *replay_fmt,
                  char *path_out, size_t path_size);

#endif
