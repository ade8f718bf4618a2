/* libmm/host/hostimage.c — driver images built as shared objects, for a
 * hosted machine. The host's loader (dlopen) maps and relocates the object
 * where it likes; its pages are then copied into frames of the machine, the
 * model takes the range as a loaded image (resident code and data, pageable
 * PAGE* pages, a discardable INIT), and the host view replaces the loader's
 * mapping, so every later touch goes through the simulated MMU at the very
 * address the code was linked for. At destruction the bytes go back into
 * ordinary host memory and the loader unloads the object. */
#define _GNU_SOURCE
#include "hostmmu.h"

#include "mm/image.h"

#if defined(MMSIM_HAVE_MEMFILE) && defined(__linux__)

#include <dlfcn.h>
#include <elf.h>
#include <fcntl.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "mm/memory.h"

#include "../image.h"
#include "../irql.h"
#include "../machine.h"

#define MAX_IMAGE_PAGES (UINT64_C(1) << 16) /* 256 MiB */

enum page_kind { RESIDENT, PAGEABLE, DISCARDABLE };

/* A page's protection: PROT_* of the loader's mapping, or one of these. */
#define HOLE (-1)     /* no segment */
#define HOST_OWN (-2) /* a fuzzer's coverage counters: host memory, left alone */

struct page_info {
    int8_t prot;       /* PROT_*, HOLE or HOST_OWN */
    bool other, page, init; /* the sections that overlap it: other, PAGE*, INIT */
    bool fuzzer;       /* a fuzzer's coverage counters or PC table (__sancov_*) */
};

/* The host's record of an image it loaded (struct mm_image's host). */
struct host_image {
    void *handle;          /* dlopen's */
    bool given_back;       /* host memory again */
    bool in_snapshot;      /* loaded when the machine's snapshot was taken */
    mm_va lo, hi;          /* the pages the machine took */
    unsigned char *bytes;  /* their contents when taken */
    int8_t *prot;          /* and their protection, per page */
};

struct elf_sections {
    Elf64_Shdr *sh;
    unsigned count;
    char *names;
    size_t names_size;
};

/* ---- reading the object ---- */

static bool read_at(int fd, off_t at, void *buf, size_t n) { return pread(fd, buf, n, at) == (ssize_t)n; }

static mm_status read_sections(const char *path, struct elf_sections *out)
{
    *out = (struct elf_sections){0};
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return MM_STATUS_OBJECT_NAME_NOT_FOUND;
    Elf64_Ehdr eh;
    mm_status st = MM_STATUS_INVALID_IMAGE_FORMAT;
    if (!read_at(fd, 0, &eh, sizeof eh) || memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 ||
        eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_type != ET_DYN || eh.e_shentsize != sizeof(Elf64_Shdr) ||
        eh.e_shnum == 0 || eh.e_shnum > 4096 || eh.e_shstrndx >= eh.e_shnum)
        goto done;
    out->count = eh.e_shnum;
    out->sh = calloc(eh.e_shnum, sizeof *out->sh);
    if (!out->sh || !read_at(fd, (off_t)eh.e_shoff, out->sh, eh.e_shnum * sizeof *out->sh))
        goto done;
    const Elf64_Shdr *names = &out->sh[eh.e_shstrndx];
    if (names->sh_size == 0 || names->sh_size > (1u << 24))
        goto done;
    out->names_size = names->sh_size;
    out->names = malloc(names->sh_size + 1);
    if (!out->names || !read_at(fd, (off_t)names->sh_offset, out->names, names->sh_size))
        goto done;
    out->names[names->sh_size] = 0;
    st = MM_STATUS_SUCCESS;
done:
    close(fd);
    return st;
}

static const char *section_name(const struct elf_sections *e, unsigned i)
{
    return e->sh[i].sh_name < e->names_size ? e->names + e->sh[i].sh_name : "";
}

struct phdrs {
    mm_va base;
    const char *name;
    const ElfW(Phdr) *phdr;
    unsigned count;
};

static int find_phdrs(struct dl_phdr_info *info, size_t size, void *ctx)
{
    (void)size;
    struct phdrs *p = ctx;
    if ((mm_va)info->dlpi_addr != p->base || strcmp(info->dlpi_name, p->name) != 0)
        return 0;
    p->phdr = info->dlpi_phdr;
    p->count = info->dlpi_phnum;
    return 1;
}

static int prot_of(uint32_t flags)
{
    return ((flags & PF_R) ? PROT_READ : 0) | ((flags & PF_W) ? PROT_WRITE : 0) | ((flags & PF_X) ? PROT_EXEC : 0);
}

