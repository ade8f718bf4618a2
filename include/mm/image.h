/** \file
 * mm/image.h — driver images: named sections laid out in system space;
 * resident code/data, pageable PAGE* sections, and an INIT section that is
 * discarded after initialisation (its frames freed, its PTEs invalid). */
#ifndef MM_IMAGE_H
#define MM_IMAGE_H

#include "mm/status.h"
#include "mm/types.h"

#ifdef __cplusplus
extern "C" {
#endif

/** \addtogroup image
 *  \{ */

#define MM_SECTION_CODE 0x1u     /**< executable */
#define MM_SECTION_WRITE 0x2u    /**< writable data */

struct mm_section_desc {
    const char *name;     /**< up to 8 characters: ".text", "PAGE", "INIT" … */
    uint32_t size;        /**< bytes (> 0) */
    uint32_t flags;       /**< MM_SECTION_* */
    const void *data;     /**< initial contents, or NULL for zeros */
    size_t data_size;     /**< <= size */
};

struct mm_section_info {
    char name[9];
    mm_va base;
    uint32_t size;
    uint32_t flags;
    bool pageable;        /**< PAGE* */
    bool discardable;     /**< INIT */
    bool discarded;
};

struct mm_image_info {
    char name[32];
    mm_va base;
    uint64_t size;
    unsigned section_count;
    bool init_discarded;
    bool unloaded;
};

/** Loads a driver image named name with count sections into system space
 * (MmLoadSystemImage) and stores it in *out.
 * \windows MmLoadSystemImage
 * \ownership The image stays known (mm_image_at()) after mm_image_unload();
 * the machine frees it.
 * \errors MM_STATUS_INVALID_PARAMETER for a bad section description. */
MM_API mm_status mm_image_load(mm_machine *m, const char *name, const struct mm_section_desc *sections,
                               unsigned count, mm_image **out);
/** Loads a driver built as a shared object (hosted layout, Linux): the
 * host's loader maps and relocates it, then its pages are copied into frames
 * of the machine and every later touch goes through the simulated MMU at the
 * address the code runs at. Sections named INIT are discardable, PAGE* are
 * pageable, the rest is resident; see docs/hosted.md for naming sections
 * from C and keeping them on pages of their own.
 * \windows MmLoadSystemImage
 * \ownership The machine gives the pages back and unloads the object when
 * it is destroyed; call the driver through mm_image_symbol().
 * \errors MM_STATUS_NOT_SUPPORTED without a host view, or when the loader
 * placed the object below MmSystemRangeStart;
 * MM_STATUS_OBJECT_NAME_NOT_FOUND, MM_STATUS_INVALID_IMAGE_FORMAT,
 * MM_STATUS_IMAGE_ALREADY_LOADED. */
MM_API mm_status mm_image_load_shared_object(mm_machine *m, const char *path, mm_image **out);
/** Why the host's loader refused the last mm_image_load_shared_object() of
 * this thread (an unresolved routine's name, a file that is not an object),
 * or "". */
MM_API const char *mm_image_load_error(void);
/** The address of a symbol the shared-object image exports (dlsym), or NULL
 * (not found, not a shared-object image, unloaded). */
MM_API void *mm_image_symbol(mm_machine *m, mm_image *img, const char *symbol);
/** Called when DriverEntry returns: frees the INIT section. */
MM_API mm_status mm_image_discard_init(mm_machine *m, mm_image *img);
/** MmUnloadSystemImage: frees the image's pages; its address range is
 * remembered for bug checks that name an unloaded driver.
 * \windows MmUnloadSystemImage */
MM_API mm_status mm_image_unload(mm_machine *m, mm_image *img);
/** A snapshot of the image (lm). */
MM_API mm_status mm_image_query(mm_machine *m, mm_image *img, struct mm_image_info *out);
/** A snapshot of the image's section number index (0-based).
 * \errors MM_STATUS_NOT_FOUND for an index past the last section. */
MM_API mm_status mm_image_section(mm_machine *m, mm_image *img, unsigned index, struct mm_section_info *out);
/** Address of the named section, or 0. */
MM_API mm_va mm_image_section_address(mm_machine *m, mm_image *img, const char *name);
/** The image containing va (loaded or unloaded), or NULL. */
MM_API mm_image *mm_image_at(mm_machine *m, mm_va va);

/** \} */

#ifdef __cplusplus
}
#endif
#endif
