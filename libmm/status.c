/* libmm/status.c — names and meanings of the status codes, from the table. */
#include "mm/status.h"

const char *mm_status_name(mm_status status)
{
    switch ((uint32_t)status) {
#define NAME(name, value, meaning) case (uint32_t)(value): return "STATUS_" #name;
        MM_STATUS_MAP(NAME)
#undef NAME
    }
    return "STATUS_<unknown>";
}

const char *mm_status_meaning(mm_status status)
{
    switch ((uint32_t)status) {
#define MEANING(name, value, meaning) case (uint32_t)(value): return meaning;
        MM_STATUS_MAP(MEANING)
#undef MEANING
    }
    return "unknown status";
}