/* The pages the machine takes: every page of a loaded segment but the
 * loader's own header segment (ELF header, program headers, symbol tables:
 * read by the host's loader and unwinders, never by the driver). */
static bool span_of(const struct phdrs *p, mm_va *lo, mm_va *hi)
{
    *lo = UINT64_MAX;
    *hi = 0;
    for (unsigned i = 0; i < p->count; i++) {
        const ElfW(Phdr) *ph = &p->phdr[i];
        if (ph->p_type != PT_LOAD || ph->p_memsz == 0 || (ph->p_offset == 0 && !(ph->p_flags & PF_X)))
            continue;
        mm_va start = MM_PAGE_ALIGN(p->base + ph->p_vaddr);
        mm_va end = MM_PAGE_ALIGN(p->base + ph->p_vaddr + ph->p_memsz + MM_PAGE_SIZE - 1);
        *lo = start < *lo ? start : *lo;
        *hi = end > *hi ? end : *hi;
    }
    return *lo < *hi && (*hi - *lo) / MM_PAGE_SIZE <= MAX_IMAGE_PAGES;
}

/* ---- what each page is ---- */

static void mark_segments(const struct phdrs *p, mm_va lo, mm_va hi, struct page_info *pi)
{
    uint64_t pages = (hi - lo) / MM_PAGE_SIZE;
    for (uint64_t i = 0; i < pages; i++)
        pi[i].prot = HOLE;
    for (unsigned i = 0; i < p->count; i++) {
        const ElfW(Phdr) *ph = &p->phdr[i];
        mm_va start = MM_PAGE_ALIGN(p->base + ph->p_vaddr);
        mm_va end = MM_PAGE_ALIGN(p->base + ph->p_vaddr + ph->p_memsz + MM_PAGE_SIZE - 1);
        if (ph->p_type == PT_GNU_RELRO) /* read-only once relocated: the loader protects whole pages */
            end = MM_PAGE_ALIGN(p->base + ph->p_vaddr + ph->p_memsz);
        for (mm_va va = start < lo ? lo : start; va < end && va < hi; va += MM_PAGE_SIZE) {
            struct page_info *e = &pi[(va - lo) / MM_PAGE_SIZE];
            if (ph->p_type == PT_LOAD)
                e->prot = (int8_t)prot_of(ph->p_flags);
            else if (ph->p_type == PT_GNU_RELRO && e->prot > 0)
                e->prot = (int8_t)(e->prot & ~PROT_WRITE);
        }
    }
}

static void mark_sections(const struct elf_sections *e, mm_va base, mm_va lo, mm_va hi, struct page_info *pi)
{
    for (unsigned i = 0; i < e->count; i++) {
        const Elf64_Shdr *sh = &e->sh[i];
        if (!(sh->sh_flags & SHF_ALLOC) || sh->sh_size == 0)
            continue;
        const char *name = section_name(e, i);
        mm_va start = base + sh->sh_addr, end = start + sh->sh_size;
        if (end < start || end > hi)
            end = hi; /* a header that claims more than the object has */
        for (mm_va va = MM_PAGE_ALIGN(start < lo ? lo : start); va < end; va += MM_PAGE_SIZE) {
            if (va < lo || va >= hi)
                continue;
            struct page_info *p = &pi[(va - lo) / MM_PAGE_SIZE];
            if (strcmp(name, "__sancov_cntrs") == 0 || strcmp(name, "__sancov_bool_flag") == 0 ||
                strcmp(name, "__sancov_guards") == 0 || strcmp(name, "__sancov_pcs") == 0)
                p->fuzzer = true;
            else if (strcmp(name, "INIT") == 0)
                p->init = true;
            else if (strncmp(name, "PAGE", 4) == 0)
                p->page = true;
            else
                p->other = true;
        }
    }
}

/* A page is pageable or discardable only when every section on it is: a
 * page INIT shares with resident code stays (Windows' sections never share
 * a page; the linker script in docs/hosted.md keeps them apart here). */
static enum page_kind kind_of(const struct page_info *p)
{
    if (p->other || (p->page && p->init))
        return RESIDENT;
    return p->init ? DISCARDABLE : p->page ? PAGEABLE : RESIDENT;
}

