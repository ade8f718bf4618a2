/* libmm/image.c — driver images: a header page and page-aligned sections in
 * the loader region. Non-pageable sections are resident and never trimmed;
 * PAGE* sections join the system working set; INIT is freed when
 * initialisation ends. An unloaded image keeps its range, so later touches
 * are recognised as references to an unloaded driver. */
#include "image.h"

#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "bugcheck.h"
#include "fault.h"
#include "irql.h"
#include "machine.h"
#include "memory.h"
#include "pfn.h"
#include "process.h"
#include "pte.h"
#include "trace.h"

#define MAX_SECTIONS 32u
#define MAX_SECTION_BYTES (256u << 20)

struct mm_image *mmi_image_lookup(mm_machine *m, const mm_image *img)
{
    struct mm_image *found = NULL;
    if (img)
        HASH_FIND_PTR(m->images, &img, found);
    return found;
}

struct mm_image *mmi_image_containing(const mm_machine *m, mm_va va)
{
    for (struct mm_image *i = m->image_first; i; i = i->next)
        if (va >= i->base && va - i->base < i->pages * MM_PAGE_SIZE)
            return i;
    return NULL;
}

mm_image *mm_image_at(mm_machine *m, mm_va va) { return m ? mmi_image_containing(m, va) : NULL; }

void mmi_image_free_all(mm_machine *m)
{
    mm_machine *uthash_m = m;
    struct mm_image *i = m->image_first;
    while (i) {
        struct mm_image *next = i->next;
        HASH_DEL(m->images, i);
        mmi_free(m, i->sections);
        mmi_free(m, i);
        i = next;
    }
    m->image_first = m->image_last = NULL;
    (void)uthash_m;
}

static bool descs_valid(const char *name, const struct mm_section_desc *s, unsigned count)
{
    if (!name || !*name || strlen(name) >= 32 || !s || count == 0 || count > MAX_SECTIONS)
        return false;
    for (unsigned i = 0; i < count; i++) {
        if (!s[i].name || !*s[i].name || strlen(s[i].name) > 8 || s[i].size == 0 ||
            s[i].size > MAX_SECTION_BYTES || s[i].data_size > s[i].size || (s[i].data_size && !s[i].data) ||
            (s[i].flags & ~(MM_SECTION_CODE | MM_SECTION_WRITE)))
            return false;
    }
    return true;
}

static unsigned section_protection(uint32_t flags)
{
    if (flags & MM_SECTION_CODE)
        return flags & MM_SECTION_WRITE ? MMP_EXECUTE_READWRITE : MMP_EXECUTE_READ;
    return flags & MM_SECTION_WRITE ? MMP_READWRITE : MMP_READONLY;
}

static void release_range(mm_machine *m, mm_va base, uint64_t pages)
{
    for (uint64_t i = 0; i < pages; i++)
        mmi_release_va(m, NULL, base + i * MM_PAGE_SIZE, 0);
}

static mm_status map_section(mm_machine *m, const struct mmi_section *s, const struct mm_section_desc *d)
{
    uint64_t pages = (s->size + MM_PAGE_SIZE - 1) / MM_PAGE_SIZE;
    unsigned protection = section_protection(s->flags);
    for (uint64_t i = 0; i < pages; i++) {
        mm_pfn pfn;
        mm_va va = s->base + i * MM_PAGE_SIZE;
        mm_status st = mmi_map_new_page(m, NULL, va, protection, MM_USE_IMAGE, true,
                                        s->pageable ? m->system_ws : NULL, &pfn);
        if (!MM_SUCCESS(st)) {
            release_range(m, s->base, i);
            return st;
        }
        uint64_t off = i * MM_PAGE_SIZE;
        if (d && off < d->data_size) {
            size_t n = d->data_size - off < MM_PAGE_SIZE ? (size_t)(d->data_size - off) : MM_PAGE_SIZE;
            mmi_frame_write(m, pfn, 0, (const unsigned char *)d->data + off, n);
        }
    }
    return MM_STATUS_SUCCESS;
}

static mm_status map_image(mm_machine *m, struct mm_image *img, const struct mm_section_desc *d)
{
    mm_pfn header;
    mm_status st = mmi_map_new_page(m, NULL, img->base, MMP_READONLY, MM_USE_IMAGE, true, NULL, &header);
    if (!MM_SUCCESS(st))
        return st;
    mmi_frame_write(m, header, 0, "MZ", 2);
    for (unsigned i = 0; i < img->count; i++) {
        st = map_section(m, &img->sections[i], &d[i]);
        if (!MM_SUCCESS(st)) {
            for (unsigned k = 0; k < i; k++)
                release_range(m, img->sections[k].base, (img->sections[k].size + MM_PAGE_SIZE - 1) / MM_PAGE_SIZE);
            release_range(m, img->base, 1);
            return st;
        }
    }
    return MM_STATUS_SUCCESS;
}

