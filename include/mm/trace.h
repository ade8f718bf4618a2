/** \file
 * mm/trace.h — the structured event stream: every PFN transition, PTE write,
 * fault, pool operation and bug check, to a callback and a ring buffer.
 * Deterministic: the same calls on the same seed give the same events. */
#ifndef MM_TRACE_H
#define MM_TRACE_H

#include "mm/types.h"

#ifdef __cplusplus
extern "C" {
#endif

/** \addtogroup trace
 *  \{ */

/** X(NAME, meaning of va, pfn, a, b) */
#define MM_EVENT_MAP(X) \
    X(PFN_LIST, "-", "page", "old location", "new location") \
    X(PFN_SHARE, "-", "page", "old share count", "new share count") \
    X(PFN_REF, "-", "page", "old reference count", "new reference count") \
    X(PTE_WRITE, "address mapped", "page-table page", "old PTE", "new PTE") \
    X(FAULT, "address", "page resolved (or none)", "fault kind", "status") \
    X(POOL_ALLOC, "block", "-", "bytes", "tag") \
    X(POOL_FREE, "block", "-", "bytes", "tag") \
    X(VAD, "base", "-", "bytes", "operation (MEM_* type)") \
    X(PROCESS, "EPROCESS", "directory table base", "0 create, 1 exit, 2 closed", "process id") \
    X(ATTACH, "EPROCESS of the new context", "-", "0 attach, 1 detach", "process id") \
    X(IRQL, "-", "-", "old IRQL", "new IRQL") \
    X(IMAGE, "image base", "-", "0 load, 1 discard INIT, 2 unload", "size") \
    X(TRIM, "address", "page", "working-set owner id", "0") \
    X(PAGEFILE, "-", "page", "page-file slot", "0 write, 1 read") \
    X(BUGCHECK, "-", "-", "code", "P1") \
    X(NOTE, "address", "page", "detail", "detail")

typedef enum {
#define MM_EVENT_ENUM(name, va, pfn, a, b) MM_EV_##name,
    MM_EVENT_MAP(MM_EVENT_ENUM)
#undef MM_EVENT_ENUM
    MM_EV_COUNT
} mm_event_type;

struct mm_trace_event {
    uint64_t seq;             /**< 1-based event number */
    uint64_t step;            /**< public operation number that caused it */
    const char *operation;    /**< that operation's name ("mm_pool_free") */
    uint32_t type;            /**< mm_event_type */
    uint32_t cpu;
    uint32_t process_id;      /**< context the event happened in */
    uint32_t reserved;
    mm_va va;
    mm_pfn pfn;
    uint64_t a, b;
};

typedef void (*mm_trace_fn)(void *ctx, const struct mm_trace_event *ev);

/** "PFN_SHARE" … for an mm_event_type; a static string. */
MM_API const char *mm_event_name(uint32_t type);
/** One line, e.g. "#12 step 4 mm_write: PFN_SHARE pfn 0x1a3 1 -> 2". */
MM_API int mm_trace_format(const struct mm_trace_event *ev, char *buf, size_t size);
/** Copies up to max of the most recent events (oldest first) from the ring. */
MM_API size_t mm_trace_read(const mm_machine *m, struct mm_trace_event *out, size_t max);
/** Number of events emitted since creation (the ring keeps the last ones). */
MM_API uint64_t mm_trace_count(const mm_machine *m);

/** \} */

#ifdef __cplusplus
}
#endif
#endif
