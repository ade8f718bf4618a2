/* libmm/image.h — loaded driver images and their sections. */
#ifndef MMI_IMAGE_H
#define MMI_IMAGE_H

#include "hash.h"

#include "mm/image.h"

struct mmi_section {
    char name[9];
    mm_va base;
    uint32_t size;
    uint32_t flags;
    bool pageable, discardable, discarded;
    uint32_t lock_count;       /* MmLockPagable* locks outstanding */
};

struct mm_image {
    UT_hash_handle hh;
    void *self;
    struct mm_image *next;
    char name[32];
    mm_va base;
    uint64_t pages;
    unsigned count;
    struct mmi_section *sections;
    bool init_discarded, unloaded;
    bool adopted;              /* placed by the host's loader: no header page of ours */
    void *host;                /* the host's record of an image it loaded (libmm/host/hostimage.c) */
};

/* A section of an image the host's loader placed (a shared object): page
 * runs with their contents and how Windows would treat them. */
struct mmi_section_plan {
    char name[9];
    mm_va base;        /* page aligned, inside the image */
    uint64_t pages;
    uint32_t flags;    /* MM_SECTION_* */
    bool pageable, discardable;
    const void *data;  /* pages * 4 KiB bytes copied into the new frames */
};

/* MmLoadSystemImage for an image already placed at [base, base + pages) by
 * the host: frames behind every planned section, no header page of ours.
 * Pages no section covers stay invalid. */
mm_status mmi_image_adopt(mm_machine *m, const char *name, mm_va base, uint64_t pages,
                          const struct mmi_section_plan *plan, unsigned count, struct mm_image **out);

struct mm_image *mmi_image_lookup(mm_machine *m, const mm_image *img);
/* The image whose range holds va (loaded or not), or NULL. */
struct mm_image *mmi_image_containing(const mm_machine *m, mm_va va);
void mmi_image_free_all(mm_machine *m);
/* " (mydrv.sys+0x3000, section INIT, discarded after DriverEntry)" for an
 * address inside a section of a driver image; "" otherwise. */
void mmi_image_describe(mm_machine *m, mm_va va, char *buf, size_t size);

#endif