static void lay_out(struct mm_image *img, const struct mm_section_desc *d)
{
    uint64_t page = 1; /* after the header page */
    for (unsigned i = 0; i < img->count; i++) {
        struct mmi_section *s = &img->sections[i];
        snprintf(s->name, sizeof s->name, "%s", d[i].name);
        s->base = img->base + page * MM_PAGE_SIZE;
        s->size = d[i].size;
        s->flags = d[i].flags;
        s->pageable = strncmp(s->name, "PAGE", 4) == 0;
        s->discardable = strcmp(s->name, "INIT") == 0;
        page += (d[i].size + MM_PAGE_SIZE - 1) / MM_PAGE_SIZE;
    }
}

static uint64_t image_pages(const struct mm_section_desc *d, unsigned count)
{
    uint64_t pages = 1;
    for (unsigned i = 0; i < count; i++)
        pages += (d[i].size + MM_PAGE_SIZE - 1) / MM_PAGE_SIZE;
    return pages;
}

/* The image joins the machine's list (lm order) and the trace. */
static struct mm_image *publish(mm_machine *m, struct mm_image *img)
{
    if (m->image_last)
        m->image_last->next = img;
    else
        m->image_first = img;
    m->image_last = img;
    mmi_trace(m, MM_EV_IMAGE, img->base, MM_PFN_NONE, 0, img->pages * MM_PAGE_SIZE);
    return img;
}

mm_status mm_image_load(mm_machine *m, const char *name, const struct mm_section_desc *sections, unsigned count,
                        mm_image **out)
{
    MMI_ENTER(m, "MmLoadSystemImage");
    if (!out || !descs_valid(name, sections, count))
        return MM_STATUS_INVALID_PARAMETER;
    *out = NULL;
    if (!mmi_irql_allows(m, MM_PASSIVE_LEVEL, 0))
        return MM_STATUS_MACHINE_DEAD;
    uint64_t pages = image_pages(sections, count);
    uint64_t index = mmi_bitmap_find_set(&m->image_va, pages, MM_ALLOCATION_GRANULARITY / MM_PAGE_SIZE);
    if (index == MMI_BITMAP_NONE)
        return MM_STATUS_NO_MEMORY;
    mm_machine *uthash_m = m;
    bool uthash_failed = false;
    mm_status st = MM_STATUS_INSUFFICIENT_RESOURCES;
    struct mm_image *img = mmi_alloc(m, sizeof *img);
    if (!img)
        goto fail_va;
    img->sections = mmi_alloc(m, count * sizeof *img->sections);
    if (!img->sections)
        goto fail_img;
    img->self = img;
    snprintf(img->name, sizeof img->name, "%s", name);
    img->base = m->layout.driver_images + index * MM_PAGE_SIZE;
    img->pages = pages;
    img->count = count;
    lay_out(img, sections);
    HASH_ADD_PTR(m->images, self, img);
    if (uthash_failed)
        goto fail_img;
    st = map_image(m, img, sections);
    if (!MM_SUCCESS(st))
        goto fail_hash;
    *out = publish(m, img);
    return MM_STATUS_SUCCESS;

fail_hash:
    HASH_DEL(m->images, img);
fail_img:
    if (img)
        mmi_free(m, img->sections);
    mmi_free(m, img);
fail_va:
    mmi_bitmap_clear(&m->image_va, index, pages);
    return st;
}

static bool plan_valid(const struct mmi_section_plan *p, unsigned count, mm_va base, uint64_t pages)
{
    if (count == 0 || count > MAX_SECTIONS)
        return false;
    for (unsigned i = 0; i < count; i++)
        if (!p[i].data || p[i].pages == 0 || p[i].pages * MM_PAGE_SIZE > MAX_SECTION_BYTES ||
            MM_BYTE_OFFSET(p[i].base) || p[i].base < base || (p[i].base - base) / MM_PAGE_SIZE + p[i].pages > pages)
            return false;
    return true;
}

