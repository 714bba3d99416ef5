/* QEMU's fw_cfg, legacy port interface (see fw_cfg.h). Items are kept
 * in a table indexed by key; an item nobody published reads as zeros,
 * as an unknown selector does on QEMU. */
#include "dev/fw_cfg.h"

#include <stdlib.h>
#include <string.h>

#include "machine.h"

enum {
    SELECTOR_PORT = 0x510,
    KEY_COUNT = 0x20, /* the well-known items, below FW_CFG_FILE_FIRST */
};

struct item {
    uint8_t *data;
    size_t size;
};

struct fw_cfg {
    struct item items[KEY_COUNT];
    uint16_t selector;
    size_t offset;
};

static uint64_t fw_cfg_read(void *dev, uint64_t offset, unsigned size)
{
    struct fw_cfg *f = dev;
    if (offset != 1)
        return UINT64_MAX; /* the selector is write-only */
    /* Each byte of a wider read is the next byte of the item (QEMU's
     * data port is 8 bits wide and repeats for wider accesses). */
    uint64_t v = 0;
    const struct item *it = f->selector < KEY_COUNT ? &f->items[f->selector]
                                                    : NULL;
    for (unsigned i = 0; i < size; i++, f->offset++)
        if (it && f->offset < it->size)
            v |= (uint64_t)it->data[f->offset] << (8 * i);
    return v;
}

static void fw_cfg_write(void *dev, uint64_t offset, unsigned size,
                         uint64_t value)
{
    struct fw_cfg *f = dev;
    (void)size;
    if (offset == 0) {
        f->selector = (uint16_t)value;
        f->offset = 0;
    }
}

static struct fw_cfg *device(struct machine *m)
{
    const struct bus_range *r = bus_find(&m->ports, SELECTOR_PORT);
    return r && r->read == fw_cfg_read ? r->dev : NULL;
}

int fw_cfg_set_blob(struct machine *m, uint16_t key, const void *data,
                    size_t size)
{
    struct fw_cfg *f = device(m);
    if (f == NULL || key >= KEY_COUNT)
        return -1;
    uint8_t *copy = malloc(size ? size : 1);
    if (copy == NULL)
        return -1;
    if (size)
        memcpy(copy, data, size);
    free(f->items[key].data);
    f->items[key] = (struct item){copy, size};
    return 0;
}

static int set_number(struct machine *m, uint16_t key, uint64_t v,
                      unsigned bytes)
{
    uint8_t le[8];
    for (unsigned i = 0; i < bytes; i++)
        le[i] = (uint8_t)(v >> (8 * i));
    return fw_cfg_set_blob(m, key, le, bytes);
}

int fw_cfg_set_u16(struct machine *m, uint16_t key, uint16_t value)
{
    return set_number(m, key, value, 2);
}

int fw_cfg_set_u32(struct machine *m, uint16_t key, uint32_t value)
{
    return set_number(m, key, value, 4);
}

int fw_cfg_set_u64(struct machine *m, uint16_t key, uint64_t value)
{
    return set_number(m, key, value, 8);
}

struct fw_cfg *fw_cfg_create(struct machine *m)
{
    struct fw_cfg *f = calloc(1, sizeof *f);
    if (f == NULL)
        return NULL;
    if (bus_register(&m->ports, SELECTOR_PORT, 2, f, fw_cfg_read,
                     fw_cfg_write, "fw_cfg") != 0) {
        free(f);
        return NULL;
    }
    static const uint8_t no_files[4] = {0, 0, 0, 0};
    if (fw_cfg_set_blob(m, FW_CFG_SIGNATURE, "QEMU", 4) != 0 ||
        fw_cfg_set_u32(m, FW_CFG_ID, 1) != 0 ||
        fw_cfg_set_u64(m, FW_CFG_RAM_SIZE, m->ram_size) != 0 ||
        fw_cfg_set_u16(m, FW_CFG_NB_CPUS, 1) != 0 ||
        fw_cfg_set_u16(m, FW_CFG_MAX_CPUS, 1) != 0 ||
        fw_cfg_set_blob(m, FW_CFG_FILE_DIR, no_files, 4) != 0) {
        fw_cfg_destroy(f); /* the bus range dies with the machine */
        return NULL;
    }
    return f;
}

void fw_cfg_destroy(struct fw_cfg *f)
{
    if (f == NULL)
        return;
    for (int i = 0; i < KEY_COUNT; i++)
        free(f->items[i].data);
    free(f);
}