/* The run's name: the section that covers most of it, cut to 8 characters. */
static void name_run(const struct elf_sections *e, mm_va base, struct mmi_section_plan *s)
{
    uint64_t best = 0;
    snprintf(s->name, sizeof s->name, "%s", ".data");
    for (unsigned i = 0; i < e->count; i++) {
        const Elf64_Shdr *sh = &e->sh[i];
        if (!(sh->sh_flags & SHF_ALLOC) || sh->sh_size == 0)
            continue;
        mm_va start = base + sh->sh_addr, end = start + sh->sh_size;
        mm_va from = start > s->base ? start : s->base;
        mm_va to = end < s->base + s->pages * MM_PAGE_SIZE ? end : s->base + s->pages * MM_PAGE_SIZE;
        if (to > from && to - from > best) {
            best = to - from;
            snprintf(s->name, sizeof s->name, "%.8s", section_name(e, i));
        }
    }
}

/* Runs of pages with the same protection and kind become the model's
 * sections; holes between segments get none. */
static unsigned plan_sections(const struct elf_sections *e, mm_va base, mm_va lo, const struct page_info *pi,
                              uint64_t pages, const unsigned char *bytes, struct mmi_section_plan *plan,
                              unsigned max)
{
    unsigned n = 0;
    for (uint64_t i = 0; i < pages;) {
        if (pi[i].prot < 0) {
            i++;
            continue;
        }
        uint64_t j = i + 1;
        while (j < pages && pi[j].prot == pi[i].prot && kind_of(&pi[j]) == kind_of(&pi[i]))
            j++;
        if (n == max)
            return max + 1;
        struct mmi_section_plan *s = &plan[n++];
        *s = (struct mmi_section_plan){
            .base = lo + i * MM_PAGE_SIZE,
            .pages = j - i,
            .flags = ((pi[i].prot & PROT_EXEC) ? MM_SECTION_CODE : 0) | ((pi[i].prot & PROT_WRITE) ? MM_SECTION_WRITE : 0),
            .pageable = kind_of(&pi[i]) == PAGEABLE,
            .discardable = kind_of(&pi[i]) == DISCARDABLE,
            .data = bytes + i * MM_PAGE_SIZE,
        };
        name_run(e, base, s);
        i = j;
    }
    return n;
}

/* ---- taking the pages and giving them back ---- */

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define RAW_ACCESS __attribute__((no_sanitize("address")))
#endif
#endif
#if !defined(RAW_ACCESS) && defined(__SANITIZE_ADDRESS__)
#define RAW_ACCESS __attribute__((no_sanitize_address))
#endif
#ifndef RAW_ACCESS
#define RAW_ACCESS
#endif

/* A whole page of the object, redzones between its globals included (an
 * AddressSanitizer build poisons them; memcpy would be checked). */
RAW_ACCESS static void copy_page(void *to, const void *from)
{
    volatile uint64_t *d = to;
    const volatile uint64_t *s = from;
    for (size_t i = 0; i < MM_PAGE_SIZE / 8; i++)
        d[i] = s[i];
}

/* The loader's bytes, read before the machine's frames replace them. */
static bool copy_out(mm_va lo, const struct page_info *pi, uint64_t pages, unsigned char *bytes)
{
    for (uint64_t i = 0; i < pages; i++) {
        void *at = (void *)(uintptr_t)(lo + i * MM_PAGE_SIZE);
        if (pi[i].prot < 0)
            continue;
        if (!(pi[i].prot & PROT_READ) && mprotect(at, MM_PAGE_SIZE, PROT_READ) != 0)
            return false;
        copy_page(bytes + i * MM_PAGE_SIZE, at);
    }
    return true;
}

/* Maps every run of the image's pages but the host's own (coverage
 * counters a fuzzer reads and clears between inputs, whatever the machine
 * does) anew with prot. */
static bool remap_runs(mm_va lo, const int8_t *prot, uint64_t pages, int protection, int flags)
{
    for (uint64_t i = 0, j; i < pages; i = j) {
        for (j = i; j < pages && prot[j] != HOST_OWN; j++)
            ;
        if (j > i && mmap((void *)(uintptr_t)(lo + i * MM_PAGE_SIZE), (size_t)((j - i) * MM_PAGE_SIZE), protection,
                          flags, -1, 0) == MAP_FAILED)
            return false;
        while (j < pages && prot[j] == HOST_OWN)
            j++;
    }
    return true;
}

/* Ordinary host memory again, with the bytes the machine holds now (its
 * own when a page is gone: discarded INIT, unloaded, paged out), so the
 * loader can run the object's destructors and unmap it. */