mm_status mmi_image_adopt(mm_machine *m, const char *name, mm_va base, uint64_t pages,
                          const struct mmi_section_plan *plan, unsigned count, struct mm_image **out)
{
    if (!plan_valid(plan, count, base, pages))
        return MM_STATUS_INVALID_PARAMETER;
    mm_machine *uthash_m = m;
    bool uthash_failed = false;
    struct mm_image *img = mmi_alloc(m, sizeof *img);
    if (!img || !(img->sections = mmi_alloc(m, count * sizeof *img->sections))) {
        mmi_free(m, img);
        return MM_STATUS_INSUFFICIENT_RESOURCES;
    }
    img->self = img;
    img->adopted = true;
    snprintf(img->name, sizeof img->name, "%s", name);
    img->base = base;
    img->pages = pages;
    img->count = count;
    mm_status st = MM_STATUS_SUCCESS;
    unsigned mapped = 0;
    while (mapped < count && MM_SUCCESS(st)) {
        struct mmi_section *s = &img->sections[mapped];
        memcpy(s->name, plan[mapped].name, sizeof s->name);
        s->base = plan[mapped].base;
        s->size = (uint32_t)(plan[mapped].pages * MM_PAGE_SIZE);
        s->flags = plan[mapped].flags;
        s->pageable = plan[mapped].pageable;
        s->discardable = plan[mapped].discardable;
        struct mm_section_desc d = {.data = plan[mapped].data, .data_size = s->size};
        if (MM_SUCCESS(st = map_section(m, s, &d)))
            mapped++;
    }
    if (MM_SUCCESS(st)) {
        HASH_ADD_PTR(m->images, self, img);
        st = uthash_failed ? MM_STATUS_INSUFFICIENT_RESOURCES : MM_STATUS_SUCCESS;
    }
    if (!MM_SUCCESS(st)) {
        for (unsigned k = 0; k < mapped; k++)
            release_range(m, img->sections[k].base, img->sections[k].size / MM_PAGE_SIZE);
        mmi_free(m, img->sections);
        mmi_free(m, img);
        return st;
    }
    *out = publish(m, img);
    return MM_STATUS_SUCCESS;
}

static void discard_section(mm_machine *m, struct mmi_section *s)
{
    if (s->discarded)
        return;
    release_range(m, s->base, (s->size + MM_PAGE_SIZE - 1) / MM_PAGE_SIZE);
    s->discarded = true;
}

mm_status mm_image_discard_init(mm_machine *m, mm_image *image)
{
    MMI_ENTER(m, "MiFreeInitializationCode");
    struct mm_image *img = mmi_image_lookup(m, image);
    if (!img)
        return MM_STATUS_INVALID_HANDLE;
    if (img->unloaded || img->init_discarded)
        return MM_STATUS_INVALID_DEVICE_STATE;
    for (unsigned i = 0; i < img->count; i++)
        if (img->sections[i].discardable)
            discard_section(m, &img->sections[i]);
    img->init_discarded = true;
    mmi_trace(m, MM_EV_IMAGE, img->base, MM_PFN_NONE, 1, img->pages * MM_PAGE_SIZE);
    return m->dead ? MM_STATUS_MACHINE_DEAD : MM_STATUS_SUCCESS;
}

mm_status mm_image_unload(mm_machine *m, mm_image *image)
{
    MMI_ENTER(m, "MmUnloadSystemImage");
    struct mm_image *img = mmi_image_lookup(m, image);
    if (!img)
        return MM_STATUS_INVALID_HANDLE;
    if (img->unloaded)
        return MM_STATUS_INVALID_DEVICE_STATE;
    if (!mmi_irql_allows(m, MM_PASSIVE_LEVEL, img->base))
        return MM_STATUS_MACHINE_DEAD;
    for (unsigned i = 0; i < img->count; i++)
        discard_section(m, &img->sections[i]);
    if (!img->adopted)
        release_range(m, img->base, 1);
    img->unloaded = true;
    mmi_trace(m, MM_EV_IMAGE, img->base, MM_PFN_NONE, 2, img->pages * MM_PAGE_SIZE);
    return m->dead ? MM_STATUS_MACHINE_DEAD : MM_STATUS_SUCCESS;
}

mm_status mm_image_query(mm_machine *m, mm_image *image, struct mm_image_info *out)
{
    if (!m || !out)
        return MM_STATUS_INVALID_PARAMETER;
    struct mm_image *img = mmi_image_lookup(m, image);
    if (!img)
        return MM_STATUS_INVALID_HANDLE;
    *out = (struct mm_image_info){.base = img->base, .size = img->pages * MM_PAGE_SIZE,
                                  .section_count = img->count, .init_discarded = img->init_discarded,
                                  .unloaded = img->unloaded};
    memcpy(out->name, img->name, sizeof out->name);
    return MM_STATUS_SUCCESS;
}

