/** \file
 * mm/status.h — the NTSTATUS values mmsim returns, from one table that
 * generates the constants and their names. */
#ifndef MM_STATUS_H
#define MM_STATUS_H

#include "mm/types.h"

#ifdef __cplusplus
extern "C" {
#endif

/** \addtogroup status
 *  \{ */

/** X(name, value, meaning) */
#define MM_STATUS_MAP(X) \
    X(SUCCESS, 0x00000000, "the operation succeeded") \
    X(GUARD_PAGE_VIOLATION, 0x80000001, "a guard page was touched; the guard is now cleared") \
    X(UNSUCCESSFUL, 0xC0000001, "the operation failed") \
    X(ACCESS_VIOLATION, 0xC0000005, "the access is not permitted by the page protection or the address is not committed") \
    X(IN_PAGE_ERROR, 0xC0000006, "the page could not be read in") \
    X(INVALID_HANDLE, 0xC0000008, "the object does not belong to this machine or no longer exists") \
    X(INVALID_PARAMETER, 0xC000000D, "an argument is invalid") \
    X(NO_MEMORY, 0xC0000017, "not enough simulated memory or address space") \
    X(CONFLICTING_ADDRESSES, 0xC0000018, "the range overlaps an existing allocation") \
    X(NOT_MAPPED_VIEW, 0xC0000019, "the address is not mapped") \
    X(UNABLE_TO_FREE_VM, 0xC000001A, "the range cannot be freed") \
    X(UNABLE_TO_DELETE_SECTION, 0xC000001B, "a view of a section is removed by unmapping it, not by freeing") \
    X(ACCESS_DENIED, 0xC0000022, "the operation is not allowed on this object") \
    X(BUFFER_TOO_SMALL, 0xC0000023, "the output buffer is too small") \
    X(NOT_COMMITTED, 0xC000002D, "the page is reserved but not committed") \
    X(INVALID_PAGE_PROTECTION, 0xC0000045, "the page protection is invalid") \
    X(SECTION_PROTECTION, 0xC000004E, "the view's protection is not allowed by the section's") \
    X(OBJECT_NAME_NOT_FOUND, 0xC0000034, "no file or object of that name could be opened") \
    X(INVALID_IMAGE_FORMAT, 0xC000007B, "the file is not an image this host can load") \
    X(INSUFFICIENT_RESOURCES, 0xC000009A, "the host could not allocate memory for the model") \
    X(FREE_VM_NOT_AT_BASE, 0xC000009F, "a release must start at the allocation base") \
    X(MEMORY_NOT_ALLOCATED, 0xC00000A0, "no allocation at that address") \
    X(WORKING_SET_QUOTA, 0xC00000A1, "a page is locked too many times (its reference count is at the limit)") \
    X(INVALID_PARAMETER_2, 0xC00000F0, "the second argument is invalid") \
    X(PROCESS_IS_TERMINATING, 0xC000010A, "the process is exiting or has exited") \
    X(IMAGE_ALREADY_LOADED, 0xC000010E, "the image is already loaded") \
    X(COMMITMENT_LIMIT, 0xC000012D, "the commit limit (RAM plus page file) would be exceeded") \
    X(INVALID_ADDRESS, 0xC0000141, "the address is outside the allowed range") \
    X(INVALID_DEVICE_STATE, 0xC0000184, "the object is in a state that does not allow the operation") \
    X(MAPPED_ALIGNMENT, 0xC0000220, "a view's base address must be 64 KiB aligned") \
    X(NOT_SUPPORTED, 0xC00000BB, "this build of mmsim cannot do that (e.g. the hosted layout without the host layer)") \
    X(NOT_FOUND, 0xC0000225, "no such object") \
    X(MACHINE_DEAD, 0xE0000001, "the machine has bug-checked; it is dead and refuses every call")

enum {
#define MM_STATUS_ENUM(name, value, meaning) MM_STATUS_##name = (int32_t)(value),
    MM_STATUS_MAP(MM_STATUS_ENUM)
#undef MM_STATUS_ENUM
};

#define MM_SUCCESS(s) ((mm_status)(s) >= 0)

/** "STATUS_ACCESS_VIOLATION" etc.; "STATUS_<unknown>" for values not in the table. */
MM_API const char *mm_status_name(mm_status status);
/** One line on what the status means, from the table; a static string. */
MM_API const char *mm_status_meaning(mm_status status);

/** \} */

#ifdef __cplusplus
}
#endif
#endif