static void give_back(mm_machine *m, struct host_image *h)
{
    if (h->given_back)
        return;
    h->given_back = true;
    uint64_t pages = (h->hi - h->lo) / MM_PAGE_SIZE;
    void *at = (void *)(uintptr_t)h->lo;
    if (!remap_runs(h->lo, h->prot, pages, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED)) {
        fputs("mmsim: the host refused to give a driver image's pages back\n", stderr);
        abort();
    }
    static _Thread_local unsigned char now[MM_PAGE_SIZE];
    for (uint64_t i = 0; i < pages; i++) {
        if (h->prot[i] < 0)
            continue;
        bool held = MM_SUCCESS(mm_debug_read(m, NULL, h->lo + i * MM_PAGE_SIZE, now, MM_PAGE_SIZE, NULL));
        copy_page((unsigned char *)at + i * MM_PAGE_SIZE, held ? now : h->bytes + i * MM_PAGE_SIZE);
    }
    for (uint64_t i = 0; i < pages; i++)
        if (h->prot[i] != HOST_OWN)
            mprotect((unsigned char *)at + i * MM_PAGE_SIZE, MM_PAGE_SIZE, h->prot[i] < 0 ? PROT_NONE : h->prot[i]);
}

static void free_record(struct host_image *h)
{
    if (!h)
        return;
    free(h->bytes);
    free(h->prot);
    free(h);
}

void mmi_host_images_release(mm_machine *m)
{
    for (struct mm_image *img = m->image_first; img; img = img->next) {
        struct host_image *h = img->host;
        if (!h)
            continue;
        give_back(m, h);
        dlclose(h->handle);
        free_record(h);
        img->host = NULL;
    }
}

void mmi_host_images_snapshot(mm_machine *m)
{
    for (struct mm_image *img = m->image_first; img; img = img->next)
        if (img->host)
            ((struct host_image *)img->host)->in_snapshot = true;
}

void mmi_host_images_drop_since(mm_machine *m)
{
    for (struct mm_image *img = m->image_first; img; img = img->next) {
        struct host_image *h = img->host;
        if (!h || h->in_snapshot)
            continue;
        give_back(m, h);
        mmi_host_remove_range(m, h->lo);
        dlclose(h->handle);
        free_record(h);
        img->host = NULL;
    }
}

/* The loader's range goes back to the machine: every touch faults into it
 * again, and its frames hold the snapshot's bytes. */
void mmi_host_images_retake(mm_machine *m)
{
    for (struct mm_image *img = m->image_first; img; img = img->next) {
        struct host_image *h = img->host;
        if (!h || !h->given_back)
            continue;
        if (!remap_runs(h->lo, h->prot, (h->hi - h->lo) / MM_PAGE_SIZE, PROT_NONE,
                        MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE)) {
            fputs("mmsim: the host refused to take a driver image's pages back\n", stderr);
            abort();
        }
        h->given_back = false;
    }
}

bool mmi_host_image_give_back_at(mm_machine *m, mm_va va)
{
    for (struct mm_image *img = m->image_first; img; img = img->next) {
        struct host_image *h = img->host;
        if (h && va >= h->lo && va < h->hi) {
            if (h->given_back)
                return false; /* host memory already: the fault is the access's own */
            give_back(m, h);
            return true;
        }
    }
    return false;
}

static bool already_loaded(mm_machine *m, mm_va lo)
{
    for (struct mm_image *img = m->image_first; img; img = img->next)
        if (img->host && ((struct host_image *)img->host)->lo == lo)
            return true;
    return mmi_host_owner(lo) != NULL;
}

static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

/* Everything after dlopen: the pages planned, copied into frames, and the
 * host view put in the loader's place. */