mm_status mm_image_section(mm_machine *m, mm_image *image, unsigned index, struct mm_section_info *out)
{
    if (!m || !out)
        return MM_STATUS_INVALID_PARAMETER;
    struct mm_image *img = mmi_image_lookup(m, image);
    if (!img)
        return MM_STATUS_INVALID_HANDLE;
    if (index >= img->count)
        return MM_STATUS_NOT_FOUND;
    const struct mmi_section *s = &img->sections[index];
    *out = (struct mm_section_info){.base = s->base, .size = s->size, .flags = s->flags,
                                    .pageable = s->pageable, .discardable = s->discardable,
                                    .discarded = s->discarded};
    memcpy(out->name, s->name, sizeof out->name);
    return MM_STATUS_SUCCESS;
}

mm_va mm_image_section_address(mm_machine *m, mm_image *image, const char *name)
{
    if (!m || !name)
        return 0;
    struct mm_image *img = mmi_image_lookup(m, image);
    for (unsigned i = 0; img && i < img->count; i++)
        if (strcmp(img->sections[i].name, name) == 0)
            return img->sections[i].base;
    return 0;
}

/* ---- MmLockPagableCodeSection / MmUnlockPagableImageSection ---- */

static struct mmi_section *pageable_section_at(mm_machine *m, mm_va va, bool base_only)
{
    struct mm_image *img = mmi_image_containing(m, va);
    for (unsigned i = 0; img && !img->unloaded && i < img->count; i++) {
        struct mmi_section *s = &img->sections[i];
        bool inside = base_only ? va == s->base : va >= s->base && va - s->base < s->size;
        if (inside && s->pageable)
            return s;
    }
    return NULL;
}

/* Brings every page of the section in and takes (or drops) one lock on it. */
static mm_status lock_section_pages(mm_machine *m, const struct mmi_section *s, bool lock)
{
    for (mm_va va = s->base; va < s->base + s->size; va += MM_PAGE_SIZE) {
        struct mm_access_request req = {.va = va};
        mm_status st = mmi_access(m, &req);
        if (!MM_SUCCESS(st))
            return st;
        struct mmi_walk w;
        mmi_walk(m, m->system->pml4, va, &w);
        mm_pfn pfn = mmi_pte_pfn(w.entry[3]);
        if (lock && !MM_SUCCESS(st = mmi_lock_frame(m, pfn)))
            return st;
        if (lock)
            continue;
        if (!MM_SUCCESS(st = mmi_unlock_frame(m, pfn)))
            return st;
    }
    return MM_STATUS_SUCCESS;
}

mm_va mm_lock_pagable_section(mm_machine *m, mm_va address)
{
    MMI_ENTER_RET(m, "MmLockPagableCodeSection", 0);
    if (!mmi_irql_apc_lte(m))
        return 0;
    struct mmi_section *s = pageable_section_at(m, address, false);
    if (!s) {
        mmi_bugcheck(m, MM_BUGCHECK_MEMORY_MANAGEMENT, 0x1234, address, 0, 0, MM_PFN_NONE, address,
                     "MmLockPagableCodeSection(%016llx): no pageable section of a loaded driver holds it",
                     (unsigned long long)address);
        return 0;
    }
    if (s->lock_count++ == 0 && !MM_SUCCESS(lock_section_pages(m, s, true))) {
        s->lock_count--;
        return 0;
    }
    return s->base;
}

mm_status mm_unlock_pagable_image_section(mm_machine *m, mm_va handle)
{
    MMI_ENTER(m, "MmUnlockPagableImageSection");
    if (!mmi_irql_apc_lte(m))
        return MM_STATUS_MACHINE_DEAD;
    struct mmi_section *s = pageable_section_at(m, handle, true);
    if (!s || s->lock_count == 0)
        return mmi_bugcheck(m, MM_BUGCHECK_MEMORY_MANAGEMENT, 0x1010, handle, 0, 0, MM_PFN_NONE, handle,
                            "MmUnlockPagableImageSection(%016llx): the section is not locked (never locked, or "
                            "unlocked more times than locked)", (unsigned long long)handle);
    if (--s->lock_count == 0)
        return lock_section_pages(m, s, false);
    return MM_STATUS_SUCCESS;
}

void mmi_image_describe(mm_machine *m, mm_va va, char *buf, size_t size)
{
    struct mm_image *img = mmi_image_containing(m, va);
    buf[0] = 0;
    for (unsigned i = 0; img && i < img->count; i++) {
        const struct mmi_section *sec = &img->sections[i];
        if (va >= sec->base && va < sec->base + sec->size)
            snprintf(buf, size, " (%s+0x%llx, section %s%s)", img->name, (unsigned long long)(va - img->base),
                     sec->name, sec->discarded ? ", discarded after DriverEntry" : "");
    }
}