static mm_status adopt(mm_machine *m, const char *path, void *handle, const struct link_map *lm, mm_image **out)
{
    struct phdrs p = {.base = (mm_va)lm->l_addr, .name = lm->l_name};
    mm_va lo, hi;
    if (!dl_iterate_phdr(find_phdrs, &p) || !span_of(&p, &lo, &hi))
        return MM_STATUS_INVALID_IMAGE_FORMAT;
    if (lo < m->layout.system_range_start)
        return MM_STATUS_NOT_SUPPORTED; /* the loader put it where user space is */
    if (already_loaded(m, lo))
        return MM_STATUS_IMAGE_ALREADY_LOADED;
    struct elf_sections e;
    mm_status st = read_sections(lm->l_name && *lm->l_name ? lm->l_name : path, &e);
    uint64_t pages = (hi - lo) / MM_PAGE_SIZE;
    struct page_info *pi = calloc(pages, sizeof *pi);
    struct host_image *h = calloc(1, sizeof *h);
    struct mmi_section_plan plan[32];
    if (MM_SUCCESS(st) && (!pi || !h || !(h->bytes = malloc(pages * MM_PAGE_SIZE)) ||
                           !(h->prot = malloc(pages)))) 
        st = MM_STATUS_INSUFFICIENT_RESOURCES;
    struct mm_image *img = NULL;
    if (MM_SUCCESS(st)) {
        mark_segments(&p, lo, hi, pi);
        mark_sections(&e, p.base, lo, hi, pi);
        for (uint64_t i = 0; i < pages; i++) {
            if (pi[i].fuzzer)
                pi[i].prot = HOST_OWN; /* the machine takes no frame for it */
            h->prot[i] = pi[i].prot;
        }
        unsigned count = plan_sections(&e, p.base, lo, pi, pages, h->bytes, plan, 32);
        if (count == 0 || count > 32)
            st = MM_STATUS_INVALID_IMAGE_FORMAT;
        else if (!copy_out(lo, pi, pages, h->bytes))
            st = MM_STATUS_INSUFFICIENT_RESOURCES;
        else if (!mmi_host_add_range(m, lo, hi))
            st = MM_STATUS_INSUFFICIENT_RESOURCES;
        else
            st = mmi_image_adopt(m, base_name(path), lo, pages, plan, count, &img);
    }
    if (MM_SUCCESS(st)) {
        /* From here every touch faults into the machine, which maps its frames. */
        remap_runs(lo, h->prot, pages, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE);
        h->handle = handle;
        h->lo = lo;
        h->hi = hi;
        img->host = h;
        h = NULL;
        *out = img;
    }
    free_record(h);
    free(pi);
    free(e.sh);
    free(e.names);
    return st;
}

static _Thread_local char last_error[512];

const char *mm_image_load_error(void) { return last_error; }

mm_status mm_image_load_shared_object(mm_machine *m, const char *path, mm_image **out)
{
    last_error[0] = 0;
    MMI_ENTER(m, "MmLoadSystemImage");
    if (!path || !*path || !out)
        return MM_STATUS_INVALID_PARAMETER;
    *out = NULL;
    if (!m->hostview)
        return MM_STATUS_NOT_SUPPORTED;
    if (!mmi_irql_allows(m, MM_PASSIVE_LEVEL, 0))
        return MM_STATUS_MACHINE_DEAD;
    void *handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
        const char *why = dlerror();
        snprintf(last_error, sizeof last_error, "%s", why ? why : "the loader refused it");
        return access(path, F_OK) == 0 ? MM_STATUS_INVALID_IMAGE_FORMAT : MM_STATUS_OBJECT_NAME_NOT_FOUND;
    }
    struct link_map *lm = NULL;
    mm_status st = dlinfo(handle, RTLD_DI_LINKMAP, &lm) == 0 && lm ? adopt(m, path, handle, lm, out)
                                                                 : MM_STATUS_INVALID_IMAGE_FORMAT;
    if (!MM_SUCCESS(st))
        dlclose(handle);
    return st;
}

void *mm_image_symbol(mm_machine *m, mm_image *image, const char *symbol)
{
    if (!m || !symbol)
        return NULL;
    struct mm_image *img = mmi_image_lookup(m, image);
    if (!img || !img->host || img->unloaded)
        return NULL;
    mmi_host_enter(m); /* the caller is about to run the driver's code */
    return dlsym(((struct host_image *)img->host)->handle, symbol);
}

#else /* no host view on this host */

mm_status mm_image_load_shared_object(mm_machine *m, const char *path, mm_image **out)
{
    if (out)
        *out = NULL;
    return m && path && out ? MM_STATUS_NOT_SUPPORTED : MM_STATUS_INVALID_PARAMETER;
}

void *mm_image_symbol(mm_machine *m, mm_image *image, const char *symbol)
{
    (void)m;
    (void)image;
    (void)symbol;
    return NULL;
}

void mmi_host_images_release(mm_machine *m) { (void)m; }
void mmi_host_images_snapshot(mm_machine *m) { (void)m; }
void mmi_host_images_drop_since(mm_machine *m) { (void)m; }
void mmi_host_images_retake(mm_machine *m) { (void)m; }

const char *mm_image_load_error(void) { return ""; }

bool mmi_host_image_give_back_at(mm_machine *m, mm_va va)
{
    (void)m;
    (void)va;
    return false;
}

#endif
